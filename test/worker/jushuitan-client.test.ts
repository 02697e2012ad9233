import { describe, expect, it } from "vitest";
import { JushuitanClient, type JushuitanClientOptions } from "../../shared/connectors/jushuitan/client.ts";
import { JstBadResponseError, JstTimeoutError } from "../../shared/connectors/jushuitan/errors.ts";
import { signParams } from "../../shared/connectors/jushuitan/sign.ts";
import { MemoryTokenStore, type FetchLike } from "../../shared/ports.ts";
import { createJushuitanEmulator } from "../emulators/jushuitan/index.ts";
import { ManualClock } from "../emulators/manual-clock.ts";

const T0 = Date.UTC(2024, 5, 20, 2, 0, 0);
const DAY = 86_400_000;
const PATH = "/open/other/inout/query";

// The same client runs inside workerd; the emulator is reached in-process through its Hono app.
function setup(overrides: Partial<JushuitanClientOptions> = {}, documents = 300) {
  const clock = new ManualClock(T0);
  const emulator = createJushuitanEmulator({ now: () => clock.now(), rowTs: "all", documents: { [PATH]: documents }, range: { from: T0 - 10 * DAY, to: T0 } });
  const fetchPort: FetchLike = async (input, init) => emulator.app.fetch(new Request(input, init));
  const tokenStore = new MemoryTokenStore();
  const client = new JushuitanClient({
    baseUrl: "https://openapi.jushuitan.test",
    appKey: emulator.credentials.appKey,
    appSecret: emulator.credentials.appSecret,
    tokenStore,
    fetch: fetchPort,
    clock,
    initialTokens: { accessToken: emulator.credentials.accessToken, refreshToken: emulator.credentials.refreshToken },
    ...overrides,
  });
  return { clock, emulator, client, tokenStore };
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

describe("Jushuitan client inside workerd", () => {
  it("signs the official docId=70 vector with the runtime's text encoding", () => {
    const sign = signParams("e9c5ca33fecb404b8e6cdbd0ef4a6d25", {
      app_key: "5b53060f23d84ddf9703056e84fa5a2d",
      access_token: "d7b01bf0842a4742a9450e21ffd95f60",
      timestamp: "1639128407",
      version: "2",
      charset: "utf-8",
      biz: JSON.stringify({ page_index: "1", page_size: "100", nicks: ["老板"] }),
    });
    expect(sign).toBe("395f5a78b446be465ac03a02491296c7");
  });

  it("pages 300 documents over 10 days, refreshing the token mid-scan", async () => {
    const { emulator, client, tokenStore } = setup();
    emulator.addFaults({ kind: "tokenExpired", path: PATH, skip: 3 });
    const pages = await collect(client.pages(PATH, {}, { window: { from: T0 - 10 * DAY, to: T0 } }));
    const ids = new Set(pages.flatMap((p) => p.rows.map((r) => r.io_id)));
    expect(ids).toEqual(new Set(emulator.documents(PATH).map((r) => r.io_id)));
    expect(pages.reduce((s, p) => s + p.rows.length, 0)).toBe(300);
    const log = emulator.requests();
    expect(log.filter((r) => r.path === "/openWeb/auth/refreshToken")).toHaveLength(1);
    expect(log.filter((r) => r.code === 199 || r.code === 200)).toHaveLength(0);
    expect((await tokenStore.get("jushuitan"))?.accessToken).toBe(emulator.liveTokens()[0]!.accessToken);
  });

  it("reads by cursor", async () => {
    const { emulator, client } = setup({}, 120);
    const pages = await collect(client.cursorPages(PATH, {}, { startTs: 0 }));
    expect(pages.flatMap((p) => p.rows)).toHaveLength(120);
    expect(pages.at(-1)!.nextCursor).toBe(Math.max(...emulator.documents(PATH).map((r) => Number(r.ts))));
  });

  it("retries an HTML gateway page and reports it when retries are spent", async () => {
    const { emulator, client } = setup({ retry: { tries: 2 } });
    emulator.addFaults({ kind: "html" });
    const data = await client.call<{ datas: unknown[] }>(PATH, { modified_begin: "2024-06-18 00:00:00", modified_end: "2024-06-19 00:00:00" });
    expect(Array.isArray(data.datas)).toBe(true);
    emulator.addFaults({ kind: "html", times: 2 });
    await expect(client.call(PATH, { io_ids: ["1"] })).rejects.toBeInstanceOf(JstBadResponseError);
  });

  it("times out with the platform timer and aborts the request", async () => {
    const { emulator, client } = setup({ timeoutMs: 50, retry: { tries: 1 } });
    emulator.addFaults({ kind: "timeout", delayMs: 10_000 });
    const started = Date.now();
    await expect(client.call(PATH, { io_ids: ["1"] })).rejects.toBeInstanceOf(JstTimeoutError);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
