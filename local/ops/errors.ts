// What `npm run ops` exits with, and the one error type that carries an exit code and a message that
// says what to fix. No message ever holds a secret: AWS and Cortex errors are re-worded from their kind.
import { isCortexError } from "../../functions/shared/cortex/errors.ts";

export const ExitCode = {
  /** Done, and nothing is wrong. */
  ok: 0,
  /** Done, and something is wrong: missing or broken archive objects, messages not moved, replays failed. */
  findings: 1,
  /** The Cortex API rejected the key (401), the licence (402) or the key's permission (403). */
  cortexAccess: 2,
  /** The AWS side cannot be used: no stack, no credentials, wrong region, an output or resource missing. */
  awsTarget: 3,
  /** Interrupted (Ctrl-C); a backfill resumes from its checkpoint when run again. */
  interrupted: 130,
  /** Bad flags or environment: the message names them. */
  usage: 64,
} as const;

export type OpsExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export class OpsError extends Error {
  readonly exitCode: OpsExitCode;
  constructor(exitCode: OpsExitCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "OpsError";
    this.exitCode = exitCode;
  }
}

export const usageError = (message: string) => new OpsError(ExitCode.usage, message);

function awsErrorName(error: unknown): string {
  return String((error as { name?: string; Code?: string } | null)?.name ?? "");
}

/** An AWS SDK error as an OpsError that says what to check; `where` names the call ("DescribeStacks CortexIncidentExport"). */
export function explainAwsError(error: unknown, where: string, region: string | undefined): OpsError {
  if (error instanceof OpsError) return error;
  const name = awsErrorName(error);
  const message = error instanceof Error ? error.message : String(error);
  const inRegion = region === undefined ? "" : ` in region ${region}`;
  if (name === "CredentialsProviderError" || /Could not load credentials/i.test(message)) {
    return new OpsError(
      ExitCode.awsTarget,
      `No AWS credentials found for ${where}: set AWS_PROFILE (after aws sso login) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.`,
    );
  }
  if (/Region is missing/i.test(message)) {
    return new OpsError(
      ExitCode.awsTarget,
      `No AWS region for ${where}: set AWS_REGION (or --region) to the region the stack was deployed to.`,
    );
  }
  if (
    [
      "InvalidClientTokenId",
      "UnrecognizedClientException",
      "ExpiredToken",
      "ExpiredTokenException",
      "SignatureDoesNotMatch",
    ].includes(name)
  ) {
    return new OpsError(
      ExitCode.awsTarget,
      `AWS rejected the credentials for ${where}${inRegion} (${name}): refresh them (aws sso login) or check the profile.`,
    );
  }
  if (/AccessDenied|UnauthorizedOperation|AuthorizationError/i.test(name)) {
    return new OpsError(
      ExitCode.awsTarget,
      `AWS denied ${where}${inRegion} (${name}): the caller's role needs that permission (see local/ops/README.md, "Permissions").`,
    );
  }
  const code = (error as { code?: string } | null)?.code;
  if (code === "ECONNREFUSED" || code === "ENOTFOUND" || /ECONNREFUSED|ENOTFOUND|getaddrinfo/.test(message)) {
    return new OpsError(
      ExitCode.awsTarget,
      `Could not reach the AWS endpoint for ${where} (${code ?? "connection failed"}): check AWS_ENDPOINT_URL, or the network and region.`,
    );
  }
  return new OpsError(ExitCode.awsTarget, `${where}${inRegion} failed: ${name || "error"}: ${message}`, {
    cause: error,
  });
}

/** A Cortex access problem becomes exit 2 with the client's own actionable message (never the key). */
export function explainCortexError(error: unknown): OpsError | undefined {
  if (isCortexError(error) && error.isAccessProblem)
    return new OpsError(ExitCode.cortexAccess, error.message);
  return undefined;
}
