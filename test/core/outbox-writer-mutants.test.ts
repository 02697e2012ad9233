/**
 * shared/engine/outbox-writer.ts against its Stryker survivors (issue 18 item 6), through the real engine, state store,
 * T+ client and emulators: the group registry a closed plan leaves (members, supplement count), the planned statuses
 * of a dry run (new, supplement), a part's ledger entry (the voucher's id), and the conflict letter and registry entry
 * of a group whose key is taken under another maxLines split. Explicit clock (E2E_START); nothing reads the wall clock.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";

vi.setConfig({ testTimeout: 120_000 });
const TPLUS = "jst-sales-out-to-tplus";
type Row = Record<string, unknown>;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

const ledger = async (env: E2E, key: string) => (await new FlowStateStore(env.kv).ledgerLookup(TPLUS, [key])).get(key);

/** Confirmed offline sales of a day and warehouse, as the T+ flow groups them (SO-<day>-<wms_co_id>). */
function membersOf(env: E2E, day: string, wms: string): string[] {
  return env.stack.jushuitan
    .documents(JST_PATHS.salesOut)
    .filter((d) => d.shop_id === 0 && d.status === "Confirmed" && String(d.io_date).startsWith(day) && String(d.wms_co_id) === wms)
    .map((d) => String(d.io_id));
}

describe("outbox writer", () => {
  it("a closed plan leaves the group's members and supplement count in the registry; a dry run plans new and supplement", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 120 });
    const env = e2e;
    const flow = env.flows[TPLUS]!;
    // Windows on modified, groups by io_date (merge-modified-windows.test.ts): a late sale is read by the next run.
    flow.source.params = { ...flow.source.params, date_type: 0 };
    flow.source.timeField = "modified";
    const dry = await env.run(TPLUS, { dryRun: true });
    expect(dry.planned.length).toBeGreaterThan(0);
    expect(new Set(dry.planned.map((p) => p.status))).toEqual(new Set(["new"]));
    expect((await env.runToCompletion(TPLUS)).at(-1)!.outcome).toBe("success");
    const jst = env.stack.jushuitan;
    const template = jst.documents(JST_PATHS.salesOut).find((d) => d.shop_id === 0 && d.status === "Confirmed" && String(d.io_date).startsWith("2024-06-18"))!;
    const wms = String(template.wms_co_id);
    const group = `SO-2024-06-18-${wms}`;
    const members = membersOf(env, "2024-06-18", wms);
    expect(await ledger(env, group)).toMatchObject({ externalKey: group, members });
    expect(await ledger(env, `group:${group}`)).toMatchObject({ contentHash: "group", members, supplements: 0 });

    const { io_id: _id, ts: _ts, modified: _m, ...rest } = template;
    const late: string[] = [];
    for (const n of [1, 2]) {
      late.push(String(jst.upsertDocument(JST_PATHS.salesOut, rest).io_id));
      env.clock.advance(86_400_000); // merged windows end at the start of today: the sale is read once its save day is over
      if (n === 1) {
        const planned = (await env.run(TPLUS, { dryRun: true })).planned;
        expect(planned.filter((p) => p.externalKey.startsWith(group)).map((p) => [p.externalKey, p.status, p.members])).toEqual([
          [`${group}-S1`, "supplement", late],
        ]);
      }
      expect((await env.runToCompletion(TPLUS)).at(-1)!.outcome).toBe("success");
      expect(await ledger(env, `group:${group}`)).toMatchObject({ members: [...members, ...late], supplements: n });
      expect(await ledger(env, `${group}-S${n}`)).toMatchObject({ members: [late.at(-1)] });
    }
  });

  it("a group whose key is taken under another split is one conflict letter with every member's row, settled in the registry", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 120 });
    const env = e2e;
    const flow = env.flows[TPLUS]!;
    // Whole written days are rebuilt after a ledger reset on io_date windows (engine-verify-existing.test.ts).
    flow.source.params.date_type = 2;
    flow.source.timeField = "io_date";
    flow.incremental.lookbackMinutes = 1440;
    await env.runToCompletion(TPLUS);
    const written = env.stack.tplus.vouchers("otherDispatch").map((v) => v.ExternalCode);
    for (const key of await env.kv.list(`ledger:${TPLUS}:`)) await env.kv.delete(key);
    if (flow.operation?.type !== "merge") throw new Error("seed flow is a merge flow");
    flow.operation.maxLines = 2; // every group now splits into <key>-1, <key>-2 …: new ExternalCodes
    env.clock.advance(60 * 60_000);
    await env.runToCompletion(TPLUS);
    expect(env.stack.tplus.vouchers("otherDispatch").map((v) => v.ExternalCode)).toEqual(written);
    const letters = await new FlowStateStore(env.kv).listDeadLetters(TPLUS);
    expect(letters.length).toBeGreaterThan(0);
    const letter = letters[0]!;
    const group = String(letter.externalKey).replace(/-1$/, "");
    const [, day, wms] = /^SO-(\d{4}-\d{2}-\d{2})-(.+)$/.exec(group)!;
    const members = membersOf(env, day!, wms!);
    expect(members.length).toBeGreaterThan(1);
    expect(letter).toMatchObject({ error: { code: "conflict" }, externalKey: `${group}-1`, sourceId: members[0] });
    expect((letter.source as Row[]).map((r) => String(r.io_id))).toEqual(members);
    // The letter holds the plan (its unit and parts), so replaying it writes exactly those parts.
    expect(JSON.stringify(letter.payload)).toContain(`"unit":"${group}#S0"`);
    expect(await ledger(env, `group:${group}`)).toMatchObject({ contentHash: "group", members, supplements: 0 });
  });
});
