// The embedded AWS endpoint: fauxqs (SQS, SNS and S3 on one port), bound to 127.0.0.1 only.
// fauxqs's own startFauxqs() listens on every interface, so we build the app and listen ourselves.
import { S3Client } from "@aws-sdk/client-s3";
import { SNSClient } from "@aws-sdk/client-sns";
import { SQSClient } from "@aws-sdk/client-sqs";
import { buildApp } from "fauxqs";

export const LOCAL_REGION = "us-east-1";
/** fauxqs accepts any signature; these are placeholders, never real credentials. */
export const LOCAL_CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" } as const;

export interface EmbeddedAwsEndpoint {
  /** http://127.0.0.1:<port>, to pass as the SDK's `endpoint` (or AWS_ENDPOINT_URL). */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startEmbeddedAwsEndpoint(
  options: { port?: number } = {},
): Promise<EmbeddedAwsEndpoint> {
  const app = buildApp({ logger: false, defaultRegion: LOCAL_REGION });
  const address = await app.listen({ host: "127.0.0.1", port: options.port ?? 0 });
  const port = Number(new URL(address).port);
  // Queue URLs returned by CreateQueue must point back at this listener.
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    port,
    close: async () => {
      await app.close();
    },
  };
}

/** SDK clients pointed at an endpoint URL (embedded or AWS_ENDPOINT_URL); S3 path-style so no DNS is needed. */
export function localAwsClients(endpointUrl: string) {
  const common = { endpoint: endpointUrl, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
  return {
    s3: new S3Client({ ...common, forcePathStyle: true }),
    sqs: new SQSClient(common),
    sns: new SNSClient(common),
  };
}
