// The Lambda entry as deployed: configuration from the environment, the API key from Secrets Manager,
// the SDK clients through AWS_ENDPOINT_URL. Real parts: the Cortex emulator, fauxqs (S3, SQS) and a
// minimal Secrets Manager endpoint (fauxqs has none) answering GetSecretValue over the SDK's protocol.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../local/aws-endpoint.ts";
import { type CortexEmulator, startCortexEmulator } from "../../local/emulator/index.ts";
import { type AwsHarness, drainQueue, startAwsHarness } from "../support/aws.ts";
import { lambdaContext } from "../support/lambda-context.ts";

const SECRET_ARN = "arn:aws:secretsmanager:us-east-1:000000000000:secret:cortex-api-key";

let aws: AwsHarness;
let emulator: CortexEmulator;
let secrets: Server;
let pipeline: Awaited<ReturnType<AwsHarness["createPipeline"]>>;
const savedEnv = { ...process.env };

beforeAll(async () => {
  aws = await startAwsHarness();
  emulator = await startCortexEmulator({ incidents: 120 });
  pipeline = await aws.createPipeline();
  const secretString = JSON.stringify({
    apiKey: emulator.keys.standard.key,
    apiKeyId: emulator.keys.standard.id,
    authType: "standard",
  });
  secrets = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => {
      body += chunk;
    });
    request.on("end", () => {
      const target = request.headers["x-amz-target"];
      const { SecretId } = JSON.parse(body) as { SecretId?: string };
      response.setHeader("Content-Type", "application/x-amz-json-1.1");
      if (target !== "secretsmanager.GetSecretValue" || SecretId !== SECRET_ARN) {
        response.statusCode = 400;
        response.end(JSON.stringify({ __type: "ResourceNotFoundException", message: `no ${SecretId}` }));
        return;
      }
      response.end(JSON.stringify({ ARN: SECRET_ARN, Name: "cortex-api-key", SecretString: secretString }));
    });
  });
  await new Promise<void>((resolve) => secrets.listen(0, "127.0.0.1", resolve));

  Object.assign(process.env, {
    AWS_ENDPOINT_URL: aws.endpoint.url,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: `http://127.0.0.1:${(secrets.address() as AddressInfo).port}`,
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    ARCHIVE_BUCKET: pipeline.bucket,
    INCIDENT_QUEUE_URL: pipeline.queueUrl,
    CORTEX_SECRET_ARN: SECRET_ARN,
    CORTEX_API_URL: emulator.url,
    CORTEX_PRODUCT: "xdr",
    FIRST_RUN_LOOKBACK_MINUTES: String(24 * 60),
  });
});

afterAll(async () => {
  process.env = savedEnv;
  await new Promise<void>((resolve) => secrets?.close(() => resolve()));
  await emulator?.close();
  await aws?.close();
});

describe("poller Lambda handler", () => {
  it("polls the tenant with the key from Secrets Manager, queues the backlog, logs and publishes metrics without the key", async () => {
    const output: string[] = [];
    const write = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      output.push(String(chunk));
      return true;
    });
    try {
      const { handler } = await import("../../functions/poller/handler.ts");
      const summary = await handler(
        { "detail-type": "Scheduled Event" },
        lambdaContext(Date.now, 60_000, "poller"),
      );

      expect(summary).toMatchObject({ incidentsSeen: 120, messagesSent: 120, stoppedEarly: false });
      expect(await drainQueue(pipeline.sqs, pipeline.queueUrl)).toHaveLength(120);

      const again = await handler({}, lambdaContext(Date.now, 60_000, "poller"));
      expect(again.cursorBefore).toEqual(summary.cursorAfter);
      expect(again.messagesSent).toBe(0);
    } finally {
      write.mockRestore();
    }

    const lines = output.join("").split("\n").filter(Boolean);
    const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const emf = records.filter((r) => "_aws" in r && "MessagesSent" in r);
    expect(emf.map((r) => r.MessagesSent)).toEqual([120, 0]);
    expect(records.some((r) => r.message === "Page queued" && r.function_request_id !== undefined)).toBe(
      true,
    );
    expect(output.join("")).not.toContain(emulator.keys.standard.key);
  });
});
