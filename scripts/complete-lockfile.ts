// Adds lockfile entries for Biome's platform binaries that the package registry reachable here does not
// serve (darwin, win32, android, some musl builds). Without them `npm ci` refuses the lockfile as out of
// sync; with them it skips the entries whose os/cpu/libc do not match, as with any optional binary.
// Run after any `npm install` that rewrites package-lock.json: node scripts/complete-lockfile.ts
import { readFileSync, writeFileSync } from "node:fs";

const PLATFORMS: Record<string, { os: string; cpu: string; libc?: string }> = {
  "cli-android-arm64": { os: "android", cpu: "arm64" },
  "cli-android-x64": { os: "android", cpu: "x64" },
  "cli-darwin-arm64": { os: "darwin", cpu: "arm64" },
  "cli-darwin-x64": { os: "darwin", cpu: "x64" },
  "cli-linux-arm64": { os: "linux", cpu: "arm64", libc: "glibc" },
  "cli-linux-arm64-musl": { os: "linux", cpu: "arm64", libc: "musl" },
  "cli-linux-x64": { os: "linux", cpu: "x64", libc: "glibc" },
  "cli-linux-x64-musl": { os: "linux", cpu: "x64", libc: "musl" },
  "cli-win32-arm64": { os: "win32", cpu: "arm64" },
  "cli-win32-x64": { os: "win32", cpu: "x64" },
};

type LockEntry = Record<string, unknown> & { optionalDependencies?: Record<string, string> };
const file = process.argv[2] ?? "package-lock.json";
const lock = JSON.parse(readFileSync(file, "utf8")) as { packages: Record<string, LockEntry> };
const biome = lock.packages["node_modules/@biomejs/biome"];
let added = 0;
for (const [name, version] of Object.entries(biome?.optionalDependencies ?? {})) {
  const key = `node_modules/${name}`;
  const platform = PLATFORMS[name.replace("@biomejs/", "")];
  if (lock.packages[key] || !platform) continue;
  lock.packages[key] = {
    version,
    cpu: [platform.cpu],
    dev: true,
    ...(platform.libc ? { libc: [platform.libc] } : {}),
    license: "MIT OR Apache-2.0",
    optional: true,
    os: [platform.os],
    engines: { node: ">=14.21.3" },
  };
  added++;
}
const entries = Object.entries(lock.packages).sort(([a], [b]) =>
  a === "" ? -1 : b === "" ? 1 : a < b ? -1 : 1,
);
lock.packages = Object.fromEntries(entries);
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`${file}: ${added} Biome platform entries added`);
