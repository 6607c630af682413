// The archive contract's key layout and object metadata (the bytes themselves are checked on the
// embedded endpoint in handler.test.ts).
import { describe, expect, it } from "vitest";
import { archiveKey, archiveMetadata, metadataValue, quarantineKey } from "../../functions/shared/archive.ts";

describe("archive key", () => {
  it("files a version under its incident's creation date in UTC, then id, then modification time", () => {
    const createdLateOnNewYearsEve = Date.UTC(2025, 11, 31, 23, 59, 59, 999);
    expect(archiveKey("893", createdLateOnNewYearsEve, 1767225600123)).toBe(
      "incidents/2025/12/31/893/1767225600123.json.gz",
    );
  });

  it("gives every version of an incident its own object in the same folder", () => {
    const created = Date.UTC(2026, 1, 3);
    expect(archiveKey("31", created, 1000)).not.toBe(archiveKey("31", created, 1001));
    expect(archiveKey("31", created, 1000).split("/").slice(0, 5)).toEqual(
      archiveKey("31", created, 1001).split("/").slice(0, 5),
    );
  });

  it("cannot be steered out of its folder by an odd incident id", () => {
    expect(archiveKey("../x", Date.UTC(2026, 0, 1), 1)).toBe("incidents/2026/01/01/%2E%2E%2Fx/1.json.gz");
    expect(quarantineKey("a/b", 7)).toBe("state/quarantine/a%2Fb/7.txt.gz");
  });
});

describe("archive metadata", () => {
  const version = {
    incidentId: "893",
    severity: "critical",
    status: "under_investigation",
    modificationTime: 1763683080000,
    fetchTime: 1763683140000,
    alertsReturned: 1000,
    alertsTotal: 1342,
    alertsComplete: true,
    source: "get_incident_extra_data" as const,
    schemaIssues: [],
  };

  it("says which version this is, when it was fetched and whether all alerts came back", () => {
    expect(archiveMetadata(version)).toEqual({
      "incident-id": "893",
      severity: "critical",
      status: "under_investigation",
      "modification-time": "1763683080000",
      "fetch-time": "1763683140000",
      "alerts-returned": "1000",
      "alerts-total": "1342",
      "alerts-complete": "true",
      source: "get_incident_extra_data",
      "schema-valid": "true",
    });
  });

  it("says when the batch endpoint cut the alerts and which endpoint answered", () => {
    const partial = archiveMetadata({
      ...version,
      alertsReturned: 50,
      alertsComplete: false,
      source: "get_multiple_incidents_extra_data",
    });
    expect(partial["alerts-complete"]).toBe("false");
    expect(partial.source).toBe("get_multiple_incidents_extra_data");
    expect(partial["alerts-returned"]).toBe("50");
  });

  it("flags a schema-invalid reply with a short summary of what was wrong", () => {
    const issues = Array.from({ length: 12 }, (_, index) => `alerts.data.${index}.case_id: expected number`);
    const metadata = archiveMetadata({ ...version, schemaIssues: issues });
    expect(metadata["schema-valid"]).toBe("false");
    expect(metadata["schema-issues"]).toMatch(/^alerts\.data\.0\.case_id: expected number; .* \(\+9 more\)$/);
  });

  it("keeps every value printable ASCII and bounded, as S3 metadata headers require", () => {
    expect(metadataValue("résolu\n\u202eavec succès 🎉")).toBe("resolu avec succes");
    expect(metadataValue("x".repeat(1000))).toHaveLength(256);
  });
});
