// API key verification as the real service does it: standard keys by equality, advanced keys by
// recomputing sha256(key + nonce + timestamp), within ±5 minutes of the server clock, each nonce once.
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { createRandom } from "./random.ts";
import type { EmulatorKey, EmulatorKeyOption, KeyEntitlements } from "./types.ts";

export const ADVANCED_TIMESTAMP_TOLERANCE_MS = 5 * 60 * 1000;

export type AuthOutcome =
  | { ok: true; keyId: string }
  | { ok: false; status: 401 | 402 | 403; keyId: string | undefined; reason: string };

interface KeyRecord extends EmulatorKey {
  entitlements: Required<KeyEntitlements>;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** One standard and one advanced key, 128 characters like real ones, fixed by the seed. */
export function generatedKeys(seed: string): [EmulatorKey, EmulatorKey] {
  const random = createRandom(seed, "keys");
  return [
    { id: String(random.int(1, 99)), key: random.alphanumeric(128), type: "standard" },
    { id: String(random.int(100, 199)), key: random.alphanumeric(128), type: "advanced" },
  ];
}

export class KeyVerifier {
  private readonly keys = new Map<string, KeyRecord>();
  /** Nonces seen with their timestamp; forgotten once outside the tolerance window (they would fail anyway). */
  private readonly seenNonces = new Map<string, number>();

  constructor(keys: readonly EmulatorKeyOption[]) {
    for (const { license, permission, ...key } of keys) {
      this.keys.set(key.id, {
        ...key,
        entitlements: { license: license ?? true, permission: permission ?? true },
      });
    }
  }

  list(): EmulatorKey[] {
    return [...this.keys.values()].map(({ id, key, type }) => ({ id, key, type }));
  }

  setEntitlements(keyId: string, entitlements: KeyEntitlements): void {
    const record = this.keys.get(keyId);
    if (record === undefined) throw new RangeError(`The emulator has no key with id ${keyId}`);
    record.entitlements = { ...record.entitlements, ...entitlements };
  }

  /** `serverNow` already includes any clock-skew fault. */
  verify(headers: IncomingHttpHeaders, serverNow: number): AuthOutcome {
    const keyId = header(headers, "x-xdr-auth-id");
    const presented = header(headers, "authorization");
    if (keyId === undefined || presented === undefined) {
      return { ok: false, status: 401, keyId, reason: "missing Authorization or x-xdr-auth-id header" };
    }
    const record = this.keys.get(keyId);
    if (record === undefined) return { ok: false, status: 401, keyId, reason: "unknown key id" };
    if (record.type === "standard") {
      if (!sameText(presented, record.key)) return { ok: false, status: 401, keyId, reason: "wrong key" };
    } else {
      const nonce = header(headers, "x-xdr-nonce");
      const timestamp = header(headers, "x-xdr-timestamp");
      if (nonce === undefined || timestamp === undefined || nonce.length === 0) {
        return { ok: false, status: 401, keyId, reason: "missing x-xdr-nonce or x-xdr-timestamp header" };
      }
      const expected = createHash("sha256")
        .update(record.key + nonce + timestamp)
        .digest("hex");
      if (!sameText(presented.toLowerCase(), expected))
        return { ok: false, status: 401, keyId, reason: "wrong key" };
      const sentAt = Number(timestamp);
      if (!Number.isFinite(sentAt) || Math.abs(serverNow - sentAt) > ADVANCED_TIMESTAMP_TOLERANCE_MS) {
        return { ok: false, status: 401, keyId, reason: "timestamp outside the allowed clock skew" };
      }
      this.forgetOldNonces(serverNow);
      const nonceKey = `${keyId}:${nonce}`;
      if (this.seenNonces.has(nonceKey))
        return { ok: false, status: 401, keyId, reason: "nonce already used" };
      this.seenNonces.set(nonceKey, sentAt);
    }
    if (!record.entitlements.license) return { ok: false, status: 402, keyId, reason: "no license" };
    if (!record.entitlements.permission)
      return { ok: false, status: 403, keyId, reason: "no RBAC permission" };
    return { ok: true, keyId };
  }

  private forgetOldNonces(serverNow: number): void {
    for (const [nonce, sentAt] of this.seenNonces) {
      if (serverNow - sentAt > ADVANCED_TIMESTAMP_TOLERANCE_MS) this.seenNonces.delete(nonce);
    }
  }
}
