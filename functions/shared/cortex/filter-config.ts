// The one rule for get_incidents filters a user configures: in the stack configuration (`cdk synth`), in
// the poller's INCIDENT_FILTERS, in `npm start -- --filters`. The client's field/operator/value rules
// (request.ts), and the poller's own cursor field refused, since the poller always filters on it itself.
import { z } from "zod";
import type { CortexProduct, IncidentFilterInput } from "./api.ts";
import { CortexApiError } from "./errors.ts";
import { parseIncidentFilter } from "./request.ts";

/** The field the poller's cursor filters on; a configured filter on it would fight the cursor. */
export const CURSOR_FILTER_FIELD = "modification_time";

export const FILTER_EXAMPLE = '[{"field":"status","operator":"eq","value":"new"}]';

const filterShape = z.strictObject({
  field: z.string().min(1),
  operator: z.string().min(1),
  value: z.unknown(),
});

export interface FilterProblem {
  /** Position in the list; undefined when the list itself is wrong. */
  index: number | undefined;
  message: string;
}

/** Why one configured filter cannot be used, or undefined when it can. */
export function incidentFilterProblem(input: unknown, product: CortexProduct): string | undefined {
  const shape = filterShape.safeParse(input);
  if (!shape.success) {
    return `must be an object {field, operator, value} and nothing else (${shape.error.issues.map((i) => i.message).join("; ")})`;
  }
  if (shape.data.field === CURSOR_FILTER_FIELD) {
    return `${CURSOR_FILTER_FIELD} is the poller's cursor and cannot be filtered on here`;
  }
  try {
    parseIncidentFilter(shape.data as IncidentFilterInput, product);
    return undefined;
  } catch (error) {
    if (error instanceof CortexApiError) return error.message;
    throw error;
  }
}

/** Every problem in a configured list of filters, each with its position. */
export function incidentFilterProblems(input: unknown, product: CortexProduct): FilterProblem[] {
  if (!Array.isArray(input)) {
    return [{ index: undefined, message: `must be a JSON array such as ${FILTER_EXAMPLE}` }];
  }
  return input.flatMap((filter, index) => {
    const message = incidentFilterProblem(filter, product);
    return message === undefined ? [] : [{ index, message }];
  });
}

/** Configured filters that cannot be used; the message names the setting (`--filters[0]: ...`). */
export class IncidentFilterConfigError extends Error {
  readonly setting: string;
  readonly problems: FilterProblem[];

  constructor(setting: string, problems: FilterProblem[]) {
    super(
      problems
        .map((problem) =>
          problem.index === undefined
            ? `${setting} ${problem.message}`
            : `${setting}[${problem.index}]: ${problem.message}`,
        )
        .join("\n"),
    );
    this.name = "IncidentFilterConfigError";
    this.setting = setting;
    this.problems = problems;
  }
}

/** Reads filters from JSON text (an environment variable, a flag); throws IncidentFilterConfigError naming `setting`. */
export function parseIncidentFiltersJson(
  text: string,
  product: CortexProduct,
  setting: string,
): IncidentFilterInput[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new IncidentFilterConfigError(setting, [
      { index: undefined, message: `is not JSON: it must be a JSON array such as ${FILTER_EXAMPLE}` },
    ]);
  }
  const problems = incidentFilterProblems(json, product);
  if (problems.length > 0) throw new IncidentFilterConfigError(setting, problems);
  return json as IncidentFilterInput[];
}
