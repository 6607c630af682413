// The runner's topic and notification inbox on the embedded AWS endpoint, one endpoint per test file:
// publish as the enricher does (MessageStructure json) and see what `npm start` would show of it.
import { PublishCommand, type PublishCommandInput } from "@aws-sdk/client-sns";
import { afterAll, beforeAll } from "vitest";
import {
  type EmbeddedAwsEndpoint,
  localAwsClients,
  startEmbeddedAwsEndpoint,
} from "../../local/aws-endpoint.ts";
import { type LocalResourceNames, provisionLocalResources } from "../../local/runner/aws-resources.ts";
import { NotificationInbox, type NotificationPreview } from "../../local/runner/notifications.ts";

export function runnerTopicPerFile() {
  let endpoint: EmbeddedAwsEndpoint | undefined;
  beforeAll(async () => {
    endpoint = await startEmbeddedAwsEndpoint();
  });
  afterAll(async () => {
    await endpoint?.close();
  });
  /** The runner's resources (named `names`, else the runner's own names) and its inbox, collecting previews. */
  return async (names?: LocalResourceNames) => {
    if (endpoint === undefined) throw new Error("the endpoint starts in beforeAll: call this in a test");
    const clients = localAwsClients(endpoint.url);
    const resources = await provisionLocalResources({
      ...clients,
      ...(names === undefined ? {} : { names }),
      visibilityTimeoutSeconds: 30,
      maxReceiveCount: 5,
    });
    const seen: NotificationPreview[] = [];
    const inbox = new NotificationInbox(clients.sqs, resources.notificationInboxUrl, (preview) =>
      seen.push(preview),
    );
    return {
      clients,
      resources,
      inbox,
      seen,
      /** A structured publish to the topic, as the enricher makes it. */
      publish: (input: Omit<PublishCommandInput, "TopicArn" | "MessageStructure">) =>
        clients.sns.send(
          new PublishCommand({ TopicArn: resources.topicArn, MessageStructure: "json", ...input }),
        ),
    };
  };
}
