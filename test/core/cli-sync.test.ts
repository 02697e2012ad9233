import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseRange } from "../../action/cli/dates.ts";
import { StateLeaseLock } from "../../action/cli/lease-lock.ts";
import { FileKeyValueStore } from "../../action/state/file-kv.ts";
import { SEED_FLOW_DOCUMENTS } from "../../shared/flows/index.ts";
import { startOfDayInZone, formatInZone } from "../../shared/util/time.ts";
import { DAY_MS } from "../../shared/engine/window.ts";
import { actualTargets, E2E_START, expectedTargets } from "../helpers/e2e.ts";
import { startCliHarness, type CliHarness } from "./cli-harness.ts";

const KIS = "jst-other-in-to-kis";
const TPLUS = "jst-sales-out-to-tplus";
const day = (ms: number) => formatInZone(ms, "YYYY-MM-DD");

let h: CliHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe("jst-bridge sync (CLI in-process, emulators over HTTP)", () => {
  it("backfills a range into KIS exactly, per window, and a second backfill writes nothing", async () => {
    h = await startCliHarness();
    const refs = await h.fillReferences();
    expect(refs.up.code, refs.up.stderr).toBe(0);
    expect(refs.up.stdout).toMatch(/warehouses: \d+ rows uploaded/);
    expect(refs.refresh.code, refs.refresh.stderr).toBe(0);

    const from = day(E2E_START - 6 * DAY_MS);
    const to = day(E2E_START - DAY_MS); // inclusive: ends at the start of E2E_START's day
    const first = await h.cli(["sync", KIS, "--from", from, "--to", to, "--json"]);
    expect(first.code, first.stderr).toBe(0);
    const report = JSON.parse(first.stdout);
    expect(report.mode).toBe("range");
    expect(report.windows.length).toBe(6);
    const until = startOfDayInZone(E2E_START);
    const expected = expectedTargets(h.e2e, { kis: until, tplusDayEnd: until }, startOfDayInZone(E2E_START - 6 * DAY_MS));
    const actual = actualTargets(h.e2e);
    expect(expected.kis.size).toBeGreaterThan(20);
    expect(Object.fromEntries(actual.kis)).toEqual(Object.fromEntries(expected.kis));
    expect(report.counts.written).toBe(expected.kis.size);
    expect(report.windows.reduce((n: number, w: { counts: { written: number } }) => n + w.counts.written, 0)).toBe(expected.kis.size);

    const again = await h.cli(["sync", KIS, "--from", from, "--to", to, "--json"]);
    expect(again.code, again.stderr).toBe(0);
    const second = JSON.parse(again.stdout);
    expect(second.counts.written).toBe(0);
    expect(second.counts.skipped).toBe(expected.kis.size);
    expect(actualTargets(h.e2e).kisCount).toBe(expected.kis.size);
  });

  it("without a range: an incremental run like the Worker's that moves the watermark (a flow file with startAt)", async () => {
    h = await startCliHarness();
    await h.fillReferences();
    const flow = structuredClone(SEED_FLOW_DOCUMENTS[KIS]) as { incremental: { startAt?: string } };
    const startAt = E2E_START - 6 * DAY_MS;
    flow.incremental.startAt = formatInZone(startAt);
    await writeFile(join(h.dir, "my-flow.json"), JSON.stringify(flow));
    const r = await h.cli(["sync", "my-flow.json", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.mode).toBe("incremental");
    expect(report.watermark.before).toBe(startAt);
    expect(report.watermark.after).toBe(E2E_START - 5 * 60_000); // now − endLag
    const expected = expectedTargets(h.e2e, { kis: report.watermark.after, tplusDayEnd: 0 }, startAt - 10 * 60_000);
    expect(report.counts.written).toBe(expected.kis.size);
    expect(Object.fromEntries(actualTargets(h.e2e).kis)).toEqual(Object.fromEntries(expected.kis));
    const files = await readdir(join(h.dir, ".jst-bridge"));
    expect(files).toContain("wm%3Ajst-other-in-to-kis.json");
    // The next incremental run continues from the saved watermark.
    h.e2e.clock.advance(3_600_000);
    const next = JSON.parse((await h.cli(["sync", "my-flow.json", "--json"])).stdout);
    expect(next.watermark.before).toBe(report.watermark.after);
  });

  it("--dry-run writes nothing and changes no state; a held lease over the same range refuses the run (exit 1)", async () => {
    h = await startCliHarness();
    await h.fillReferences();
    const from = day(E2E_START - 3 * DAY_MS);
    const to = day(E2E_START - DAY_MS);
    const dry = await h.cli(["sync", TPLUS, "--from", from, "--to", to, "--dry-run", "--json"]);
    expect(dry.code, dry.stderr).toBe(0);
    const report = JSON.parse(dry.stdout);
    expect(report.dryRun).toBe(true);
    expect(report.counts.written).toBe(0);
    expect(report.windows.reduce((n: number, w: { planned: { new?: number } }) => n + (w.planned.new ?? 0), 0)).toBeGreaterThan(3);
    expect(h.e2e.stack.tplus.vouchers("otherDispatch")).toHaveLength(0);
    expect((await readdir(join(h.dir, ".jst-bridge"))).filter((f) => /^(ledger|run|wm|lease)/.test(f))).toEqual([]);

    // Another process holds the lease of exactly this range.
    const range = parseRange(from, to)!;
    const other = new StateLeaseLock(new FileKeyValueStore({ dir: join(h.dir, ".jst-bridge") }), h.e2e.clock, `${range.from}-${range.to}`);
    expect((await other.acquire(TPLUS, "20240620T000000000Z-action-other", 10 * 60_000)).acquired).toBe(true);
    const locked = await h.cli(["sync", TPLUS, "--from", from, "--to", to]);
    expect(locked.code).toBe(1);
    expect(locked.stderr).toContain("is already running over this range (run 20240620T000000000Z-action-other");
    expect(h.e2e.stack.tplus.vouchers("otherDispatch")).toHaveLength(0);
    // A different range is not blocked.
    const elsewhere = await h.cli(["sync", TPLUS, "--from", day(E2E_START - 5 * DAY_MS), "--to", day(E2E_START - 4 * DAY_MS)]);
    expect(elsewhere.code, elsewhere.stderr).toBe(0);
    expect(h.e2e.stack.tplus.vouchers("otherDispatch").length).toBeGreaterThan(0);
  });

  it("shows a live progress line on a terminal (stderr) and the window table on stdout", async () => {
    h = await startCliHarness();
    await h.fillReferences();
    let stderr = "";
    const r = await h.cli(["sync", KIS, "--from", day(E2E_START - 2 * DAY_MS), "--to", day(E2E_START - DAY_MS)], {
      stderr: { isTTY: true, columns: 120, write: (t: string) => (stderr += t) },
    });
    expect(r.code).toBe(0);
    expect(stderr).toMatch(/\r\x1b\[2Kwindows 1\/2 · \d{4}-\d{2}-\d{2} · pages \d+ · docs \d+ read \/ \d+ written · \d+ docs\/s/);
    expect(stderr.endsWith("\r\x1b[2K")).toBe(true); // the line is cleared at the end
    expect(r.stdout).toMatch(/^window +outcome +pages +read +written +existed +skipped +dead letters\n/);
    expect(r.stdout).toMatch(/jst-other-in-to-kis: success · .* written · .* API calls/);
  });
});
