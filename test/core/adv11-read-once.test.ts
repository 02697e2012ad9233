/**
 * Adversarial review of issue 11 (read every document exactly once): reproductions through the real client,
 * the Jushuitan emulator over HTTP and the real engine/state. Each test asserts the correct behaviour.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { actualTargets, E2E_START, startE2E, type E2E } from "../helpers/e2e.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";

vi.setConfig({ testTimeout: 60_000 });

const KIS = "jst-other-in-to-kis";
const MIN = 60_000;
const DAY = 86_400_000;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

function newOtherIn(env: E2E) {
  const jst = env.stack.jushuitan;
  const template = jst.documents(JST_PATHS.otherInOut).find((d) => d.type === "其它退货" && d.status === "Confirmed")!;
  const { io_id: _drop, ts: _ts, modified: _m, ...rest } = template;
  return jst.upsertDocument(JST_PATHS.otherInOut, rest);
}

describe("adv11: window bounds with milliseconds", () => {
  it("a row stamped with .SSS just after a sub-second window boundary is read by a catch-up run", async () => {
    // No re-sweep: the incremental runs themselves must read every row once.
    e2e = await startE2E({ otherInOut: 60, salesOut: 0, days: 3, env: { RESWEEP_DAYS: "0" } });
    // A CLI / HTTP-triggered run reasons about Date.now(): the watermark carries milliseconds.
    const first = await e2e.run(KIS, { now: E2E_START + 700 });
    expect(first.summary.outcome).toBe("success");
    const wm = first.summary.watermarkAfter;
    expect(wm % 1000).toBe(700);
    // Three days later the flow catches up in one run of one-day windows from wm − lookback; the first
    // internal boundary is B = wm − 10 min + 1 day (…​.700). A document saved at B's second + 300 ms
    // (Jushuitan times sometimes carry .SSS) lies in [from, B): the first window owns it, but its query ends at
    // B's second (…​.000) and so does not return it; the second window's query returns it, but does not own it.
    const boundary = wm - 10 * MIN + DAY;
    const doc = newOtherIn(e2e);
    e2e.stack.jushuitan.stampModified(JST_PATHS.otherInOut, doc.io_id as number, Math.floor(boundary / 1000) * 1000 + 300);
    e2e.clock.set(E2E_START + 3 * DAY);
    const runs = await e2e.runToCompletion(KIS);
    expect(runs.at(-1)!.outcome).toBe("success");
    expect(runs.at(-1)!.watermarkAfter).toBeGreaterThan(boundary);
    expect(actualTargets(e2e).kis.has(String(doc.io_id))).toBe(true);
  });
});

describe("adv11: keyset paging inside one busy second", () => {
  it("more than a page of documents saved in the same second, one re-saved mid-scan: none is skipped", async () => {
    e2e = await startE2E({ otherInOut: 20, salesOut: 0, days: 3, env: { RESWEEP_DAYS: "0" } });
    const jst = e2e.stack.jushuitan;
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    // A batch approval: 100 documents (pages of 30) all saved in one second.
    const template = jst.documents(JST_PATHS.otherInOut).find((d) => d.type === "其它退货" && d.status === "Confirmed")!;
    const { io_id: _d, ts: _t, modified: _m, ...rest } = template;
    e2e.clock.advance(MIN);
    const batch = Array.from({ length: 100 }, () => jst.upsertDocument(JST_PATHS.otherInOut, structuredClone(rest)));
    expect(new Set(batch.map((d) => d.modified)).size).toBe(1);
    e2e.clock.advance(20 * MIN);
    // Dry run to learn the request sequence (same requests as the real run): the 2nd page of the busy second.
    jst.clearRequests();
    await e2e.run(KIS, { dryRun: true });
    const requests = jst.requests().filter((r) => r.path === JST_PATHS.otherInOut);
    const second = String(batch[0]!.modified);
    const idx = requests.findIndex((r) => {
      const biz = r.biz as Record<string, unknown>;
      return biz.modified_begin === second && Number(biz.page_index) === 2;
    });
    expect(idx).toBeGreaterThan(0);
    // Let the emulator's per-second and per-minute rate windows pass so the real run sends the same requests.
    e2e.clock.advance(2 * MIN);
    // Before answering that request, a document already served (page 1 of the second) is re-saved.
    jst.addFaults({ kind: "editServed", path: JST_PATHS.otherInOut, skip: idx, times: 1, count: 1 });
    jst.clearRequests();
    const runs = await e2e.runToCompletion(KIS);
    expect(runs.at(-1)!.outcome, JSON.stringify(runs.at(-1)!.error ?? runs.at(-1)!.counts)).toBe("success");
    jst.clearFaults();
    e2e.clock.advance(60 * MIN);
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    const kis = actualTargets(e2e).kis;
    const missing = batch.map((d) => String(d.io_id)).filter((id) => !kis.has(id));
    expect(missing).toEqual([]);
  });
});

describe("adv11: windows at the request cap", () => {
  it("a window whose data_count equals cap × page size is read (keyset repeats a row per page), not failed on every run", async () => {
    // JST_MAX_PAGES_PER_WINDOW=2 with pages of 30: the engine halves only above 60 rows.
    e2e = await startE2E({ otherInOut: 20, salesOut: 0, days: 3, env: { RESWEEP_DAYS: "0", JST_MAX_PAGES_PER_WINDOW: "2" } });
    const jst = e2e.stack.jushuitan;
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    const template = jst.documents(JST_PATHS.otherInOut).find((d) => d.type === "其它退货" && d.status === "Confirmed")!;
    const { io_id: _d, ts: _t, modified: _m, ...rest } = template;
    const docs = [];
    for (let i = 0; i < 60; i++) {
      e2e.clock.advance(1000);
      docs.push(jst.upsertDocument(JST_PATHS.otherInOut, structuredClone(rest)));
    }
    e2e.clock.advance(20 * MIN);
    const outcomes = [];
    for (let i = 0; i < 3; i++) {
      const runs = await e2e.runToCompletion(KIS);
      outcomes.push(runs.at(-1)!.error?.code ?? runs.at(-1)!.outcome);
      e2e.clock.advance(10 * MIN);
    }
    expect(outcomes).toEqual(["success", "success", "success"]);
    const kis = actualTargets(e2e).kis;
    expect(docs.map((d) => String(d.io_id)).filter((id) => !kis.has(id))).toEqual([]);
  });
});

describe("adv11: budgeted invocations inside one busy second", () => {
  for (const spread of [false, true]) {
    it(`240 documents ${spread ? "in distinct seconds (control)" : "saved in ONE second (8 pages)"}, 6 subrequests per invocation: the flow completes`, async () => {
      e2e = await startE2E({ otherInOut: 20, salesOut: 0, days: 3, env: { RESWEEP_DAYS: "0", KIS_PRECHECK: "after_unknown_outcome" } });
      const jst = e2e.stack.jushuitan;
      expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
      const template = jst.documents(JST_PATHS.otherInOut).find((d) => d.type === "其它退货" && d.status === "Confirmed")!;
      const { io_id: _d, ts: _t, modified: _m, ...rest } = template;
      e2e.clock.advance(MIN);
      const batch = [];
      for (let i = 0; i < 240; i++) {
        if (spread) e2e.clock.advance(1000);
        batch.push(jst.upsertDocument(JST_PATHS.otherInOut, structuredClone(rest)));
      }
      e2e.clock.advance(20 * MIN);
      // A small per-invocation subrequest budget (a Worker's is small, and writes share it).
      let last;
      let invocations = 0;
      for (; invocations < 400; invocations++) {
        ({ summary: last } = await e2e.run(KIS, { budget: { maxSubrequests: 6 } }));
        if (!last.continues) break;
      }
      expect(last!.continues).toBe(false);
      const kis = actualTargets(e2e).kis;
      expect(batch.map((d) => String(d.io_id)).filter((id) => !kis.has(id))).toEqual([]);
    }, 240_000);
  }
});
