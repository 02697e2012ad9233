/**
 * Adversary 16b: an ordinary (not held) dead letter of a bill that is cancelled afterwards, replayed by the operator.
 * Real engine, real clients, KIS emulator over loopback HTTP; the signed invariant.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { replayDeadLetter } from "../../shared/engine/replay.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { kisTotals } from "../helpers/signed-invariant.ts";
import { settleKis as settle } from "../helpers/seed-scope.ts";

vi.setConfig({ testTimeout: 120_000 });
const KIS = "jst-other-in-to-kis";
const DAY = 24 * 3600_000;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("adversary 16b: a refused bill cancelled before its letter is replayed", () => {
  // FINDING adv16b-stale-letter-cancelled: a new bill D is refused by KIS (a business refusal, not a closed period):
  // an ordinary dead letter holding D's row as read (Confirmed). D is then cancelled in 聚水潭; runs read it as
  // dropped, but only held (period_closed) letters are withdrawn (held-letters.ts dropped; held-replay.ts lists
  // period_closed only), so D's letter stays open and still says Confirmed. Days later the operator fixes the cause
  // and replays the letter (POST /dead-letters/:id/replay): replay.ts rebuilds from the stored row without reading
  // the source and books D, cancelled. Nothing reads D again (older than the lookback and the re-sweep's 3 days).
  // Expected: D counts 0 (the letter withdrawn when D was read cancelled, or the replay refusing a source that moved
  // on). Actual (observed): D's lines booked in KIS while Cancelled (+23, +27, +7, +28). Severity: needs an operator
  // replay of a letter that looks legitimate; the adv16 fix (withdraw on dropped) covers held letters only.
  it("FINDING adv16b-stale-letter-cancelled: the replay of a cancelled bill's letter books nothing", async () => {
    const reject: string[] = [];
    e2e = await startE2E({ otherInOut: 40, salesOut: 0, kis: { rejectBillNos: reject } });
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    const jst = e2e.stack.jushuitan;
    const billNos = new Set(e2e.stack.kis.bills().map((b) => b.FBillNo));
    const { io_id: _i, modified: _m, ts: _t, ...copy } = structuredClone(jst.documents(JST_PATHS.otherInOut).find((d) => billNos.has(String(d.io_id)))!);
    const fresh = jst.upsertDocument(JST_PATHS.otherInOut, { ...copy, status: "Confirmed" });
    const id = String(fresh.io_id);
    reject.push(id);
    await settle(e2e);
    const letter = (await new FlowStateStore(e2e.kv).listDeadLetters(KIS)).find((l) => l.sourceId === id);
    expect(letter).toBeDefined();
    jst.upsertDocument(JST_PATHS.otherInOut, { io_id: fresh.io_id, status: "Cancelled" });
    await settle(e2e);
    for (let i = 0; i < 4; i++) await settle(e2e, DAY);
    reject.length = 0;
    await replayDeadLetter(e2e.ports, letter!.id, { by: "operator", budget: { maxSubrequests: 100 } }).catch(() => undefined);
    await settle(e2e);
    await settle(e2e, DAY);
    const signed = kisTotals(e2e.stack.kis.bills().filter((b) => String(b.FBillNo) === id || String(b.FBillNo).startsWith(`${id}-`)));
    expect([...signed.values()].filter((q) => q !== 0)).toEqual([]);
  });
});
