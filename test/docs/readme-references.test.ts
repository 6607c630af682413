// The READMEs name files, folders and sections of this repository: every one must exist, so a rename or a
// deletion that leaves a README behind fails here. Checked: relative Markdown links (and their #anchors),
// backticked paths under a top-level folder of the repository, and backticked file names (somewhere in it).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const SKIPPED = new Set(["node_modules", ".git", "cdk.out", "test-results"]);
const TOP_LEVEL = ["bin/", "lib/", "functions/", "local/", "test/", "bench/", "config/", "scripts/", ".ci/"];
const FILE_NAME = /^[\w.-]+\.(ts|md|json|sh)$/;

function repositoryFiles(dir = ROOT): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (SKIPPED.has(entry.name)) return [];
    const path = join(dir, entry.name);
    return entry.isDirectory() ? repositoryFiles(path) : [relative(ROOT, path)];
  });
}

const files = repositoryFiles();
const readmes = files.filter((file) => file.endsWith(".md"));
const names = new Set(files.flatMap((file) => file.split("/")));

function exists(path: string): boolean {
  try {
    statSync(join(ROOT, path));
    return true;
  } catch {
    return false;
  }
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, "")
    .replace(/ /g, "-");
}

function anchorsOf(markdown: string): Set<string> {
  const prose = markdown.replace(/```[\s\S]*?```/g, "");
  return new Set([...prose.matchAll(/^#{1,6} (.+)$/gm)].map((match) => anchorOf(match[1] ?? "")));
}

/** What one README names that is not there. */
function brokenReferences(readme: string): string[] {
  const text = readFileSync(join(ROOT, readme), "utf8");
  const prose = text.replace(/```[\s\S]*?```/g, "");
  const broken: string[] = [];
  for (const [, target = ""] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
    if (/^(https?:|mailto:)/.test(target)) continue;
    const [path = "", anchor] = target.split("#");
    const file = path === "" ? readme : join(dirname(readme), path);
    if (!exists(file)) broken.push(`link ${target}`);
    else if (anchor !== undefined && file.endsWith(".md")) {
      if (!anchorsOf(readFileSync(join(ROOT, file), "utf8")).has(anchor)) broken.push(`anchor ${target}`);
    }
  }
  for (const [, token = ""] of prose.matchAll(/`([^`\s]+)`/g)) {
    const path = token.replace(/[:#].*$/, "");
    if (TOP_LEVEL.some((folder) => path.startsWith(folder)) && /^[\w./-]+$/.test(path)) {
      if (!exists(path)) broken.push(`path ${token}`);
    } else if (FILE_NAME.test(path) && !names.has(path)) {
      broken.push(`file name ${token}`);
    }
  }
  return broken;
}

describe("the READMEs", () => {
  it("are found", () => {
    expect(readmes).toContain("README.md");
    expect(readmes.length).toBeGreaterThan(10);
  });

  it.each(readmes)("%s names only files, folders and sections that exist", (readme) => {
    expect(brokenReferences(readme)).toEqual([]);
  });

  it("keep the top README short enough to read first (about 250 lines at most)", () => {
    expect(readFileSync(join(ROOT, "README.md"), "utf8").split("\n").length).toBeLessThanOrEqual(255);
  });
});
