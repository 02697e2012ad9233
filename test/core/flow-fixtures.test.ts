/**
 * Flow fixture tests in the style of Benthos config tests: every folder
 * test/fixtures/flows/<flow-id>/<case>/ holds input.json (source documents as the Jushuitan API returns
 * them: an array of documents, one response envelope, or an array of envelopes), tables.json (reference
 * tables, optional), expected.json (target payloads and, optionally, errors/dropped/held/skipped) and
 * case.json (optional: description, vars, closedBefore, written). The flow is <flow-id>/flow.json when
 * present, else shared/flows/<flow-id>.json. See docs/flow-fixtures.md.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { preview, type PreviewResult } from "../../shared/flow/preview.ts";
import { loadFlow, type Flow } from "../../shared/flow/schema.ts";
import type { WrittenGroups } from "../../shared/transform/merge-policy.ts";
import { parseInZone } from "../../shared/util/time.ts";
import { sourceDocuments } from "./flow-fixture-input.ts";

const ROOT = join(import.meta.dirname, "../fixtures/flows");
const SHARED_FLOWS = join(import.meta.dirname, "../../shared/flows");

interface ExpectedFile {
  documents: { externalKey: string; payload: Record<string, unknown>; members?: string[] }[];
  errors?: { id: string; code: string; message?: string; members?: string[] }[];
  dropped?: { id: string; reason?: string }[];
  held?: { groupKey: string; members?: string[] }[];
  skipped?: { id: string; groupKey?: string }[];
  /** Template paths that resolve to nothing for every record of the case (issue 14: no silent loss). */
  warnings?: { flowPath: string; path: string }[];
}

interface CaseFile {
  description?: string;
  vars?: { lastSyncTime?: string | number; currentTime?: string | number };
  closedBefore?: string | number;
  written?: WrittenGroups;
}

const readJson = (path: string): any => JSON.parse(readFileSync(path, "utf8"));
const dirs = (path: string) =>
  readdirSync(path)
    .filter((name) => !name.startsWith(".") && !name.startsWith("_") && statSync(join(path, name)).isDirectory())
    .sort();

function instant(value: string | number | undefined, flow: Flow): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "number") return value;
  const ms = parseInZone(value, flow.timezone);
  if (ms === null) throw new Error(`case.json: ${JSON.stringify(value)} is not a date`);
  return ms;
}

function compare(result: PreviewResult, expected: ExpectedFile) {
  expect(result.documents.map((d) => ({ externalKey: d.externalKey, members: d.members, payload: d.payload }))).toEqual(
    expected.documents.map((d) => ({ externalKey: d.externalKey, members: d.members ?? expect.any(Array), payload: d.payload })),
  );
  const errors = result.errors.map((e) => ({ id: e.id, code: e.error.code, message: e.error.message, members: e.members }));
  expect(errors).toEqual(
    (expected.errors ?? []).map((e) => ({
      id: e.id,
      code: e.code,
      message: e.message === undefined ? expect.any(String) : expect.stringContaining(e.message),
      members: e.members ?? undefined,
    })),
  );
  expect(result.dropped).toEqual(
    (expected.dropped ?? []).map((d) => ({ id: d.id, reason: d.reason === undefined ? expect.any(String) : expect.stringContaining(d.reason) })),
  );
  expect(result.held.map((h) => ({ groupKey: h.groupKey, members: h.members }))).toEqual(
    (expected.held ?? []).map((h) => ({ groupKey: h.groupKey, members: h.members ?? expect.any(Array) })),
  );
  expect(result.skipped.map((s) => ({ id: s.id, groupKey: s.groupKey }))).toEqual(
    (expected.skipped ?? []).map((s) => ({ id: s.id, groupKey: s.groupKey ?? expect.any(String) })),
  );
  expect(result.warnings.map((w) => ({ flowPath: w.flowPath, path: w.path }))).toEqual(expected.warnings ?? []);
}

const flowIds = existsSync(ROOT) ? dirs(ROOT) : [];

describe("flow fixtures", () => {
  it("finds fixture cases for both seed flows (at least 3 each)", () => {
    for (const id of ["jst-other-in-to-kis", "jst-sales-out-to-tplus"]) {
      expect(flowIds).toContain(id);
      expect(dirs(join(ROOT, id)).length).toBeGreaterThanOrEqual(3);
    }
  });

  for (const flowId of flowIds) {
    describe(flowId, () => {
      const local = join(ROOT, flowId, "flow.json");
      const shared = join(SHARED_FLOWS, `${flowId}.json`);
      const flowPath = existsSync(local) ? local : shared;
      for (const caseName of dirs(join(ROOT, flowId))) {
        const dir = join(ROOT, flowId, caseName);
        const meta: CaseFile = existsSync(join(dir, "case.json")) ? readJson(join(dir, "case.json")) : {};
        it(`${caseName}${meta.description ? `: ${meta.description}` : ""}`, () => {
          expect(existsSync(flowPath), `no flow for fixtures ${flowId}: add ${local} or ${shared}`).toBe(true);
          const flow = loadFlow(readJson(flowPath));
          expect(flow.id).toBe(flowId);
          const docs = sourceDocuments(readJson(join(dir, "input.json")));
          const tables = existsSync(join(dir, "tables.json")) ? readJson(join(dir, "tables.json")) : {};
          const expected: ExpectedFile = readJson(join(dir, "expected.json"));
          const currentTime = instant(meta.vars?.currentTime, flow) ?? Date.UTC(2024, 0, 1);
          const result = preview(flow, docs, {
            tables,
            vars: { currentTime, lastSyncTime: instant(meta.vars?.lastSyncTime, flow) ?? currentTime - 86_400_000 },
            closedBefore: instant(meta.closedBefore, flow),
            written: meta.written,
            trace: false,
          });
          compare(result, expected);
        });
      }
    });
  }
});
