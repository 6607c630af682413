import { describe, expect, it } from "vitest";
import { CortexApiError } from "../../../functions/shared/cortex/errors.ts";
import {
  buildGetIncidentsRequest,
  type GetIncidentsRequest,
  type IncidentFilter,
  parseIncidentFilters,
} from "../../../functions/shared/cortex/request.ts";

function rejection(run: () => unknown): CortexApiError {
  try {
    run();
  } catch (error) {
    if (error instanceof CortexApiError) return error;
    throw error;
  }
  throw new Error("expected the request to be rejected");
}

describe("get_incidents request types", () => {
  it("admit only the seed page's field/operator pairs", () => {
    const allowed: IncidentFilter<"xdr">[] = [
      { field: "incident_id_list", operator: "in", value: ["1", "2"] },
      { field: "alert_sources", operator: "in", value: ["XDR Agent"] },
      { field: "description", operator: "contains", value: "phish" },
      { field: "description", operator: "in", value: ["a"] },
      { field: "modification_time", operator: "gte", value: 1 },
      { field: "creation_time", operator: "lte", value: 2 },
      { field: "status", operator: "neq", value: "resolved" },
    ];
    const xpanse: IncidentFilter<"xpanse">[] = [
      { field: "cloud_management_status", operator: "in", value: ["Managed Cloud"] },
      { field: "integration_source", operator: "in", value: ["AWS"] },
    ];
    const forbidden: IncidentFilter<"xdr">[] = [
      // @ts-expect-error gte is not an operator of status
      { field: "status", operator: "gte", value: 1 },
      // @ts-expect-error contains is only for description
      { field: "alert_sources", operator: "contains", value: "x" },
      // @ts-expect-error timestamps are epoch milliseconds, not strings
      { field: "creation_time", operator: "gte", value: "2024-01-01" },
      // @ts-expect-error cloud_management_status is an Xpanse-only field
      { field: "cloud_management_status", operator: "in", value: ["Managed Cloud"] },
      // @ts-expect-error "nqe" is the vendor page's typo; the operator is neq
      { field: "status", operator: "nqe", value: "new" },
      // @ts-expect-error starred has no documented operator
      { field: "starred", operator: "eq", value: true },
    ];
    const sortTypo: GetIncidentsRequest = {
      // @ts-expect-error severity is not a sort field
      sort: { field: "severity", keyword: "asc" },
    };
    expect(allowed).toHaveLength(7);
    expect(xpanse).toHaveLength(2);
    // At run time the same requests are refused too.
    for (const filter of forbidden)
      expect(() => parseIncidentFilters([filter], "xdr")).toThrow(CortexApiError);
    expect(() => buildGetIncidentsRequest(sortTypo, "xdr")).toThrow(/sort field "severity"/);
  });
});

describe("filters from configuration", () => {
  it("accepts every allowed pair and normalises single strings for in", () => {
    expect(
      parseIncidentFilters(
        [
          { field: "alert_sources", operator: "in", value: "XDR Agent" },
          { field: "status", operator: "eq", value: "under_investigation" },
          { field: "incident_id_list", operator: "in", value: [1, "2"] },
        ],
        "xdr",
      ),
    ).toEqual([
      { field: "alert_sources", operator: "in", value: ["XDR Agent"] },
      { field: "status", operator: "eq", value: "under_investigation" },
      { field: "incident_id_list", operator: "in", value: ["1", "2"] },
    ]);
  });

  it("names the field, the operator and what is allowed", () => {
    const error = rejection(() =>
      parseIncidentFilters([{ field: "status", operator: "gte", value: 1 }], "xdr"),
    );
    expect(error.kind).toBe("invalid_request");
    expect(error.message).toContain('operator "gte" is not allowed on "status"');
    expect(error.message).toContain("allowed: eq, neq");
  });

  it("explains the vendor's nqe typo", () => {
    const error = rejection(() =>
      parseIncidentFilters([{ field: "status", operator: "nqe", value: "new" }], "xdr"),
    );
    expect(error.message).toContain('typo of "neq"');
  });

  it("allows Xpanse-only fields only for Xpanse", () => {
    const filter = { field: "integration_source", operator: "in", value: ["AWS"] };
    expect(parseIncidentFilters([filter], "xpanse")).toEqual([filter]);
    const error = rejection(() => parseIncidentFilters([filter], "xdr"));
    expect(error.message).toContain('"integration_source" is not allowed (Cortex Xpanse only');
    expect(error.message).toContain("allowed fields: incident_id_list, alert_sources");
  });

  it("rejects the operator-less fields starred and incident_id with what to use instead", () => {
    const byId = rejection(() =>
      parseIncidentFilters([{ field: "incident_id", operator: "eq", value: "1" }], "xpanse"),
    );
    expect(byId.message).toContain("use incident_id_list with operator in");
    const starred = rejection(() =>
      parseIncidentFilters([{ field: "starred", operator: "eq", value: true }], "xpanse"),
    );
    expect(starred.message).toContain('"starred" is not supported');
  });

  it("rejects unknown fields and wrong value types", () => {
    expect(
      rejection(() => parseIncidentFilters([{ field: "severity", operator: "eq", value: "high" }], "xdr"))
        .message,
    ).toContain('filter field "severity" is not allowed');
    const time = rejection(() =>
      parseIncidentFilters([{ field: "modification_time", operator: "gte", value: "yesterday" }], "xdr"),
    );
    expect(time.message).toContain(
      'value of "modification_time" gte must be an integer in epoch milliseconds',
    );
    const fractional = rejection(() =>
      parseIncidentFilters([{ field: "creation_time", operator: "lte", value: 1.5 }], "xdr"),
    );
    expect(fractional.message).toContain("creation_time");
  });

  it("allows at most 100 ids in incident_id_list", () => {
    const ids = (n: number) => Array.from({ length: n }, (_, i) => String(i + 1));
    expect(
      parseIncidentFilters([{ field: "incident_id_list", operator: "in", value: ids(100) }], "xdr"),
    ).toHaveLength(1);
    const error = rejection(() =>
      parseIncidentFilters([{ field: "incident_id_list", operator: "in", value: ids(101) }], "xdr"),
    );
    expect(error.message).toContain("at most 100 incident ids");
  });
});

describe("search window and sort", () => {
  it("defaults to the first 100 and allows any window of at most 100", () => {
    expect(buildGetIncidentsRequest({}, "xdr")).toEqual({ filters: [], search_from: 0, search_to: 100 });
    expect(buildGetIncidentsRequest({ search_from: 250, search_to: 350 }, "xdr")).toMatchObject({
      search_from: 250,
      search_to: 350,
    });
  });

  it("rejects windows wider than 100, reversed or negative", () => {
    expect(() => buildGetIncidentsRequest({ search_from: 0, search_to: 101 }, "xdr")).toThrow(/at most 100/);
    expect(() => buildGetIncidentsRequest({ search_from: 50, search_to: 50 }, "xdr")).toThrow(/search_to/);
    expect(() => buildGetIncidentsRequest({ search_from: -1 }, "xdr")).toThrow(/search_from/);
  });

  it("accepts the four documented sort keywords and no other", () => {
    for (const keyword of ["ASC", "asc", "DESC", "desc"] as const) {
      expect(buildGetIncidentsRequest({ sort: { field: "incident_id", keyword } }, "xdr").sort?.keyword).toBe(
        keyword,
      );
    }
    const bad = { sort: { field: "incident_id", keyword: "ascending" } } as unknown as GetIncidentsRequest;
    expect(() => buildGetIncidentsRequest(bad, "xdr")).toThrow(/sort keyword "ascending"/);
  });
});
