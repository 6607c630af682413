// The queue between poller and enricher, with the dead-letter queue that keeps what failed every retry.
import { Duration } from "aws-cdk-lib";
import * as sqs from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import type { PipelineConfig } from "../config.ts";
import { secureQueueProps } from "./secure-defaults.ts";

/** Visibility must cover every retry of a batch inside one invocation: AWS recommends 6x the function timeout. */
export const VISIBILITY_TIMEOUT_FACTOR = 6;

export class IncidentQueue {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;

  /** Built in the pipeline's own scope, so the queues keep the logical IDs deployed stacks have. */
  constructor(scope: Construct, config: PipelineConfig, consumerTimeout: Duration) {
    this.deadLetterQueue = new sqs.Queue(scope, "DeadLetterQueue", secureQueueProps());
    this.queue = new sqs.Queue(scope, "IncidentQueue", {
      ...secureQueueProps(),
      visibilityTimeout: Duration.seconds(consumerTimeout.toSeconds() * VISIBILITY_TIMEOUT_FACTOR),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: config.dlqMaxReceiveCount },
    });
  }
}
