// The Lambda entry point: configuration read once at cold start, a clear error naming what is missing.
import { afterEach, describe, expect, it, vi } from "vitest";

const VALID_ENVIRONMENT = {
  ARCHIVE_BUCKET: "archive-bucket",
  INCIDENT_QUEUE_URL: "http://127.0.0.1:1/000000000000/incidents",
  INCIDENT_TOPIC_ARN: "arn:aws:sns:us-east-1:000000000000:incidents",
  CORTEX_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:000000000000:secret:cortex",
  CORTEX_API_URL: "http://127.0.0.1:1",
  CORTEX_PRODUCT: "xdr",
  AWS_REGION: "us-east-1",
  POWERTOOLS_LOG_LEVEL: "SILENT",
};

afterEach(() => {
  vi.unstubAllEnvs();
  vi.resetModules();
});

describe("enricher Lambda entry point", () => {
  it("fails the cold start naming every missing or malformed variable", async () => {
    for (const [name, value] of Object.entries(VALID_ENVIRONMENT)) vi.stubEnv(name, value);
    vi.stubEnv("INCIDENT_TOPIC_ARN", undefined);
    vi.stubEnv("NOTIFY_MIN_SEVERITY", "urgent");
    const loading = import("../../functions/enricher/handler.ts");
    await expect(loading).rejects.toThrow(/INCIDENT_TOPIC_ARN/);
    await expect(loading).rejects.toThrow(/NOTIFY_MIN_SEVERITY/);
  });

  it("starts with a valid environment and answers an empty batch without calling anything", async () => {
    for (const [name, value] of Object.entries(VALID_ENVIRONMENT)) vi.stubEnv(name, value);
    const { handler } = await import("../../functions/enricher/handler.ts");
    const context = { getRemainingTimeInMillis: () => 60_000 } as Parameters<typeof handler>[1];
    await expect(handler({ Records: [] }, context)).resolves.toEqual({ batchItemFailures: [] });
  });
});
