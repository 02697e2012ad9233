// Adversary (issue 18 item 3: "configuration that has no effect is refused", Benthos-style). The runner drops the
// request params it sets itself per window and page (shared/engine/runner.ts WINDOW_PARAMS: modified_begin,
// modified_end, page_index, page_size, start_ts, ts) — silently. A hand-written flow (or one edited after a QEasy
// import, which drops them with a note) that says `page_size: "30"` or pins `modified_begin` to a literal start loads
// without a problem and is then ignored: the pages are the engine's size, the windows start at the watermark.
// Expected: checkFlow reports each such param with its path and a hint (source.paging.pageSize; incremental.startAt or
// a range backfill), as it does for paging.type "cursor". Actual: no problem reported.
// Fault: shared/flow/ineffective.ts (does not know WINDOW_PARAMS). Severity: low (misleading configuration).
import { describe, expect, it } from "vitest";
import { checkFlow } from "../../shared/flow/schema.ts";
import { SEED_FLOW_DOCUMENTS } from "../../shared/flows/index.ts";

describe("adv18: request params the engine overrides", () => {
  it("a literal page_size or modified_begin in source.params is refused, not silently ignored", () => {
    const doc = structuredClone(SEED_FLOW_DOCUMENTS["jst-other-in-to-kis"]) as Record<string, any>;
    doc.source.params.page_size = "30";
    doc.source.params.modified_begin = "2020-01-01 00:00:00";
    const paths = checkFlow(doc).problems.map((p) => p.path);
    expect(paths).toEqual(expect.arrayContaining(["source.params.page_size", "source.params.modified_begin"]));
  });
});
