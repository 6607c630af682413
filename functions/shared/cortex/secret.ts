// Reads the Cortex API key from Secrets Manager (JSON {"apiKey","apiKeyId","authType"}) through Powertools'
// cached getSecret. Errors name the fields that are wrong, never their values.
import { getSecret } from "@aws-lambda-powertools/parameters/secrets";
import { z } from "zod";
import type { CortexCredentials } from "./api.ts";
import { CortexConfigurationError } from "./errors.ts";
import { CORTEX_AUTH_TYPES } from "./vocabulary.ts";

export type FetchSecret = (secretArn: string, options: { maxAge: number }) => Promise<unknown>;

export interface CredentialsProviderOptions {
  /** Seconds a fetched secret is reused before Secrets Manager is asked again; default 300. */
  maxAgeSeconds?: number;
  /** Defaults to Powertools getSecret (which caches); injectable for tests. */
  fetchSecret?: FetchSecret;
}

const credentialsSchema = z.object({
  apiKey: z.string().trim().min(1),
  // Key ids are small integers; a JSON number is accepted and used as its string form.
  apiKeyId: z.union([z.string().trim().min(1), z.number().int().nonnegative().transform(String)]),
  authType: z.enum(CORTEX_AUTH_TYPES),
});

const FIELD_HINTS: Readonly<Record<string, string>> = {
  apiKey: "a non-empty string",
  apiKeyId: "a non-empty string (the key's ID column in Cortex)",
  authType: '"standard" or "advanced"',
};

const defaultFetch: FetchSecret = (secretArn, { maxAge }) => getSecret(secretArn, { maxAge });

/** Parses a secret's contents into credentials; the message lists bad fields only. */
export function parseCredentials(secret: unknown, secretArn: string): CortexCredentials {
  let json: unknown = secret;
  if (secret instanceof Uint8Array) json = Buffer.from(secret).toString("utf8");
  if (typeof json === "string") {
    try {
      json = JSON.parse(json);
    } catch {
      throw new CortexConfigurationError(
        `Secret ${secretArn} is not JSON: store {"apiKey": ..., "apiKeyId": ..., "authType": "standard"|"advanced"}`,
      );
    }
  }
  const parsed = credentialsSchema.safeParse(json);
  if (!parsed.success) {
    const fields = [...new Set(parsed.error.issues.map((issue) => String(issue.path[0] ?? "")))];
    const problems = fields.map((field) =>
      field === "" ? "the secret must be a JSON object" : `${field} must be ${FIELD_HINTS[field] ?? "valid"}`,
    );
    throw new CortexConfigurationError(
      `Secret ${secretArn} is not usable Cortex credentials: ${problems.join("; ")}`,
    );
  }
  return parsed.data;
}

/** A credentials function for CortexClient: cached fetch, validated on every use. */
export function createCredentialsProvider(
  secretArn: string,
  options: CredentialsProviderOptions = {},
): () => Promise<CortexCredentials> {
  const maxAge = options.maxAgeSeconds ?? 300;
  const fetchSecret = options.fetchSecret ?? defaultFetch;
  return async () => parseCredentials(await fetchSecret(secretArn, { maxAge }), secretArn);
}
