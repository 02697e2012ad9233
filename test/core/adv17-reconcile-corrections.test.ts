/**
 * Adversary 17: reconcile after issue-16 corrections. A posted KIS bill edited in 聚水潭 is corrected with
 * `<key>-R1` (red) + `<key>-B1` (blue); a cancelled one with `<key>-R1`. The target then holds the source's
 * current quantities (signed), so reconcile must report no drift; counting only `<key>` (and `-S<n>` supplements)
 * reports the edited bill as different forever, and a re-sweep cannot clear it.
 * Real engine, real clients, emulators over loopback HTTP.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { reconcile } from "../../shared/observe/reconcile.ts";
import { formatInZone, parseInZone } from "../../shared/util/time.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";

vi.setConfig({ testTimeout: 60_000 });
const KIS = "jst-other-in-to-kis";
type Row = Record<string, unknown>;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("adversary 17: reconcile counts corrections with their signs", () => {
  it.each([
    ["head+entry list rows", "headEntry"],
    // Flat list rows carry no lines: reconcile reads the detail of every key that belongs to an expected one
    // (key-scheme.ts baseKeyOf), corrections too — it read supplements only, so a correction counted as 0.
    ["flat list rows", "flat"],
  ] as const)("KIS (%s): after an edited bill is reversed and reposted and a cancelled one reversed, reconcile reports no drift", async (_, listRows) => {
    e2e = await startE2E({ otherInOut: 60, salesOut: 0, kis: { listRows } });
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    const jst = e2e.stack.jushuitan;
    const billNos = new Set(e2e.stack.kis.bills().map((b) => b.FBillNo));
    const [edited, cancelled] = jst.documents(JST_PATHS.otherInOut).filter((d) => billNos.has(String(d.io_id)));
    const items = structuredClone(edited!.items as Row[]);
    items[0]!.qty = Number(items[0]!.qty) + 7;
    jst.upsertDocument(JST_PATHS.otherInOut, { io_id: edited!.io_id, items });
    jst.upsertDocument(JST_PATHS.otherInOut, { io_id: cancelled!.io_id, status: "Cancelled" });
    e2e.clock.advance(15 * 60_000);
    const runs = await e2e.runToCompletion(KIS);
    expect(
      runs
        .flatMap((r) => r.corrections ?? [])
        .map((c) => c.externalKey)
        .sort(),
    ).toEqual([`${edited!.io_id}-B1`, `${edited!.io_id}-R1`, `${cancelled!.io_id}-R1`].sort());

    // From the documents' days (io_date) to today (the day of their edit: KIS reads the range by modified).
    const days = [edited!, cancelled!].map((d) => parseInZone(String(d.io_date).slice(0, 10))!);
    const today = parseInZone(formatInZone(e2e.clock.now(), "YYYY-MM-DD", "Asia/Shanghai"))!;
    const range = { from: Math.min(...days), to: today + 86_400_000 };
    const flow = e2e.ports.flows[KIS]!;
    const report = await reconcile({ flow, range }, e2e.ports);
    expect(report.mismatched).toEqual([]);
    expect(report.missing).toEqual([]);
    expect(report.drift).toBe(false);
    // Strict: the corrections are not "extra" manual entries either.
    const strict = await reconcile({ flow, range, strict: true }, e2e.ports);
    expect(strict.extra.filter((k) => k.startsWith(String(edited!.io_id)) || k.startsWith(String(cancelled!.io_id)))).toEqual([]);
  });
});
