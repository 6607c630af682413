// How the S3 client reports the two answers the state objects (cursor, incident records) rely on.

function httpStatusOf(error: unknown): number | undefined {
  const metadata = (error as { $metadata?: { httpStatusCode?: number } } | null | undefined)?.$metadata;
  return metadata?.httpStatusCode;
}

/** The object does not exist yet (first run, new incident). */
export function isMissingObject(error: unknown): boolean {
  const name = (error as { name?: string } | null | undefined)?.name;
  return name === "NoSuchKey" || name === "NotFound" || httpStatusOf(error) === 404;
}

/** 412: the ETag changed since we read it; 409: a concurrent conditional write won the race. */
export function isWriteConflict(error: unknown): boolean {
  const name = (error as { name?: string } | null | undefined)?.name;
  const status = httpStatusOf(error);
  return (
    name === "PreconditionFailed" || name === "ConditionalRequestConflict" || status === 412 || status === 409
  );
}
