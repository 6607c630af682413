// Topics: incidents for people and programs, operations for the pipeline's alarms.
import * as kms from "aws-cdk-lib/aws-kms";
import * as sns from "aws-cdk-lib/aws-sns";
import * as subscriptions from "aws-cdk-lib/aws-sns-subscriptions";
import type { Construct } from "constructs";
import type { PipelineConfig } from "../config.ts";
import { secureTopicProps } from "./secure-defaults.ts";

export class PipelineTopics {
  readonly incidentTopic: sns.Topic;
  /** The incident topic's customer-managed key, when configured: its publisher needs a grant on it. */
  readonly incidentTopicKey?: kms.IKey;
  readonly operationsTopic: sns.Topic;
  /** The operations topic's customer-managed key, when configured (only CloudWatch alarms publish to it). */
  readonly operationsTopicKey?: kms.IKey;

  /** Built in the pipeline's own scope, so the topics (and their confirmed subscriptions) keep their logical IDs. */
  constructor(scope: Construct, config: PipelineConfig) {
    const incident = subscribedTopic(scope, "IncidentTopic", {
      displayName: "Cortex incidents",
      kmsKeyArn: config.incidentTopicKmsKeyArn,
      emails: config.notificationEmails,
      smsNumbers: config.notificationSmsNumbers,
    });
    this.incidentTopic = incident.topic;
    this.incidentTopicKey = incident.key;
    const operations = subscribedTopic(scope, "OperationsTopic", {
      displayName: "Cortex incident export operations",
      kmsKeyArn: config.operationsTopicKmsKeyArn,
      emails: config.operationsEmails,
      smsNumbers: [],
    });
    this.operationsTopic = operations.topic;
    this.operationsTopicKey = operations.key;
  }
}

interface TopicOptions {
  displayName: string;
  kmsKeyArn: string | undefined;
  emails: readonly string[];
  smsNumbers: readonly string[];
}

/** A secure topic `<id>` (its key `<id>Key` when an ARN is given) with its email and SMS subscriptions. */
function subscribedTopic(scope: Construct, id: string, options: TopicOptions) {
  const key = options.kmsKeyArn ? kms.Key.fromKeyArn(scope, `${id}Key`, options.kmsKeyArn) : undefined;
  const topic = new sns.Topic(scope, id, {
    ...secureTopicProps(),
    displayName: options.displayName,
    masterKey: key,
  });
  for (const email of options.emails) topic.addSubscription(new subscriptions.EmailSubscription(email));
  for (const phone of options.smsNumbers) topic.addSubscription(new subscriptions.SmsSubscription(phone));
  return { topic, key };
}
