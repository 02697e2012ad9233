/**
 * adv16c-pending-key-reuse, the gate: a T+ write left in doubt (legacyQuery: no FindVoucherList) is sent again only
 * where doctor --write-probe saw this account refuse a duplicate ExternalCode with an answer the client recognises
 * (doctor/tplus-duplicate.ts, engine/pending-resend.ts). Otherwise it stays a write_unknown letter naming what the
 * operator does. Real doctor, real engine, T+ emulator over loopback HTTP; explicit clocks.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { runDoctor } from "../../shared/doctor/index.ts";
import { TPLUS_DUPLICATE_KEY, tplusResendProof } from "../../shared/doctor/tplus-duplicate.ts";
import { silentLogger } from "../../shared/ports.ts";
import { MemoryKeyValueStore } from "../../shared/state/memory-kv.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { formatInZone, DATE_FORMAT, parseInZone } from "../../shared/util/time.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E, type E2EOptions } from "../helpers/e2e.ts";
import { lossyFirstCreate } from "../helpers/lossy-fetch.ts";

vi.setConfig({ testTimeout: 120_000 });
const TPLUS = "jst-sales-out-to-tplus";
const DAY = 24 * 3600_000;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

/** Probe, post, then a member's cancellation whose G-C1 loses its answer; the next run resolves the pending write. */
async function lostCorrection(tplus: E2EOptions["tplus"]) {
  e2e = await startE2E({ otherInOut: 0, salesOut: 160, tplus: { voucherApi: "legacyQuery", ...tplus } });
  const probe = await runDoctor(
    { env: e2e.env, fetch: e2e.ports.fetch, kv: e2e.kv, clock: e2e.clock, logger: silentLogger, flows: e2e.flows },
    { writeProbe: { probeDate: "2024-06-01" }, flowIds: [TPLUS] },
  );
  expect((await e2e.runToCompletion(TPLUS)).at(-1)!.outcome).toBe("success");
  const today = parseInZone(`${formatInZone(e2e.clock.now(), DATE_FORMAT, "Asia/Shanghai")} 00:00:00`)!;
  const m1 = e2e.stack.jushuitan
    .documents(JST_PATHS.salesOut)
    .find(
      (d) => Number(d.shop_id) === 0 && d.status === "Confirmed" && String(d.io_date).startsWith("2024-06-19") && parseInZone(String(d.modified))! < today,
    )!;
  e2e.stack.jushuitan.upsertDocument(JST_PATHS.salesOut, { io_id: m1.io_id, status: "Cancelled" });
  e2e.clock.advance(DAY);
  await e2e.run(TPLUS, {}, { fetch: lossyFirstCreate() });
  e2e.clock.advance(DAY);
  await e2e.runToCompletion(TPLUS);
  const letters = (await new FlowStateStore(e2e.kv).listDeadLetters(TPLUS)).filter((l) => !l.resolved);
  const codes = e2e.stack.tplus.vouchers("otherDispatch").map((v) => String(v.ExternalCode));
  return { probe, letters, codes };
}

describe("a T+ write left in doubt is sent again only with the account's proof", () => {
  it("the probe saw a duplicate answer the client does not recognise: no resend, a write_unknown letter says what to do", async () => {
    const { probe, letters, codes } = await lostCorrection({ duplicateCode: "E9999", duplicateMessage: "保存失败：数据校验未通过" });
    expect(probe.findings.tplusDuplicate?.recognised).toBe(false);
    expect(letters.map((l) => [l.error.code, l.externalKey])).toEqual([["write_unknown", expect.stringMatching(/-C1$/)]]);
    expect(letters[0]!.error.hint).toMatch(/^replay it whether or not .* `doctor --write-probe`/);
    // The lost G-C1 is in T+ once: nothing was sent again.
    expect(codes.filter((c) => c === letters[0]!.externalKey)).toHaveLength(1);
  });

  it("the probe saw a recognised duplicate refusal: the write is sent again, T+ answers duplicate, nothing is lettered or doubled", async () => {
    const { probe, letters, codes } = await lostCorrection({});
    expect(probe.findings.tplusDuplicate?.recognised).toBe(true);
    expect(letters).toEqual([]);
    const c1 = codes.filter((c) => /-C1$/.test(c));
    expect(c1).toHaveLength(1);
  });

  it("the proof is read from its own key: none, unrecognised or unreadable → no resend", async () => {
    const kv = new MemoryKeyValueStore();
    expect(await tplusResendProof(kv)).toBeUndefined();
    await kv.put(TPLUS_DUPLICATE_KEY, "{not json");
    expect(await tplusResendProof(kv)).toBeUndefined();
    await kv.put(TPLUS_DUPLICATE_KEY, JSON.stringify({ at: 0, code: undefined, message: "accepted a second document", recognised: false }));
    expect(await tplusResendProof(kv)).toBeUndefined();
    await kv.put(TPLUS_DUPLICATE_KEY, JSON.stringify({ at: 0, code: "EXVD0010", message: "外部单据号…已存在", recognised: true }));
    expect(await tplusResendProof(kv)).toMatch(/^doctor write probe 1970-01-01T00:00:00.000Z: T\+ refused a duplicate ExternalCode \(EXVD0010\)/);
  });
});
