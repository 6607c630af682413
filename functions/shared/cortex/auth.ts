// Cortex API authentication headers. Built afresh for every HTTP attempt: the server rejects reused advanced nonces.
import { createHash, randomBytes } from "node:crypto";
import type { CortexCredentials } from "./api.ts";

const NONCE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const NONCE_LENGTH = 64;
// Largest multiple of 62 below 256: bytes at or above it are discarded so every character is equally likely.
const UNBIASED_BYTE_LIMIT = 256 - (256 % NONCE_ALPHABET.length);

export interface AuthEntropy {
  /** Epoch milliseconds; defaults to Date.now. */
  now?: () => number;
  /** Cryptographic random bytes; defaults to node:crypto randomBytes. */
  randomBytes?: (size: number) => Uint8Array;
}

/** A 64-character alphanumeric nonce drawn from cryptographic randomness without modulo bias. */
export function createNonce(random: (size: number) => Uint8Array = randomBytes): string {
  let nonce = "";
  while (nonce.length < NONCE_LENGTH) {
    for (const byte of random(NONCE_LENGTH)) {
      if (byte < UNBIASED_BYTE_LIMIT && nonce.length < NONCE_LENGTH) {
        nonce += NONCE_ALPHABET[byte % NONCE_ALPHABET.length];
      }
    }
  }
  return nonce;
}

/** The headers that authenticate one request with a standard or an advanced API key. */
export function authHeaders(
  credentials: CortexCredentials,
  entropy: AuthEntropy = {},
): Record<string, string> {
  if (credentials.authType === "standard") {
    return { Authorization: credentials.apiKey, "x-xdr-auth-id": credentials.apiKeyId };
  }
  const nonce = createNonce(entropy.randomBytes);
  // The server expects whole seconds expressed in milliseconds.
  const timestamp = String(Math.floor((entropy.now ?? Date.now)() / 1000) * 1000);
  const signature = createHash("sha256")
    .update(credentials.apiKey + nonce + timestamp)
    .digest("hex");
  return {
    Authorization: signature,
    "x-xdr-auth-id": credentials.apiKeyId,
    "x-xdr-nonce": nonce,
    "x-xdr-timestamp": timestamp,
  };
}
