/**
 * `node bench/tplus-windows.ts [documents=10000]`: Jushuitan requests the T+ seed spends to read one day of N
 * sales-out documents, windows on `modified` (the seed since issue 11 item 4) against windows on io_date (the
 * option), runs every N minutes (default the seed's daily cron), the re-sweep off and on, emulators over loopback
 * HTTP. `node bench/tplus-windows.ts [documents] [minutes between runs=1440] [modes=modified,io_date]`.
 * The day's documents are saved through the day (io_date up to 2 hours before the save); runs go on for a second
 * day so the first one is closed and written. Counted: requests to /open/orders/out/simple/query over the two days,
 * with the re-sweep off (RESWEEP_DAYS 0) and on (the difference is the re-sweep's cost); the minimum is one read of
 * every document, ⌈N / page size⌉ pages. vouchers: originals + supplements written for the day.
 */
import { JST_PATHS } from "../test/emulators/jushuitan/index.ts";
import { startE2E } from "../test/helpers/e2e.ts";
import { formatInZone } from "../shared/util/time.ts";
import type { FetchLike } from "../shared/ports.ts";

const N = Number(process.argv[2] ?? 10_000);
/** Minutes between runs: 1440 is the seed's daily cron, 15 a busy schedule. */
const STEP_MINUTES = Number(process.argv[3] ?? 1440);
const TPLUS = "jst-sales-out-to-tplus";
const STEP = STEP_MINUTES * 60_000;
const STEPS_PER_DAY = Math.max(1, Math.round(1440 / STEP_MINUTES));
const SAVES_PER_DAY = 96; // documents are saved through the day in 15-minute batches

async function measure(mode: "modified" | "io_date", resweep: boolean) {
  const e2e = await startE2E({ otherInOut: 0, salesOut: 40, days: 2, env: resweep ? {} : { RESWEEP_DAYS: "0" } });
  const flow = e2e.flows[TPLUS]!;
  if (mode === "io_date") {
    flow.source.params.date_type = 2;
    flow.source.timeField = "io_date";
    flow.incremental.lookbackMinutes = 1440; // the io_date option needs a day of lookback (docs/merge-policy.md)
  }
  const pageSize = flow.source.paging.pageSize ?? 50;
  let requests = 0;
  const counting: FetchLike = (input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    if (url.includes("/open/orders/out/simple/query")) requests++;
    return globalThis.fetch(input, init);
  };
  const runAll = async () => {
    for (let i = 0; i < 500; i++) {
      const { summary } = await e2e.run(TPLUS, {}, { fetch: counting });
      if (!summary.continues) return;
    }
  };
  await runAll(); // catch up with the generated history (not counted)
  requests = 0;
  const jst = e2e.stack.jushuitan;
  const template = jst.documents(JST_PATHS.salesOut).find((d) => d.shop_id === 0 && d.status === "Confirmed")!;
  const { io_id: _i, ts: _t, modified: _m, ...rest } = template;
  let saved = 0;
  const saveThrough = async (until: number) => {
    // Saves the day's documents in 15-minute batches up to `until` (io_date up to 2 hours before the save).
    while (saved < N && savedAt + 15 * 60_000 <= until) {
      savedAt += 15 * 60_000;
      e2e.clock.set(savedAt);
      const due = Math.round((Math.min(SAVES_PER_DAY, Math.round((savedAt - dayStart) / (15 * 60_000))) * N) / SAVES_PER_DAY);
      for (; saved < due; saved++) {
        const ioDate = e2e.clock.now() - Math.floor(Math.random() * 2 * 3_600_000);
        jst.upsertDocument(JST_PATHS.salesOut, { ...rest, io_date: formatInZone(ioDate, "YYYY-MM-DD HH:mm:ss") });
      }
    }
    e2e.clock.set(until);
  };
  const dayStart = e2e.clock.now();
  let savedAt = dayStart;
  for (let step = 0; step < 2 * STEPS_PER_DAY; step++) {
    await saveThrough(dayStart + (step + 1) * STEP - STEP);
    await saveThrough(dayStart + (step + 1) * STEP);
    await runAll();
  }
  const vouchers = e2e.stack.tplus.vouchers("otherDispatch").length;
  await e2e.close();
  return { mode, resweep, everyMinutes: STEP_MINUTES, documents: N, minimumPages: Math.ceil(N / pageSize), requests, vouchers };
}

const modes = (process.argv[4] ?? "modified,io_date").split(",") as Array<"modified" | "io_date">;
const rows = [];
for (const mode of modes) for (const resweep of [false, true]) rows.push(await measure(mode, resweep));
console.table(rows);
