// The queue between poller and enricher, with the dead-letter queue that keeps what failed every retry,
// and the priority lane's queue of hints.
import { Duration, Validations } from "aws-cdk-lib";
import * as sqs from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import { PRIORITY_HINT_RETENTION_SECONDS } from "../../functions/shared/queue-message.ts";
import type { PipelineConfig } from "../config.ts";
import { secureQueueProps } from "./secure-defaults.ts";

/** Visibility must cover every retry of a batch inside one invocation: AWS recommends 6x the function timeout. */
export const VISIBILITY_TIMEOUT_FACTOR = 6;

export class IncidentQueue {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  /** The priority lane's hints: copies of high-severity messages, drained by the enricher before each API call. */
  readonly priorityQueue: sqs.Queue;

  /** Built in the pipeline's own scope, so the queues keep the logical IDs deployed stacks have. */
  constructor(scope: Construct, config: PipelineConfig, consumerTimeout: Duration) {
    this.deadLetterQueue = new sqs.Queue(scope, "DeadLetterQueue", secureQueueProps());
    this.queue = new sqs.Queue(scope, "IncidentQueue", {
      ...secureQueueProps(),
      visibilityTimeout: Duration.seconds(consumerTimeout.toSeconds() * VISIBILITY_TIMEOUT_FACTOR),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: config.dlqMaxReceiveCount },
    });
    // No event source: the enricher reads it before each API call. A hint returns after the enricher's timeout
    // if its reader died, and expires after 15 minutes: by then its ordinary copy has served it or will.
    this.priorityQueue = new sqs.Queue(scope, "PriorityQueue", {
      ...secureQueueProps(),
      retentionPeriod: Duration.seconds(PRIORITY_HINT_RETENTION_SECONDS),
      visibilityTimeout: consumerTimeout,
    });
    Validations.of(this.priorityQueue).acknowledge({
      id: "AwsSolutions-SQS3",
      reason:
        "Priority hints are copies of messages on the incident queue, which has the dead-letter queue; a hint that cannot be served is dropped on purpose and its ordinary copy is still processed.",
    });
  }
}
