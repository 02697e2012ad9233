/**
 * Adversary 6 (T+ resend of writes in doubt, engine/pending-resend.ts): a group correction G-C1 that T+ answers 5xx
 * to every time (a payload T+ cannot take: poison.ts "T+ answering 500 for one payload"), whose first send committed
 * and lost its answer. T+ legacyQuery (no FindVoucherList), the account's duplicate refusal proven by doctor
 * --write-probe. Real engine, real clients, T+ emulator over loopback HTTP; explicit clocks.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { runDoctor } from "../../shared/doctor/index.ts";
import { silentLogger } from "../../shared/ports.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { DATE_FORMAT, formatInZone, parseInZone } from "../../shared/util/time.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { startOfToday } from "../helpers/seed-scope.ts";

vi.setConfig({ testTimeout: 120_000 });
const TPLUS = "jst-sales-out-to-tplus";
const DAY = 24 * 3600_000;

let opened: E2E | undefined;
afterEach(async () => {
  await opened?.close();
  opened = undefined;
});

const urlOf = (input: RequestInfo | URL) => new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);

/** Creates of a `-C1` correction: the first commits and loses its answer; every later one answers HTTP 500. */
function poisonC1() {
  let committed = false;
  return async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const body = typeof init?.body === "string" ? init.body : "";
    if (/\/create$/i.test(urlOf(input).pathname) && /-C1\\?"/.test(body)) {
      if (!committed) {
        committed = true;
        await fetch(input, init);
        throw new TypeError("connection reset");
      }
      return new Response("Internal Server Error", { status: 500 });
    }
    return fetch(input, init);
  };
}

/** The scenario; `proof`: doctor --write-probe saw the account refuse a duplicate ExternalCode first. */
async function scenario(proof: boolean) {
  const e2e = await startE2E({ otherInOut: 0, salesOut: 160, tplus: { voucherApi: "legacyQuery" } });
  opened = e2e;
  if (proof) {
    const probe = await runDoctor(
      { env: e2e.env, fetch: e2e.ports.fetch, kv: e2e.kv, clock: e2e.clock, logger: silentLogger, flows: e2e.flows },
      { writeProbe: { probeDate: "2024-06-01" }, flowIds: [TPLUS] },
    );
    expect(probe.findings.tplusDuplicate?.recognised).toBe(true);
  }
  expect((await e2e.runToCompletion(TPLUS)).at(-1)!.outcome).toBe("success");
  const jst = e2e.stack.jushuitan;
  const today = startOfToday(e2e);
  const m1 = jst
    .documents(JST_PATHS.salesOut)
    .find(
      (d) => Number(d.shop_id) === 0 && d.status === "Confirmed" && String(d.io_date).startsWith("2024-06-19") && parseInZone(String(d.modified))! < today,
    )!;
  jst.upsertDocument(JST_PATHS.salesOut, { io_id: m1.io_id, status: "Cancelled" });
  const net = poisonC1();
  e2e.clock.advance(DAY);
  expect((await e2e.run(TPLUS, {}, { fetch: net })).summary.outcome).not.toBe("success"); // G-C1 committed, answer lost
  // A new document on a later day (its own group), confirmed after the write went into doubt.
  const { io_id: _i, modified: _m, ts: _t, ...copy } = structuredClone(m1);
  const newDay = formatInZone(e2e.clock.now(), DATE_FORMAT, "Asia/Shanghai");
  jst.upsertDocument(JST_PATHS.salesOut, { ...copy, status: "Confirmed", io_date: `${newDay} 10:00:00` });
  const outcomes: string[] = [];
  for (let day = 0; day < 6; day++) {
    e2e.clock.advance(DAY);
    for (let i = 0; i < 3; i++) outcomes.push((await e2e.run(TPLUS, {}, { fetch: net })).summary.outcome);
  }
  return scenarioResult(e2e, newDay, outcomes);
}

async function scenarioResult(e: E2E, newDay: string, outcomes: string[]) {
  const onNewDay = e.stack.tplus.vouchers("otherDispatch").filter((v) => String(v.VoucherDate).startsWith(newDay));
  const letters = (await new FlowStateStore(e.kv).listDeadLetters(TPLUS)).filter((l) => !l.resolved);
  return { outcomes: [...new Set(outcomes)], onNewDay: onNewDay.length, letters: letters.map((l) => l.error.code) };
}

describe("adv6: a write in doubt whose resend T+ answers 5xx every time", () => {
  // FINDING adv6-resend-poison. Expected (poison.ts: a write that keeps failing with a retryable error "must not hold
  // back the documents after it"; without the doctor proof the write becomes a write_unknown letter and the flow goes
  // on): a document confirmed later, on another day, is written to T+ within a few runs. Actual: every run stops in
  // resolvePendingWrites (pending-resend.ts rethrows the retryable 5xx: "the answer is in doubt again") before any
  // document is judged; no count, no letter, no end: after 6 days of runs the new day's voucher is not in T+ (observed:
  // outcomes all "failed", new day's vouchers 0, open letters 0, pending G-C1 still in the outbox).
  // Fault: engine/pending-resend.ts resendInDoubt (retryable error → throw) + pending-writes.ts resolvePendingWrites
  // (a pending write blocks the run with no attempt count / poison path) — the proof turns a letter into a stuck flow.
  it("adv6-resend-poison (control, held): without the proof the flow goes on and the new day is written", async () => {
    const r = await scenario(false);
    expect(r.onNewDay).toBeGreaterThan(0); // observed: outcomes partial, success; new day 1 voucher
    expect(r.outcomes).toContain("success");
  });
  it("FINDING adv6-resend-poison: a pending correction T+ keeps answering 5xx does not block the flow", async () => {
    const r = await scenario(true);
    expect(r.onNewDay).toBeGreaterThan(0);
    expect(r.outcomes).toContain("success");
  });
});
