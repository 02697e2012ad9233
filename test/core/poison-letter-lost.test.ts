/**
 * Chaos seed 4254 (long): "no dead letter for kis:2100831, which hit a permanent fault". A poison bill reaches
 * MAX_FAILED_RUNS in a run whose dead-letter write fails (KV error, budget): flushState keeps the letter and its
 * `dead:` marker pending but saves the `try:` attempt entry (attempts = limit). Every later run then takes the
 * document for "exhausted" (already dead-lettered) and skips it: never written, never lettered: lost silently.
 * A document counts as dead-lettered only once its letter is stored (its `dead:` marker saved); otherwise it is
 * tried again and lettered. Real engine, real KIS client, KIS emulator (poisonBillNos) over HTTP, explicit clock.
 */
import { afterEach, describe, expect, it } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { E2E_START, startE2E, type E2E } from "../helpers/e2e.ts";
import { expectedKis } from "../helpers/targets.ts";

const KIS = "jst-other-in-to-kis";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("poison bill whose dead-letter write failed", () => {
  it("is dead-lettered by a later run instead of being skipped as exhausted", async () => {
    const probe = await startE2E({ salesOut: 0, otherInOut: 20 });
    const docs = probe.stack.jushuitan.documents(JST_PATHS.otherInOut);
    const expected = expectedKis(docs, 0, E2E_START - 5 * 60_000);
    await probe.close();
    const poison = [...expected.keys()].sort()[0]!;

    e2e = await startE2E({ salesOut: 0, otherInOut: 20, kis: { poisonBillNos: [poison] } });
    const store = new FlowStateStore(e2e.kv);
    // Every dead-letter segment write fails while `lettersDown` holds (a KV error / exhausted budget at the flush).
    let lettersDown = true;
    const put = e2e.kv.put.bind(e2e.kv);
    e2e.kv.put = async (key, value, options) => {
      if (lettersDown && key.startsWith("dl:")) throw new Error("KV write failed (injected)");
      return put(key, value, options);
    };
    for (let i = 0; i < 4; i++) {
      if (i > 0) e2e.clock.advance(30 * 60_000);
      await e2e.runToCompletion(KIS).catch(() => undefined);
    }
    expect(await store.listDeadLetters(KIS, { status: "all" })).toEqual([]);
    lettersDown = false;
    for (let i = 0; i < 3; i++) {
      e2e.clock.advance(30 * 60_000);
      await e2e.runToCompletion(KIS);
    }
    const letters = await store.listDeadLetters(KIS);
    expect(letters.map((l) => l.externalKey)).toEqual([poison]);
    expect(e2e.stack.kis.bills().some((b) => String(b.FBillNo) === poison)).toBe(false);
  }, 180_000);
});
