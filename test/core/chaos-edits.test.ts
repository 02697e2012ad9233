/**
 * Issue 16 chaos machinery (test/chaos/edits.ts, test/emulators/jushuitan/edits.ts): edits land where the next run
 * reads them, the driver knows when a flow must run again, and the verdict's pieces count and explain corrections.
 */
import { describe, expect, it } from "vitest";
import { countCorrections } from "../chaos/corrections.ts";
import {
  editReachMs,
  editWaitMs,
  explainedByVersions,
  needsAnotherRun,
  restampedGroupExplained,
  unreadEditIds,
  unseenReads,
  versionsOf,
} from "../chaos/edit-verdict.ts";
import { CHAOS_FLOWS, JST_PATHS } from "../chaos/scenario.ts";
import { SKUS } from "../emulators/catalog.ts";
import { applyEdit, type EditRecord } from "../emulators/jushuitan/edits.ts";
import { createJushuitanEmulator } from "../emulators/jushuitan/index.ts";
import { serveOnLoopback } from "../emulators/node/serve.ts";
import { collect, DAY, startJst, T0 } from "./jushuitan-fixture.ts";

type Row = Record<string, unknown>;
const line = (sku: string, qty: number): Row => ({ sku_id: sku, qty, ioi_id: 1 });
const A = SKUS[0]!.skuId;
const B = SKUS[1]!.skuId;

describe("emulator edits", () => {
  it("change quantities, add and remove lines, cancel; a one-line document loses no line", () => {
    const doc = (): Row => ({ status: "Confirmed", items: [line(A, 3), line(B, 2)] });
    const cancelled = doc();
    expect(applyEdit(cancelled, "cancel", 0.3)).toBe("cancel");
    expect(cancelled.status).toBe("Cancelled");
    const added = doc();
    expect(applyEdit(added, "addLine", 0.1)).toBe("addLine");
    expect((added.items as Row[]).map((i) => i.sku_id)).toHaveLength(3);
    expect(new Set((added.items as Row[]).map((i) => i.sku_id)).size).toBe(3);
    const removed = doc();
    expect(applyEdit(removed, "removeLine", 0.9)).toBe("removeLine");
    expect(removed.items).toEqual([line(A, 3)]);
    const single: Row = { status: "Confirmed", items: [line(A, 1)] };
    expect(applyEdit(single, "removeLine", 0.2)).toBe("quantity");
    expect((single.items as Row[])[0]!.qty).toBe(2);
    const down = doc();
    applyEdit(down, "quantity", 0.1);
    expect((down.items as Row[])[0]!.qty).toBe(2);
  });

  it("POST /__emulator/edit stamps `modified` at the requested instant and logs the version", async () => {
    const emulator = createJushuitanEmulator({ documents: { [JST_PATHS.otherInOut]: 3 } });
    const server = await serveOnLoopback(emulator.app);
    try {
      const key = String(emulator.documents(JST_PATHS.otherInOut)[0]!.io_id);
      const at = Date.UTC(2026, 11, 4, 15, 59, 59);
      const res = await fetch(`${server.url}/__emulator/edit`, {
        method: "POST",
        body: JSON.stringify({ path: JST_PATHS.otherInOut, key, change: "cancel", modifiedMs: at }),
      });
      expect(res.status).toBe(200);
      const row = ((await res.json()) as { row: Row }).row;
      expect(row.status).toBe("Cancelled");
      expect(row.modified).toBe("2026-12-04 23:59:59");
      const log = (await (await fetch(`${server.url}/__emulator/edits`)).json()) as EditRecord[];
      expect(log).toEqual([
        expect.objectContaining({
          path: JST_PATHS.otherInOut,
          key,
          change: "cancel",
          modifiedMs: at,
          via: "admin",
          after: expect.objectContaining({ status: "Cancelled" }),
        }),
      ]);
      expect(
        (await fetch(`${server.url}/__emulator/edit`, { method: "POST", body: JSON.stringify({ path: JST_PATHS.otherInOut, key: "nope", change: "edit" }) }))
          .status,
      ).toBe(404);
    } finally {
      await server.close();
    }
  });
});

describe("chaos driver: another run after an edit", () => {
  const edit = (over: Partial<EditRecord>): EditRecord => ({
    path: JST_PATHS.otherInOut,
    key: "1",
    change: "quantity",
    modifiedMs: 10_000,
    madeAt: 5_000,
    via: "admin",
    after: { status: "Confirmed", items: [] },
    ...over,
  });

  it("until a window owning its stamp was read by an invocation that started after the edit, for the edited path only", () => {
    const kis = CHAOS_FLOWS.kis;
    expect(needsAnotherRun(kis, [edit({})], [])).toBe(true);
    expect(needsAnotherRun(kis, [edit({})], [{ from: 0, to: 20_000, tickAt: 4_000 }])).toBe(true); // read before the edit
    expect(needsAnotherRun(kis, [edit({})], [{ from: 0, to: 10_000, tickAt: 6_000 }])).toBe(true); // the end second is the next window's
    expect(needsAnotherRun(kis, [edit({})], [{ from: 10_000, to: 11_000, tickAt: 6_000 }])).toBe(false);
    expect(needsAnotherRun(CHAOS_FLOWS.tplus, [edit({})], [])).toBe(false);
  });

  it("an edit served during a scan is read by the invocation that served it once it completed the owning window", () => {
    const kis = CHAOS_FLOWS.kis;
    const read = { from: 0, to: 20_000, tickAt: 4_000, doneAt: 6_000 };
    expect(needsAnotherRun(kis, [edit({ via: "query" })], [read])).toBe(false);
    expect(needsAnotherRun(kis, [edit({})], [read])).toBe(true); // between runs: a run that starts after it must read it
    expect(needsAnotherRun(kis, [edit({ via: "query" })], [{ ...read, doneAt: 5_000 }])).toBe(true); // done before the edit
  });

  // Seed 9102 long (sharedCron, budget.tiny): an edit served mid-scan was stamped on its window's last second; the
  // driver never saw a record of the invocation that completed that window after the edit, so it invoked both flows
  // until its 160-invocation limit. The stored records hold it.
  it("reads the driver did not see are taken from the stored invocation records, each once", () => {
    const kis = CHAOS_FLOWS.kis;
    const attributed = new Set<string>(["r1|0|20000"]);
    const records = [
      { runId: "r1", startedAt: 1_000, finishedAt: 2_000, windows: [{ from: 0, to: 20_000, complete: true }] },
      { runId: "r2", startedAt: 5_200, finishedAt: 5_900, windows: [{ from: 0, to: 20_000, complete: false }] },
      { runId: "r3", startedAt: 5_300, finishedAt: 6_400, windows: [{ from: 0, to: 20_000, complete: true }] },
    ];
    const queryEdit = edit({ via: "query" });
    expect(needsAnotherRun(kis, [queryEdit], [])).toBe(true);
    const reads = unseenReads(records, attributed);
    expect(reads).toEqual([{ from: 0, to: 20_000, tickAt: 5_300, doneAt: 6_400 }]);
    expect(needsAnotherRun(kis, [queryEdit], reads)).toBe(false);
    expect(unseenReads(records, attributed)).toEqual([]);
    // A record that completed the window before the edit does not count.
    expect(needsAnotherRun(kis, [queryEdit], unseenReads(records.slice(0, 1), new Set()))).toBe(true);
  });

  // Seed 9102 long on the final batch: the driver's give-up compared the text that also lists the windows read, which
  // changes every round, so it never gave up and the flow ran to its invocation limit.
  it("names the same unread edits the same way whatever was read since", () => {
    const kis = CHAOS_FLOWS.kis;
    const e = edit({ via: "query" });
    const before = unreadEditIds([kis], [e], new Map([[kis, [{ from: 0, to: 5_000, tickAt: 6_000 }]]]));
    const after = unreadEditIds(
      [kis],
      [e],
      new Map([
        [
          kis,
          [
            { from: 0, to: 5_000, tickAt: 6_000 },
            { from: 5_000, to: 9_000, tickAt: 7_000 },
          ],
        ],
      ]),
    );
    expect(before).not.toBe("");
    expect(after).toBe(before);
  });

  it("waits for the clock, not for invocations, when an unread edit lies past what the reads can reach yet", () => {
    const kis = CHAOS_FLOWS.kis;
    const stamp = 1_000_000;
    const e = edit({ via: "query", modifiedMs: stamp, madeAt: stamp + 60_000 });
    // The latest read ended 4 min behind the host (end lag + source clock): the stamp is reachable at stamp + 4 min.
    const reads = new Map([[kis, [{ from: stamp - 600_000, to: stamp - 60_000, tickAt: stamp + 180_000 }]]]);
    expect(editWaitMs([kis], [e], reads, stamp + 200_000)).toBe(30_000); // 41 s away: at most 30 s a round
    expect(editWaitMs([kis], [e], reads, stamp + 230_000)).toBe(11_000);
    expect(editWaitMs([kis], [e], reads, stamp + 260_000)).toBe(1000); // reachable now: the usual second
    expect(editWaitMs([kis], [], reads, stamp)).toBe(1000);
  });

  it("an edit made while a query reads past Jushuitan's clock is stamped by that clock, not past the window (quick seed 20261127)", async () => {
    const behindMs = 5 * 60_000;
    for (const stamp of ["now", "afterWindow"] as const) {
      const setup = await startJst({
        emulator: { documents: { [JST_PATHS.otherInOut]: 6 }, clockOffsetMs: -behindMs, range: { from: T0 - 3_600_000, to: T0 - 2 * behindMs } },
      });
      try {
        setup.emulator.addFaults({ kind: "editServed", path: JST_PATHS.otherInOut, change: "quantity", stamp, afterLagMs: 60_000, skip: 1 });
        // The window ends at the host's now, 5 minutes past Jushuitan's clock: a first request before the skew is known.
        await collect(setup.client.pages(JST_PATHS.otherInOut, {}, { window: { from: T0 - 2 * 3_600_000, to: T0 }, pageSize: 2 }));
        const log = (await (await fetch(`${setup.url}/__emulator/edits`)).json()) as EditRecord[];
        expect(log, stamp).toHaveLength(1);
        expect(log[0]!.modifiedMs, stamp).toBeLessThanOrEqual(T0 - behindMs);
      } finally {
        await setup.close();
      }
    }
  });

  it("a read dated ahead (shared-cron tick) does not shorten the wait below the end lag (seeds 4264, 4280 long)", () => {
    const kis = CHAOS_FLOWS.kis;
    const stamp = 1_000_000;
    const e = edit({ modifiedMs: stamp, madeAt: stamp + 200_000 });
    // The latest read (before the edit) ended only 2 min behind the host, its scheduledTime 3 min ahead; the next
    // runs read to now − 5 min.
    const reads = new Map([[kis, [{ from: stamp - 600_000, to: stamp + 60_000, tickAt: stamp + 180_000 }]]]);
    expect(editReachMs([kis], [e], reads, stamp + 205_000, 300_000)).toBe(96_000);
    expect(editWaitMs([kis], [e], reads, stamp + 290_000, 300_000)).toBe(11_000);
    expect(editWaitMs([kis], [e], reads, stamp + 310_000, 300_000)).toBe(1000);
  });

  it("the emulator notes when an edited row is next served", async () => {
    const setup = await startJst({ emulator: { documents: { [JST_PATHS.otherInOut]: 4 } } });
    try {
      const key = String(setup.emulator.documents(JST_PATHS.otherInOut)[0]!.io_id);
      await fetch(`${setup.url}/__emulator/edit`, { method: "POST", body: JSON.stringify({ path: JST_PATHS.otherInOut, key, change: "quantity" }) });
      const log = async () => (await (await fetch(`${setup.url}/__emulator/edits`)).json()) as EditRecord[];
      expect((await log())[0]!.servedAt).toBeUndefined();
      await collect(setup.client.pages(JST_PATHS.otherInOut, {}, { window: { from: T0 - 30 * DAY, to: T0 + DAY } }));
      const [served] = await log();
      expect(served!.servedAt).toBeGreaterThanOrEqual(served!.madeAt);
    } finally {
      await setup.close();
    }
  });
});

describe("chaos verdict: corrections and unread versions", () => {
  it("counts correction documents by kind", () => {
    expect(
      countCorrections(["1", "1-R1", "1-B1", "2-R1", "3-C1"], ["SO-2026-12-04-1", "SO-2026-12-04-1-C1", "SO-2026-12-04-1-C2", "SO-2026-12-04-1-S1"]),
    ).toEqual({
      reversals: 2,
      rebooked: 1,
      deltas: 1,
      groupCorrections: 2,
      supplements: 1,
    });
  });

  it("a target may hold any version of a document re-stamped past the covered range, never a mix", () => {
    const start = new Map<string, Row>([["7", { status: "Confirmed", items: [line(A, 3)] }]]);
    const edits = [edit2("7", { status: "Confirmed", items: [line(A, 4)] }), edit2("7", { status: "Cancelled", items: [line(A, 4)] })];
    const versions = versionsOf(start, edits, JST_PATHS.salesOut).get("7")!;
    expect(versions).toHaveLength(3);
    const qty = (v: { status: unknown; items: unknown }) =>
      v.status === "Confirmed" ? Object.fromEntries((v.items as Row[]).map((i) => [String(i.sku_id), Number(i.qty)])) : undefined;
    const fixed = { [B]: 1 };
    expect(explainedByVersions(fixed, [versions], { [A]: 3, [B]: 1 }, qty, true)).toBe(true);
    expect(explainedByVersions(fixed, [versions], { [A]: 4, [B]: 1 }, qty, true)).toBe(true);
    expect(explainedByVersions(fixed, [versions], { [B]: 1 }, qty, true)).toBe(true);
    expect(explainedByVersions(fixed, [versions], { [A]: 7, [B]: 1 }, qty, true)).toBe(false);
    expect(explainedByVersions(fixed, [versions], { [A]: 3 }, qty, true)).toBe(false);
  });

  it("a group may hold an edited member and an unedited member both re-stamped past the range (quick seed 20261123)", () => {
    // Seed 20261123 after Shanghai midnight: the day's voucher holds member 196 as first read (two lines) and member
    // 201; page drift then re-stamped both to "now", past the range, after 196 lost a line. Both are read when today
    // closes; until then the target may hold any version of each, alongside the members read inside the range.
    const C = SKUS[2]!.skuId;
    const range = { from: Date.parse("2026-12-04T15:00:00Z"), to: Date.parse("2026-12-05T16:00:00Z") };
    const member = (id: string, modified: string, items: Row[]): Row => ({ io_id: id, status: "Confirmed", modified, items });
    const inRange = member("172", "2026-12-05 17:44:28", [line(A, 4)]);
    const edited = member("196", "2026-12-06 02:53:06", [line(B, 4)]);
    const drifted = member("201", "2026-12-06 02:53:06", [line(B, 5)]);
    const versions = versionsOf(
      new Map([["196", { status: "Confirmed", items: [line(B, 4), line(C, 5)] }]]),
      [{ ...edit2("196", { status: "Confirmed", items: [line(B, 4)] }), change: "removeLine" }],
      JST_PATHS.salesOut,
    );
    const qty = (v: { status: unknown; items: unknown }) => {
      if (v.status !== "Confirmed") return undefined;
      const out: Record<string, number> = {};
      for (const i of v.items as Row[]) out[String(i.sku_id)] = (out[String(i.sku_id)] ?? 0) + Number(i.qty);
      return out;
    };
    const members = [inRange, edited, drifted];
    expect(restampedGroupExplained(members, versions, range, { [A]: 4, [B]: 9, [C]: 5 }, qty)).toBe(true);
    expect(restampedGroupExplained(members, versions, range, { [A]: 4, [B]: 4, [C]: 5 }, qty)).toBe(true);
    expect(restampedGroupExplained(members, versions, range, { [A]: 4 }, qty)).toBe(true);
    // never more than some version of each, never without the members read inside the range
    expect(restampedGroupExplained(members, versions, range, { [A]: 4, [B]: 14, [C]: 5 }, qty)).toBe(false);
    expect(restampedGroupExplained(members, versions, range, { [B]: 9, [C]: 5 }, qty)).toBe(false);
  });
});

function edit2(key: string, after: { status: unknown; items: unknown }): EditRecord {
  return { path: JST_PATHS.salesOut, key, change: "quantity", modifiedMs: 0, madeAt: 0, via: "query", after };
}
