/**
 * adv20 (write intents a37c3c4): pending-writes.ts holdInDoubt gives every held write a fresh failure count. A
 * per-document T+ flow (as adv19-intents-tplus) on an account without FindVoucherList (legacyQuery) whose duplicate
 * refusal `doctor --write-probe` proved, so a write in doubt is sent again (pending-resend.ts). The killed invocation
 * commits voucher A; the source cancels A; from then on T+ answers HTTP 500 to every create of A's payload (the case
 * MAX_FAILED_RUNS exists for: "a payload T+ answers 500 to every time no longer stops the flow for good",
 * adv6-resend-poison). Expected: after at most MAX_FAILED_RUNS (3) failed runs A becomes a `write_unknown` letter and
 * the flow goes on (the other documents of the killed page written, runs succeed).
 *
 * FINDING (livelock): every run fails (tplus_server), forever, in a cycle of three: run 1 meets A dropped, the intent
 * lookup cannot tell, holdInDoubt opens `pending:A` (count 0) and its resend fails (count 1, the run stops); run 2
 * resolves `pending:A` (count 2, stops); run 3 resolves it at the limit (gave up: the write_unknown letter, its unit
 * queued for deletion), then reads the page again, meets A's intent part again (never marked asked: every earlier
 * lookup ended in a throw) and holdInDoubt opens a FRESH `pending:A` (count 0 → 1, the run stops). The save then
 * deletes that fresh entry too (the earlier resolution's `done()` pushed the same unit to settledPlans), so run 4
 * starts over like run 1. Observed: 12 of 12 runs failed, one write_unknown letter, the watermark never passes the
 * killed page (documents after it are never written). A lost answer alone (adv6-resend-poison) lets the flow go on after
 * the letter. Expected: once the write is lettered (or its count spent) the intent's part counts as asked.
 */
import { describe, expect, it, vi } from "vitest";
import { runDoctor } from "../../shared/doctor/index.ts";
import { silentLogger } from "../../shared/ports.ts";
import type { FetchLike } from "../../shared/ports.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { e2ePerTest, isCreate, killAtCreate, perDocumentTplus, TPLUS, waitFor } from "./adv19-intents-shared.ts";

vi.setConfig({ testTimeout: 120_000 });
const start = e2ePerTest();

describe("adv20 write intents: a cancelled document held in doubt whose resend T+ answers 500 every time", () => {
  it("fixed (was FINDING): every run fails forever (holdInDoubt restarts the failure count each cycle)", async () => {
    const e = await perDocumentTplus(start, { tplus: { voucherApi: "legacyQuery" } });
    const probe = await runDoctor(
      { env: e.env, fetch: e.ports.fetch, kv: e.kv, clock: e.clock, logger: silentLogger, flows: e.flows },
      { writeProbe: { probeDate: "2024-06-01" }, flowIds: [TPLUS] },
    );
    expect(probe.findings.tplusDuplicate?.recognised).toBe(true);
    const vouchers = () => e.stack.tplus.vouchers("otherDispatch") as unknown as Array<{ ExternalCode: string }>;
    const before = vouchers().length;
    void e.run(TPLUS, {}, { fetch: killAtCreate(true) });
    await waitFor(() => vouchers().length > before);
    const io = String(vouchers().at(-1)!.ExternalCode);
    const doc = e.stack.jushuitan.documents(JST_PATHS.salesOut).find((d) => String(d.io_id) === io)!;
    e.stack.jushuitan.upsertDocument(JST_PATHS.salesOut, { io_id: doc.io_id, status: "Cancelled" });
    const poisoned: FetchLike = async (input, init) => {
      const body = typeof init?.body === "string" ? init.body : "";
      if (isCreate(input) && body.includes(`"${io}"`)) return new Response("Internal Server Error", { status: 500 });
      return fetch(input, init);
    };
    const outcomes: string[] = [];
    e.clock.advance(60 * 60_000);
    for (let i = 0; i < 12; i++) {
      const { summary } = await e.run(TPLUS, {}, { fetch: poisoned });
      outcomes.push(`${summary.outcome}${summary.continues ? "+" : ""}`);
      e.clock.advance(30 * 60_000);
    }
    const letters = await new FlowStateStore(e.kv).listDeadLetters(TPLUS, { status: "open" });
    expect(outcomes.slice(-3).every((o) => o !== "failed")).toBe(true);
    expect(letters.map((l) => [l.externalKey, l.error.code])).toEqual([[io, "write_unknown"]]);
  });
});
