/**
 * `node bench/jst-paging.ts`: pages 10,000 other-in/out documents through the Jushuitan emulator over
 * loopback HTTP (real fetch, real clock, rate limits raised on both sides) and prints wall time, the
 * request count and the minimum possible request count, for window paging and for cursor paging.
 */
import { JushuitanClient } from "../shared/connectors/jushuitan/client.ts";
import { splitWindow } from "../shared/connectors/jushuitan/paging.ts";
import { MemoryTokenStore, systemClock } from "../shared/ports.ts";
import { parseInZone } from "../shared/util/time.ts";
import { createJushuitanEmulator } from "../test/emulators/jushuitan/index.ts";
import { serveOnLoopback } from "../test/emulators/node/serve.ts";

const PATH = "/open/other/inout/query";
const DOCUMENTS = 10_000;
const DAY = 86_400_000;
const PAGE = 50;

const to = Date.now() - 3_600_000;
const from = to - 28 * DAY;
const emulator = createJushuitanEmulator({
  documents: { [PATH]: DOCUMENTS },
  range: { from, to },
  limits: { perSecond: 1_000_000, perMinute: 60_000_000 },
});
const server = await serveOnLoopback(emulator.app);
const client = new JushuitanClient({
  baseUrl: server.url,
  appKey: emulator.credentials.appKey,
  appSecret: emulator.credentials.appSecret,
  tokenStore: new MemoryTokenStore(),
  fetch: (input, init) => fetch(input, init),
  clock: systemClock,
  initialTokens: { accessToken: emulator.credentials.accessToken, refreshToken: emulator.credentials.refreshToken },
  limits: { perSecond: 1_000_000, perMinute: 60_000_000 },
});

const stored = emulator.documents(PATH);
const windows = splitWindow({ from, to }, 7 * DAY);
const minimumWindowRequests = windows.reduce((sum, w) => {
  const n = stored.filter((r) => {
    const m = parseInZone(String(r.modified))!;
    return m >= w.from && m <= w.to;
  }).length;
  return sum + Math.max(1, Math.ceil(n / PAGE));
}, 0);

async function run(label: string, scan: () => AsyncIterable<{ rows: Record<string, unknown>[] }>, minimum: number, note: string) {
  emulator.clearRequests();
  const started = performance.now();
  const ids = new Set<unknown>();
  let rows = 0;
  for await (const page of scan()) {
    rows += page.rows.length;
    for (const r of page.rows) ids.add(r.io_id);
  }
  const ms = performance.now() - started;
  const log = emulator.requests();
  const throttled = log.filter((r) => r.code === 199 || r.code === 200).length;
  console.log(
    `${label.padEnd(7)} rows=${rows} distinct=${ids.size} wall=${ms.toFixed(0)} ms requests=${log.length} minimum=${minimum} (${note}) throttled=${throttled} ` +
      `→ ${((rows / ms) * 1000).toFixed(0)} rows/s`,
  );
  if (ids.size !== DOCUMENTS) throw new Error(`${label}: read ${ids.size} distinct documents, expected ${DOCUMENTS}`);
}

try {
  console.log(`Jushuitan paging bench: ${DOCUMENTS} documents over 28 days, page size ${PAGE}, loopback HTTP, limits raised`);
  await run("window", () => client.pages(PATH, {}, { window: { from, to } }), minimumWindowRequests, `${windows.length} windows × ⌈rows/50⌉`);
  // Cursor: the first page brings 50 rows, each further one 49 (the ≥ cursor repeats the boundary row).
  const minimumCursor = 1 + Math.ceil((DOCUMENTS - PAGE) / (PAGE - 1));
  await run("cursor", () => client.cursorPages(PATH, {}, { startTs: 0 }), minimumCursor, "1 + ⌈(rows−50)/49⌉");
} finally {
  await server.close();
}
