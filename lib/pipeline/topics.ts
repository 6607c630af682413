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
    this.incidentTopicKey = config.incidentTopicKmsKeyArn
      ? kms.Key.fromKeyArn(scope, "IncidentTopicKey", config.incidentTopicKmsKeyArn)
      : undefined;
    this.incidentTopic = new sns.Topic(scope, "IncidentTopic", {
      ...secureTopicProps(),
      displayName: "Cortex incidents",
      masterKey: this.incidentTopicKey,
    });
    for (const email of config.notificationEmails) {
      this.incidentTopic.addSubscription(new subscriptions.EmailSubscription(email));
    }
    for (const phone of config.notificationSmsNumbers) {
      this.incidentTopic.addSubscription(new subscriptions.SmsSubscription(phone));
    }

    this.operationsTopicKey = config.operationsTopicKmsKeyArn
      ? kms.Key.fromKeyArn(scope, "OperationsTopicKey", config.operationsTopicKmsKeyArn)
      : undefined;
    this.operationsTopic = new sns.Topic(scope, "OperationsTopic", {
      ...secureTopicProps(),
      displayName: "Cortex incident export operations",
      masterKey: this.operationsTopicKey,
    });
    for (const email of config.operationsEmails) {
      this.operationsTopic.addSubscription(new subscriptions.EmailSubscription(email));
    }
  }
}
