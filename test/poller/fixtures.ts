// Poller test setup: the poller's dependencies on a test's resources with the documented defaults, one run
// as Lambda invokes it, and one AWS harness per test file with cleanups after each test.
import { afterAll, afterEach, beforeAll } from "vitest";
import {
  createPollerHandler,
  type PollerDependencies,
  type PollRunSummary,
} from "../../functions/poller/create-handler.ts";
import { type AwsHarness, type AwsResources, startAwsHarness } from "../support/aws.ts";
import { lambdaContext } from "../support/lambda-context.ts";
import { silentLogger } from "../support/powertools.ts";

export const HOUR = 3_600_000;

/** The poller's dependencies on `pipeline`: no filters, a day's look-back, a silent logger, instant retries. */
export function pollerDependencies(
  pipeline: AwsResources,
  parts: Pick<PollerDependencies, "incidents" | "metrics" | "now"> & Partial<PollerDependencies>,
): PollerDependencies {
  return {
    ...pipeline,
    filters: [],
    firstRunLookbackMs: 24 * HOUR,
    logger: silentLogger(),
    deadlineMarginMs: 1_000,
    sleep: async () => {},
    ...parts,
  };
}

/** One poll run as Lambda invokes it, with `budgetMs` of Lambda time left (default: plenty). */
export function runPoller(deps: PollerDependencies, budgetMs = 15 * 60_000): Promise<PollRunSummary> {
  return createPollerHandler(deps)({}, lambdaContext(deps.now ?? Date.now, budgetMs));
}

/** One AWS harness for a test file, started before its first test and closed after its last. */
export function awsHarnessPerFile() {
  let harness: AwsHarness | undefined;
  const afterTest: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    harness = await startAwsHarness();
  });
  afterEach(async () => {
    for (const cleanup of afterTest.splice(0)) await cleanup();
  });
  afterAll(async () => {
    await harness?.close();
  });
  return {
    /** Fresh clients, bucket, queue and topic for one test. */
    createPipeline(): Promise<AwsResources> {
      if (harness === undefined) throw new Error("the AWS harness starts in beforeAll: call this in a test");
      return harness.createPipeline();
    },
    /** Runs after the current test, e.g. to close what it started. */
    afterThisTest(cleanup: () => Promise<void>): void {
      afterTest.push(cleanup);
    },
  };
}
