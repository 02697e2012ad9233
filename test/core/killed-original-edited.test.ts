/**
 * Chaos seed 4436 long (2026-12-06, final batch): an invocation is killed after KIS committed a bill and before its
 * answer arrived; a 聚水潭 user then edits the document's lines. The next run has no record of the write (an original
 * is not kept pending: that would cost a state write per document), finds the bill in KIS with other lines and files
 * a `conflict` dead letter with its rows; the target keeps the old lines until an operator compares and replays.
 * Known limit (docs/changes.md "Known limits"): the letter is asserted; the correction is `it.fails`.
 * Real engine, real clients, the emulators over loopback HTTP, the emulated clock.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { parseInZone } from "../../shared/util/time.ts";
import type { FetchLike } from "../../shared/ports.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { kisTotals, signedDifferences, sourceTotals } from "../helpers/signed-invariant.ts";

vi.setConfig({ testTimeout: 90_000 });
const KIS = "jst-other-in-to-kis";
type Row = Record<string, unknown>;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

/** Sends every request; the first KIS create is committed by the emulator but its answer never arrives (a killed isolate). */
function killedBeforeFirstAnswer(): FetchLike {
  let killed = false;
  return async (input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const res = await fetch(input, init);
    if (!killed && /\/create$/i.test(new URL(url).pathname)) {
      killed = true;
      return new Promise<Response>(() => {});
    }
    return res;
  };
}

async function killedThenEdited(): Promise<{ e: E2E; billNo: string }> {
  const e = await startE2E({ days: 2, otherInOut: 12, salesOut: 0 });
  e2e = e;
  void e.run(KIS, {}, { fetch: killedBeforeFirstAnswer() });
  const until = async () => {
    for (let i = 0; i < 1000 && e.stack.kis.bills().length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  };
  await until();
  await new Promise((r) => setTimeout(r, 50));
  const billNo = String(e.stack.kis.bills()[0]!.FBillNo);
  const doc = e.stack.jushuitan.documents(JST_PATHS.otherInOut).find((d) => String(d.io_id) === billNo)!;
  const items = structuredClone(doc.items as Row[]);
  items.push({ ...items[0]!, sku_id: items[0]!.sku_id, qty: 3, ioi_id: 999 });
  e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, items });
  e.clock.advance(60 * 60_000); // the dead run's lease expires; the edit passes the end lag
  await e.runToCompletion(KIS);
  return { e, billNo };
}

function differences(e: E2E, billNo: string): string[] {
  const until = e.clock.now() - 5 * 60_000;
  const source = sourceTotals(
    e.stack.jushuitan.documents(JST_PATHS.otherInOut),
    (d) => String(d.io_id) === billNo && d.type === "其它退货" && parseInZone(String(d.modified))! < until,
  );
  const target = kisTotals(e.stack.kis.bills().filter((b) => String(b.FBillNo).startsWith(billNo)) as Array<{ Head: Row; Entry: Row[] }>);
  return signedDifferences(source, target);
}

describe("an original committed by a killed invocation, then edited (chaos seed 4436)", () => {
  it("is a conflict dead letter with its rows, never booked twice", async () => {
    const { e, billNo } = await killedThenEdited();
    expect(e.stack.kis.bills().filter((b) => String(b.FBillNo) === billNo)).toHaveLength(1);
    const letters = await new FlowStateStore(e.kv).listDeadLetters(KIS, { status: "open" });
    const letter = letters.find((l) => l.externalKey === billNo);
    expect(letter?.error.code).toBe("conflict");
    // The letter carries the document's source rows (what an operator compares and replays).
    expect(JSON.stringify((letter as { payload?: unknown } | undefined)?.payload ?? null)).toContain(billNo);
  });

  // KNOWN LIMIT: the target keeps the lines the killed invocation committed until an operator acts.
  it.fails("is corrected to the edited lines without an operator", async () => {
    const { e, billNo } = await killedThenEdited();
    expect(differences(e, billNo)).toEqual([]);
  });
});
