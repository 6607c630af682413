// There is no Secrets Manager emulator here (fauxqs covers SQS, SNS and S3 only), so the secret fetch is
// injected; the default path is Powertools' cached getSecret.
import { describe, expect, it } from "vitest";
import { CortexConfigurationError } from "../../../functions/shared/cortex/errors.ts";
import { createCredentialsProvider } from "../../../functions/shared/cortex/secret.ts";

const ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:cortex-api-key-AbCdEf";

function providerOf(secret: unknown) {
  const calls: { arn: string; maxAge: number }[] = [];
  const provider = createCredentialsProvider(ARN, {
    maxAgeSeconds: 120,
    fetchSecret: async (arn, { maxAge }) => {
      calls.push({ arn, maxAge });
      return secret;
    },
  });
  return { provider, calls };
}

async function failure(secret: unknown): Promise<Error> {
  try {
    await providerOf(secret).provider();
  } catch (error) {
    if (error instanceof CortexConfigurationError) return error;
    throw error;
  }
  throw new Error("expected the secret to be rejected");
}

describe("createCredentialsProvider", () => {
  it("reads the JSON secret through the fetcher with the cache age", async () => {
    const { provider, calls } = providerOf(
      JSON.stringify({ apiKey: "secret-key-value", apiKeyId: 17, authType: "advanced" }),
    );
    expect(await provider()).toEqual({ apiKey: "secret-key-value", apiKeyId: "17", authType: "advanced" });
    expect(calls).toEqual([{ arn: ARN, maxAge: 120 }]);
  });

  it("accepts a binary secret", async () => {
    const bytes = new TextEncoder().encode(
      JSON.stringify({ apiKey: "k", apiKeyId: "1", authType: "standard" }),
    );
    expect((await providerOf(bytes).provider()).authType).toBe("standard");
  });

  it("names missing and invalid fields without revealing any value", async () => {
    const error = await failure(JSON.stringify({ apiKey: "", apiKeyId: "3", authType: "hmac-super-secret" }));
    expect(error.message).toContain("apiKey must be a non-empty string");
    expect(error.message).toContain('authType must be "standard" or "advanced"');
    expect(error.message).not.toContain("apiKeyId");
    expect(error.message).not.toContain("hmac-super-secret");

    const missing = await failure(JSON.stringify({ authType: "standard" }));
    expect(missing.message).toContain("apiKey must be");
    expect(missing.message).toContain("apiKeyId must be");
  });

  it("says the secret is not JSON without echoing it", async () => {
    const error = await failure("plain-text-api-key-0123");
    expect(error.message).toContain("is not JSON");
    expect(error.message).not.toContain("plain-text-api-key-0123");
  });
});
