/**
 * Issue 11 item 3 (re-sweep): a periodic re-sweep cut short by the invocation budget resumes where it stopped on the
 * next run instead of starting over (with a budget too small for the whole sweep it never finished).
 * Real client, emulators over HTTP, real engine and state.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import type { RunSummary } from "../../shared/engine/types.ts";

vi.setConfig({ testTimeout: 120_000 });

const KIS = "jst-other-in-to-kis";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("a re-sweep cut short by the budget", () => {
  it("resumes at the first window it did not finish and completes, instead of starting over every run", async () => {
    // About 450 bills a day at 30 a page: the re-sweep (3 days back from a day later: two days of bills) needs ~30
    // requests; each invocation below has 20.
    e2e = await startE2E({ otherInOut: 12000, salesOut: 0, days: 7 });
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success"); // caught up: the re-sweep interval starts
    const before = (await new FlowStateStore(e2e.kv).listRuns(KIS, 500)).length;
    e2e.clock.advance(24 * 3_600_000 + 60_000);
    for (let i = 0; i < 6; i++) {
      await e2e.run(KIS, { budget: { maxSubrequests: 11 } });
      e2e.clock.advance(10 * 60_000);
    }
    const records = ((await new FlowStateStore(e2e.kv).listRuns(KIS, 500)) as unknown as RunSummary[]).slice(0, -before || undefined);
    const sweeps = records.filter((r) => r.resweep).sort((a, b) => a.startedAt - b.startedAt);
    expect(sweeps.length).toBeGreaterThan(1);
    // Each part starts where the previous part stopped (never at the range's start again) …
    const starts = sweeps.map((s) => s.windows[0]?.from ?? Infinity);
    for (let i = 1; i < sweeps.length; i++) expect(starts[i]!).toBeGreaterThan(starts[i - 1]!);
    // … and one part finishes the sweep: the same range, reported whole.
    const last = sweeps.at(-1)!;
    expect(last.continues).toBe(false);
    expect(last.resweep!.from).toBe(sweeps[0]!.resweep!.from);
    expect(last.resweep!.to).toBe(sweeps[0]!.resweep!.to);
  });
});
