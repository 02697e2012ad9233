/**
 * Chaos seed 9132 long (state.staleKv): a merged member's correction written twice under different numbers.
 * Workers KV caches each key's read on its own (a negative lookup too, up to 60 s:
 * https://developers.cloudflare.com/kv/concepts/how-kv-works/), so a run can read one ledger segment as still absent
 * while a newer one is there. The segment of member X's correction G-C1 (X's image moved, the group's count 1) read
 * absent, the segment of member Z's later G-C2 (the group's count 2) read fresh: X read again (a re-save) looked
 * changed against its posted image and got G-C3 — X's difference booked twice (observed: -C3/-C6 and -C4/-C7 equal).
 * Real engine, real T+ client and emulators over loopback, the flow index (MemoryFlowCoordinator, the model of the
 * Worker's Durable Object); KV hides one segment the way a stale read does.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import type { KeyValueStore } from "../../shared/ports.ts";
import { runFlowById } from "../../shared/engine/runner.ts";
import { MemoryFlowCoordinator } from "../../shared/state/flow-index.ts";
import { parseInZone } from "../../shared/util/time.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { assertSignedInvariant, sourceTotals, tplusTotals } from "../helpers/signed-invariant.ts";
import { startOfToday } from "../helpers/seed-scope.ts";

vi.setConfig({ testTimeout: 120_000 });
const TPLUS = "jst-sales-out-to-tplus";
const DAY = 24 * 3600_000;
type Row = Record<string, unknown>;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

/** KV whose reads of `hidden` keys answer "absent" (a stale read of a key before its first write); lists stay fresh. */
function hidingKv(inner: KeyValueStore, hidden: Set<string>): KeyValueStore {
  return {
    get: async (key) => (hidden.has(key) ? null : inner.get(key)),
    put: (key, value, options) => inner.put(key, value, options),
    delete: (key) => inner.delete(key),
    list: (prefix) => inner.list(prefix),
  };
}

/** Two posted members of one group (day 2024-06-16, one warehouse). */
function twoMembers(e: E2E): [Row, Row] {
  const today = startOfToday(e);
  const posted = e.stack.jushuitan
    .documents(JST_PATHS.salesOut)
    .filter(
      (d) => Number(d.shop_id) === 0 && d.status === "Confirmed" && String(d.io_date).startsWith("2024-06-16") && parseInZone(String(d.modified))! < today,
    );
  for (const a of posted) {
    const b = posted.find((d) => d !== a && d.wms_co_id === a.wms_co_id);
    if (b) return [a, b];
  }
  throw new Error("no two members of one group");
}

describe("stale KV: a correction's ledger segment read absent while a later one is read", () => {
  it("a member corrected once and re-saved is not corrected again under the next group number", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 160 });
    const env = e2e;
    const hidden = new Set<string>();
    const coordinator = new MemoryFlowCoordinator(env.clock);
    let n = 0;
    const settle = async () => {
      env.clock.advance(DAY);
      for (let i = 0; i < 50; i++) {
        const { summary } = await runFlowById(
          { ...env.ports, kv: hidingKv(env.kv, hidden), lock: coordinator },
          { flowId: TPLUS, runId: `r-${++n}`, trigger: "cli", budget: { maxSubrequests: 10_000 } },
        );
        if (!summary.continues) return summary;
      }
      throw new Error("the flow did not settle");
    };
    const segments = async () => new Set(await env.kv.list(`ledger:${TPLUS}:`));
    expect((await settle()).outcome).toBe("success");
    const [x, z] = twoMembers(env);
    const group = `SO-2024-06-16-${String(x.wms_co_id)}`;
    const edit = (doc: Row, add: number) => {
      const items = structuredClone(doc.items as Row[]);
      items[0]!.qty = Number(items[0]!.qty) + add;
      env.stack.jushuitan.upsertDocument(JST_PATHS.salesOut, { io_id: doc.io_id, items });
    };

    edit(x, 3);
    const beforeC1 = await segments();
    await settle();
    const c1Segments = [...(await segments())].filter((k) => !beforeC1.has(k));
    edit(z, 2);
    await settle();
    const codes = () =>
      env.stack.tplus
        .vouchers("otherDispatch")
        .map((v) => String(v.ExternalCode))
        .filter((c) => c.startsWith(`${group}-C`));
    expect(codes().sort()).toEqual([`${group}-C1`, `${group}-C2`]);

    // X re-saved unchanged; the next run reads the segment of G-C1 as absent, the one of G-C2 as written.
    env.stack.jushuitan.upsertDocument(JST_PATHS.salesOut, {
      io_id: x.io_id,
      items: structuredClone(env.stack.jushuitan.documents(JST_PATHS.salesOut).find((d) => d.io_id === x.io_id)!.items),
    });
    for (const k of c1Segments) hidden.add(k);
    expect(hidden.size).toBeGreaterThan(0);
    await settle();
    hidden.clear();
    await settle();

    expect(codes().sort()).toEqual([`${group}-C1`, `${group}-C2`]);
    const end = startOfToday(env);
    const only = (t: Map<string, number>) => new Map([...t].filter(([k]) => k.startsWith(`2024-06-16|${String(x.wms_co_id)}|`)));
    const source = sourceTotals(
      env.stack.jushuitan.documents(JST_PATHS.salesOut),
      (d) => Number(d.shop_id) === 0 && parseInZone(String(d.io_date))! < end && parseInZone(String(d.modified))! < end,
    );
    assertSignedInvariant(only(source), only(tplusTotals(env.stack.tplus.vouchers("otherDispatch"))), "after the stale read");
  });
});
