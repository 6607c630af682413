// The one Lambda context of the tests: Lambda's full Context shape, whose remaining time counts down on
// the clock the test gives (a fake clock, or real time by default) from the function's timeout.
import type { Context } from "aws-lambda";

export function lambdaContext(now: () => number, timeoutMs: number, functionName = "test-function"): Context {
  const endsAt = now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: "256",
    awsRequestId: "c0ffee00-0000-4000-8000-000000000001",
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: "2026/11/21/[$LATEST]0001",
    getRemainingTimeInMillis: () => endsAt - now(),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}
