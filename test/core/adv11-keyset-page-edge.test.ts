/**
 * Adversary 11: keyset paging trusts an answer's order by checking each page on its own. Jushuitan's answer order
 * is undocumented; if it orders by id (the emulator's answerOrder "id") and the documents with the lowest ids were
 * re-saved last, every page is ordered by `modified` on its own, yet the next request begins at the last row's time
 * and the documents saved in between (higher ids, earlier `modified`) are never returned.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { actualTargets, startE2E, type E2E } from "../helpers/e2e.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";

vi.setConfig({ testTimeout: 60_000 });

const KIS = "jst-other-in-to-kis";
const MIN = 60_000;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("adv11: answers ordered by id, each page ordered by modified on its own", () => {
  it("documents re-saved in id order after later ones were saved: none is skipped", async () => {
    e2e = await startE2E({ otherInOut: 20, salesOut: 0, days: 3, env: { RESWEEP_DAYS: "0" }, jushuitan: { answerOrder: "id" } });
    const jst = e2e.stack.jushuitan;
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    const template = jst.documents(JST_PATHS.otherInOut).find((d) => d.type === "其它退货" && d.status === "Confirmed")!;
    const { io_id: _d, ts: _t, modified: _m, ...rest } = template;
    // 60 documents saved one second apart (ids ascending with time) ...
    const docs = [];
    for (let i = 0; i < 60; i++) {
      e2e.clock.advance(1000);
      docs.push(jst.upsertDocument(JST_PATHS.otherInOut, structuredClone(rest)));
    }
    // ... then the first 30 (the lowest ids) are re-saved, in id order, before the next run.
    for (const d of docs.slice(0, 30)) {
      e2e.clock.advance(1000);
      jst.touchDocuments(JST_PATHS.otherInOut, [d.io_id as number]);
    }
    e2e.clock.advance(20 * MIN);
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    const kis = actualTargets(e2e).kis;
    expect(docs.map((d) => String(d.io_id)).filter((id) => !kis.has(id))).toEqual([]);
  });

  it("the same, read by budgeted invocations (a stop between the two pages): none is skipped", async () => {
    e2e = await startE2E({
      otherInOut: 20,
      salesOut: 0,
      days: 3,
      env: { RESWEEP_DAYS: "0", KIS_PRECHECK: "after_unknown_outcome" },
      jushuitan: { answerOrder: "id" },
    });
    const jst = e2e.stack.jushuitan;
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    const template = jst.documents(JST_PATHS.otherInOut).find((d) => d.type === "其它退货" && d.status === "Confirmed")!;
    const { io_id: _d, ts: _t, modified: _m, ...rest } = template;
    const docs = [];
    for (let i = 0; i < 60; i++) {
      e2e.clock.advance(1000);
      docs.push(jst.upsertDocument(JST_PATHS.otherInOut, structuredClone(rest)));
    }
    for (const d of docs.slice(0, 30)) {
      e2e.clock.advance(1000);
      jst.touchDocuments(JST_PATHS.otherInOut, [d.io_id as number]);
    }
    e2e.clock.advance(20 * MIN);
    let last;
    let invocations = 0;
    for (; invocations < 200; invocations++) {
      ({ summary: last } = await e2e.run(KIS, { budget: { maxSubrequests: 6 } }));
      if (!last.continues) break;
      e2e.clock.advance(MIN);
    }
    expect(invocations).toBeGreaterThan(1);
    expect(last!.outcome).toBe("success");
    const kis = actualTargets(e2e).kis;
    expect(docs.map((d) => String(d.io_id)).filter((id) => !kis.has(id))).toEqual([]);
  });

  // KNOWN LIMITATION (adversary 11): the cross-page count check compares how many rows lie between two keyset begins
  // with how many the page read there. A read row edited out of that gap (here between two budgeted invocations) and
  // exactly as many rows skipped there cancel out: the skipped row is not read by the incremental runs (the periodic
  // re-sweep, off here, is what finds it). Closing it needs the gap's ids (an offset pass over the gap), not its count.
  it.fails("one row skipped at a page edge while one read row is edited out of the gap: the count check cannot see it", async () => {
    e2e = await startE2E({
      otherInOut: 20,
      salesOut: 0,
      days: 3,
      env: { RESWEEP_DAYS: "0", KIS_PRECHECK: "after_unknown_outcome" },
      jushuitan: { answerOrder: "id" },
    });
    const jst = e2e.stack.jushuitan;
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    // Move the watermark well past the seeded documents, so the next window holds only the documents below.
    e2e.clock.advance(30 * MIN);
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    e2e.clock.advance(30 * MIN);
    const template = jst.documents(JST_PATHS.otherInOut).find((d) => d.type === "其它退货" && d.status === "Confirmed")!;
    const { io_id: _d, ts: _t, modified: _m, ...rest } = template;
    const docs = [];
    for (let i = 0; i < 31; i++) {
      e2e.clock.advance(1000);
      docs.push(jst.upsertDocument(JST_PATHS.otherInOut, structuredClone(rest)));
    }
    // The 30th (last of the first page in id order) is re-saved after the 31st: the 31st lies before the next begin.
    e2e.clock.advance(1000);
    jst.touchDocuments(JST_PATHS.otherInOut, [docs[29]!.io_id as number]);
    e2e.clock.advance(20 * MIN);
    let last;
    let edited = false;
    for (let i = 0; i < 200; i++) {
      ({ summary: last } = await e2e.run(KIS, { budget: { maxSubrequests: 6 } }));
      if (!last.continues) break;
      if (!edited) {
        // Between invocations, a document the first page read is re-saved (it leaves the window).
        jst.touchDocuments(JST_PATHS.otherInOut, [docs[4]!.io_id as number]);
        edited = true;
      }
      e2e.clock.advance(MIN);
    }
    expect(edited).toBe(true);
    expect(last!.outcome).toBe("success");
    e2e.clock.advance(60 * MIN);
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    const kis = actualTargets(e2e).kis;
    expect(docs.map((d) => String(d.io_id)).filter((id) => !kis.has(id))).toEqual([]);
  });
});
