/**
 * The checkpoint writer (shared/engine/checkpoint-writer.ts) through the real engine, state store and emulators, each
 * test written against a Stryker survivor (issue 18) and checked by hand-applying it:
 *  - a dry run moves no watermark (`if (run.dryRun || run.options.range) return true` → `false`), or the real run
 *    after it would read nothing and write nothing;
 *  - the per-key second between saves (`since < 1000` → `false` / `true` / `>=`, `!force` → `force` / `false`,
 *    `1000 - since` → `+`, an unforced save forced): KV takes one write per key per second and a Free account 1,000 a
 *    day, so a run saves once per second of its clock, waits at most the rest of a second, and still saves as it goes;
 *  - a save reports that it saved (`return true` → `false`: one more write and a second's wait at the end);
 *  - a budget stop saves its cursor even within the second (forced), and a range backfill moves no watermark;
 *  - the cursor's hold (`holdWatermark` always set) and its set-aside keys (emptied: the poison bill is tried again
 *    by every continuation, chaos seed 9053).
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Checkpoint, WindowCursor } from "../../shared/engine/types.ts";
import type { FetchLike } from "../../shared/ports.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { firstKisBill } from "../helpers/first-bill.ts";

const KIS = "jst-other-in-to-kis";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("checkpoint writer", () => {
  it("a dry run moves no watermark: the real run after it writes every bill the dry run planned", async () => {
    e2e = await startE2E({ otherInOut: 30, salesOut: 0 });
    const env = e2e;
    const dry = await env.run(KIS, { dryRun: true });
    const planned = dry.planned.filter((p) => p.status === "new").length;
    expect(planned).toBeGreaterThan(0);
    expect(env.stack.kis.bills()).toHaveLength(0);
    expect((await env.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    expect(env.stack.kis.bills()).toHaveLength(planned);
  });

  it("a run of many windows writes its checkpoint once per second of its clock, and waits out at most the rest of a second for the last save", async () => {
    // KV takes one write per second per key, and a Free account 1,000 writes a day: a save per window would cost a
    // write (and a second's wait) per window. Every request here takes 150 ms on the run's clock.
    e2e = await startE2E({ otherInOut: 60, salesOut: 0 });
    const env = e2e;
    const slow: FetchLike = async (input, init) => {
      env.clock.advance(150);
      return globalThis.fetch(input, init);
    };
    const startedAt = env.clock.now();
    const sleptBefore = env.clock.slept;
    env.kv.resetStats();
    const { summary } = await env.run(KIS, {}, { fetch: slow });
    expect(summary.outcome).toBe("success");
    expect(summary.windows.length).toBeGreaterThan(3);
    const elapsed = env.clock.now() - startedAt;
    const saves = env.kv.writeLog.filter((k) => k === `wm:${KIS}`).length;
    // The first save (a flow's starting point), one per second of the run at most, and the last one.
    expect(saves).toBeLessThanOrEqual(Math.ceil(elapsed / 1000) + 1);
    expect(saves).toBeLessThan(summary.windows.length);
    // Nothing else sleeps in this run (no throttling, no retries): only the last save's wait, under a second.
    expect(env.clock.slept - sleptBefore).toBeLessThan(1000);
    expect(summary.watermarkAfter).toBe(summary.windows.at(-1)!.to);
  });

  it("a caught-up run of one window saves its checkpoint once, with nothing owed at the end", async () => {
    e2e = await startE2E({ otherInOut: 30, salesOut: 0 });
    await e2e.runToCompletion(KIS);
    e2e.clock.advance(10 * 60_000);
    e2e.kv.resetStats();
    const { summary } = await e2e.run(KIS);
    expect(summary.windows).toHaveLength(1);
    expect(e2e.kv.writeLog.filter((k) => k === `wm:${KIS}`)).toHaveLength(1);
    expect(summary.watermarkAfter).toBe(summary.windows[0]!.to);
  });

  it("a budget stop saves the cursor where the read stands, even within a second of the run's first save", async () => {
    e2e = await startE2E({ otherInOut: 30, salesOut: 0 });
    const { summary } = await e2e.run(KIS, { budget: { maxSubrequests: 5 } });
    expect(summary.continues).toBe(true);
    const saved = await new FlowStateStore(e2e.kv).getWatermark<Checkpoint & { cursor?: WindowCursor }>(KIS);
    expect(saved?.cursor?.window).toEqual({ from: summary.windows.at(-1)!.from, to: summary.windows.at(-1)!.to });
  });

  it("a run split by a tiny budget ends on the watermark an ample run reaches, re-reading no window", async () => {
    const ample = await startE2E({ otherInOut: 40, salesOut: 0 });
    const end = (await ample.runToCompletion(KIS)).at(-1)!.watermarkAfter;
    await ample.close();
    e2e = await startE2E({ otherInOut: 40, salesOut: 0 });
    const runs = await e2e.runToCompletion(KIS, { budget: { maxSubrequests: 5 } });
    expect(runs.length).toBeGreaterThan(3);
    expect(runs.flatMap((r) => r.windows.map((w) => w.rescans))).toEqual(runs.flatMap((r) => r.windows.map(() => 0)));
    // Each invocation ends a second later (its last save), so its windows end later than the ample run's.
    const last = runs.at(-1)!;
    expect(last.watermarkAfter).toBe(last.windows.at(-1)!.to);
    expect(last.watermarkAfter).toBeGreaterThanOrEqual(end);
    expect((await new FlowStateStore(e2e.kv).getWatermark(KIS))?.watermark).toBe(last.watermarkAfter);
  });

  it("a document set aside under a tiny budget is not tried again by the same run's later invocations", async () => {
    // Chaos seed 9053: a budget smaller than one write's retries. The invocation that runs out of budget on the
    // poison bill sets it aside; the continuations settle the rest of its page from the cursor and must skip it.
    const { billNo } = await firstKisBill();
    e2e = await startE2E({ salesOut: 0, otherInOut: 40, kis: { poisonBillNos: [billNo] } });
    const env = e2e;
    const attempts = () => env.stack.kis.requests().filter((r) => r.fault === "poison").length;
    const perInvocation: number[] = [];
    const runs = [];
    for (let i = 0; i < 200; i++) {
      const before = attempts();
      const { summary } = await env.run(KIS, { budget: { maxSubrequests: 3 } });
      runs.push(summary);
      perInvocation.push(attempts() - before);
      if (!summary.continues) break;
    }
    expect(runs.at(-1)!.continues).toBe(false);
    // Tried by one invocation (it ran out of budget on it), never again by this run: 1 attempt here, 3 without the
    // cursor's set-aside keys.
    const first = perInvocation.findIndex((n) => n > 0);
    expect(first).toBeGreaterThanOrEqual(0);
    expect(perInvocation.slice(first + 1).every((n) => n === 0)).toBe(true);
  });

  it("a long run saves its progress as it goes: a killed invocation keeps the windows it settled", async () => {
    e2e = await startE2E({ otherInOut: 60, salesOut: 0 });
    const env = e2e;
    const stored = async () => (JSON.parse((await env.kv.get(`wm:${KIS}`)) ?? "null") as { watermark: number } | null)?.watermark;
    let midRun: number | undefined;
    const slow: FetchLike = async (input, init) => {
      env.clock.advance(150);
      midRun = await stored();
      return globalThis.fetch(input, init);
    };
    const { summary } = await env.run(KIS, {}, { fetch: slow });
    expect(summary.windows.length).toBeGreaterThan(3);
    // Saved before the run's last request, past the first windows (not only at the run's end).
    expect(midRun).toBeGreaterThan(summary.watermarkBefore);
    expect(midRun).toBeGreaterThanOrEqual(summary.windows[1]!.to);
  });

  it("a range backfill moves no watermark, not even in its run record", async () => {
    e2e = await startE2E({ otherInOut: 30, salesOut: 0 });
    await e2e.runToCompletion(KIS);
    const stored = (await new FlowStateStore(e2e.kv).getWatermark(KIS))!.watermark;
    const now = e2e.clock.now();
    const { summary } = await e2e.run(KIS, { range: { from: now - 3 * 86_400_000, to: now - 2 * 3_600_000 } });
    expect(summary.outcome).toBe("success");
    expect(summary.watermarkAfter).toBe(summary.watermarkBefore);
    expect((await new FlowStateStore(e2e.kv).getWatermark(KIS))!.watermark).toBe(stored);
  });
});
