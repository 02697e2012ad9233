/**
 * The document writer (shared/engine/document-writer.ts) through the real engine, state store and emulators, against
 * its Stryker survivors (issue 18). A run marks its writes in flight once (`wip:<flow>:<runId>`, state/write-marker.ts:
 * one put per writing run), not once per document: `!recovery.markedWriting && …` → `true`, or `markedWriting = true`
 * → `false`, put the marker again before every write (a KV write each, and a second's wait per write where KV
 * enforces one write per key per second).
 */
import { afterEach, describe, expect, it } from "vitest";
import { startE2E, type E2E } from "../helpers/e2e.ts";

const KIS = "jst-other-in-to-kis";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("document writer", () => {
  it("a run that writes many bills marks its writes in flight once", async () => {
    e2e = await startE2E({ otherInOut: 60, salesOut: 0 });
    e2e.kv.resetStats();
    const { summary } = await e2e.run(KIS);
    expect(summary.outcome).toBe("success");
    expect(summary.counts.written).toBeGreaterThan(2);
    expect(e2e.kv.writeLog.filter((k) => k.startsWith(`wip:${KIS}:`))).toEqual([`wip:${KIS}:${summary.runId}`]);
  });
});
