import { describe, expect, it } from "vitest";
import { parseDotenv } from "../../action/cli/dotenv.ts";
import { parseDateOption, parseDuration, parseRange, rangeLabel } from "../../action/cli/dates.ts";
import { Redactor } from "../../action/cli/io.ts";
import { CombinedFlowLock, StateLeaseLock } from "../../action/cli/lease-lock.ts";
import { createNodeFetch } from "../../action/cli/node-fetch.ts";
import { paceJushuitan } from "../../action/cli/pacing.ts";
import { ProgressLine } from "../../action/cli/progress.ts";
import { MemoryFlowLock } from "../../shared/state/lock.ts";
import { MemoryKeyValueStore } from "../../shared/state/memory-kv.ts";
import { ManualClock } from "../emulators/manual-clock.ts";
import { serveOnLoopback } from "../emulators/node/serve.ts";

describe(".env parser", () => {
  it("reads plain, exported, quoted, multi-line and commented values", () => {
    const env = parseDotenv(
      [
        "# comment",
        "JST_APP_KEY=abc",
        "export JST_APP_SECRET = 's3cr#t'",
        'TPLUS_PRIVATE_KEY="-----BEGIN PRIVATE KEY-----',
        "MIIB",
        '-----END PRIVATE KEY-----"',
        "ESCAPED=\"a\\nb 'q'\"",
        "INLINE=value # trailing comment",
        "EMPTY=",
      ].join("\n"),
    );
    expect(env).toEqual({
      JST_APP_KEY: "abc",
      JST_APP_SECRET: "s3cr#t",
      TPLUS_PRIVATE_KEY: "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----",
      ESCAPED: "a\nb 'q'",
      INLINE: "value",
      EMPTY: "",
    });
  });

  it("names the line of a bad entry without echoing it", () => {
    expect(() => parseDotenv("A=1\nthis is secret text\n")).toThrow(/\.env:2 is not a KEY=value line/);
    try {
      parseDotenv("A=1\nthis is secret text\n");
    } catch (e) {
      expect(String((e as Error).message)).not.toContain("secret text");
    }
    expect(() => parseDotenv('K="open')).toThrow(/no closing "/);
    // Node's reader (util.parseEnv) has no \" escape: it would cut the value at the first ", so the line is refused.
    expect(() => parseDotenv('K="say \\"hi\\""')).toThrow(/\.env:1: the value of K has text after its closing "/);
  });
});

describe("dates and durations", () => {
  it("reads Shanghai wall-clock dates; a --to date includes its day", () => {
    expect(parseDateOption("from", "2024-06-01")).toBe(Date.UTC(2024, 4, 31, 16));
    expect(parseDateOption("to", "2024-06-01", undefined, true)).toBe(Date.UTC(2024, 5, 1, 16));
    expect(parseDateOption("to", "2024-06-01 12:30:00", undefined, true)).toBe(Date.UTC(2024, 5, 1, 4, 30));
    expect(parseRange("2024-06-01", "2024-06-07")).toEqual({ from: Date.UTC(2024, 4, 31, 16), to: Date.UTC(2024, 5, 7, 16) });
    // Compact dates are dates too (the time module reads them), a date-only `to` includes its day either way.
    expect(parseRange("20240601", "20240607")).toEqual(parseRange("2024-06-01", "2024-06-07"));
    expect(() => parseRange("2024-06-07", "2024-06-01 00:00")).toThrow(/--to .* is not after --from/);
    expect(() => parseDateOption("from", "06/01/2024")).toThrow(/--from "06\/01\/2024" is not a date/);
  });

  it("labels whole days inclusively", () => {
    expect(rangeLabel(parseRange("2024-06-01", "2024-06-01")!)).toBe("2024-06-01");
    expect(rangeLabel(parseRange("2024-06-01", "2024-06-07")!)).toBe("2024-06-01 … 2024-06-07");
    expect(rangeLabel({ from: Date.UTC(2024, 5, 1, 1), to: Date.UTC(2024, 5, 1, 2) })).toBe("2024-06-01 09:00 … 2024-06-01 10:00");
  });

  it("parses windows up to 7 days", () => {
    expect(parseDuration("window", "1d")).toBe(86_400_000);
    expect(parseDuration("window", "12h")).toBe(43_200_000);
    expect(parseDuration("window", "2")).toBe(172_800_000);
    expect(() => parseDuration("window", "8d")).toThrow(/between 1m and 7d/);
    expect(() => parseDuration("window", "soon")).toThrow(/--window "soon"/);
  });
});

describe("the CLI's lease (a record in the shared state)", () => {
  it("excludes a second holder, survives a crashed holder by expiry (take-over), and releases only for the holder", async () => {
    const clock = new ManualClock();
    const kv = new MemoryKeyValueStore({ now: () => clock.now() });
    const a = new StateLeaseLock(kv, clock);
    const b = new StateLeaseLock(kv, clock); // another process, same state
    expect((await a.acquire("flow-x", "run-a", 60_000)).acquired).toBe(true);
    const refused = await b.acquire("flow-x", "run-b", 60_000);
    expect(refused).toMatchObject({ acquired: false, holder: "run-a" });
    expect((await b.release("flow-x", "run-b")).released).toBe(false);
    clock.advance(61_000); // run-a crashed: its lease ran out
    const taken = await b.acquire("flow-x", "run-b", 60_000);
    expect(taken).toMatchObject({ acquired: true, tookOverFrom: "run-a" });
    expect((await b.release("flow-x", "run-b")).released).toBe(true);
    expect(await kv.get("lease:flow-x")).toBeNull();
  });

  it("scopes backfill ranges: disjoint ranges of one flow run side by side, the same range does not", async () => {
    const clock = new ManualClock();
    const kv = new MemoryKeyValueStore({ now: () => clock.now() });
    const memory = new MemoryFlowLock(clock);
    const range1 = new CombinedFlowLock(memory, new StateLeaseLock(kv, clock, "1-2"), "1-2");
    const range2 = new CombinedFlowLock(memory, new StateLeaseLock(kv, clock, "2-3"), "2-3");
    const range1again = new CombinedFlowLock(memory, new StateLeaseLock(kv, clock, "1-2"), "1-2");
    expect((await range1.acquire("flow-x", "r1", 60_000)).acquired).toBe(true);
    expect((await range2.acquire("flow-x", "r2", 60_000)).acquired).toBe(true);
    expect((await range1again.acquire("flow-x", "r3", 60_000)).acquired).toBe(false);
    expect((await kv.list("lease:flow-x")).sort()).toEqual(["lease:flow-x:1-2", "lease:flow-x:2-3"]);
  });

  it("loses to a write that lands after its own (read-back, last write wins)", async () => {
    const clock = new ManualClock();
    const kv = new MemoryKeyValueStore({ now: () => clock.now() });
    // Another host writes its record between our write and our read-back.
    const racing = {
      get: (k: string) => kv.get(k),
      put: async (k: string, v: string, o?: { expirationTtl?: number }) => {
        await kv.put(k, v, o);
        await kv.put(k, JSON.stringify({ flowId: "flow-x", runId: "other-host", acquiredAt: clock.now(), expiresAt: clock.now() + 60_000 }), o);
      },
      delete: (k: string) => kv.delete(k),
      list: (p: string) => kv.list(p),
    };
    expect(await new StateLeaseLock(racing, clock).acquire("flow-x", "me", 60_000)).toMatchObject({ acquired: false, holder: "other-host" });
  });
});

describe("progress line and redaction", () => {
  it("redraws in place on a terminal with windows, pages, documents, rate and ETA; prints nothing elsewhere", () => {
    let wall = 0;
    const out: string[] = [];
    const line = new ProgressLine({ write: (t: string) => out.push(t), isTTY: true, columns: 200 }, () => wall, { enabled: true });
    line.plan(4);
    const window = { from: Date.UTC(2024, 5, 1, 16), to: Date.UTC(2024, 5, 2, 16) };
    wall = 2000;
    line.update({ window, windowIndex: 0, windowCount: 4, pages: 3, read: 90, written: 88 });
    line.windowDone();
    expect(out.at(-1)).toBe("\r\x1b[2Kwindows 1/4 · 2024-06-02 · pages 3 · docs 90 read / 88 written · 45 docs/s · ETA 0:06");
    line.log("warn: something");
    expect(out.slice(-3)).toEqual(["\r\x1b[2K", "warn: something\n", expect.stringMatching(/^\r\x1b\[2Kwindows 1\/4/)]);
    const quiet: string[] = [];
    const off = new ProgressLine({ write: (t: string) => quiet.push(t) }, () => wall, { enabled: false });
    off.plan(2);
    off.update({ window, windowIndex: 0, pages: 1, read: 1, written: 1 });
    expect(quiet).toEqual([]);
  });

  it("redacts every secret value of the environment, longest first", () => {
    const r = new Redactor({ JST_APP_SECRET: "abcd1234", KIS_AUTH_DATA: "abcd1234-longer", JST_APP_KEY: "visible-key" });
    expect(r.apply("x abcd1234-longer y abcd1234 z visible-key")).toBe("x [redacted] y [redacted] z visible-key");
  });
});

describe("the CLI's fetch port and Jushuitan pacing", () => {
  it("node:http fetch: string bodies and headers out, a web Response back; an aborted request rejects with the abort reason", async () => {
    let seen: { method: string; body: string; type: string | null } | undefined;
    const server = await serveOnLoopback({
      fetch: async (req: Request) => {
        if (new URL(req.url).pathname === "/slow") return new Promise<Response>(() => {});
        seen = { method: req.method, body: await req.text(), type: req.headers.get("content-type") };
        return new Response(JSON.stringify({ ok: 1 }), { status: 201, headers: { "content-type": "application/json", "x-a": "b" } });
      },
    });
    try {
      const fetch = createNodeFetch();
      const res = await fetch(`${server.url}/echo`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ a: "1 2" }).toString(),
      });
      expect(res.status).toBe(201);
      expect(res.headers.get("x-a")).toBe("b");
      expect(await res.json()).toEqual({ ok: 1 });
      expect(seen).toEqual({ method: "POST", body: "a=1+2", type: "application/x-www-form-urlencoded" });
      const controller = new AbortController();
      const pending = fetch(`${server.url}/slow`, { signal: controller.signal });
      controller.abort(new Error("gave up"));
      await expect(pending).rejects.toThrow("gave up");
      await expect(fetch("http://127.0.0.1:9/nothing")).rejects.toThrow("fetch failed");
    } finally {
      await server.close();
    }
  });

  it("paces requests to the Jushuitan host process-wide (100 per minute across separate clients), not other hosts", async () => {
    const clock = new ManualClock(0);
    const sent: Array<{ url: string; at: number }> = [];
    const base = async (input: Request | string | URL) => {
      sent.push({ url: String(input), at: clock.now() });
      return new Response("{}");
    };
    // Two "windows" with separate wrappers, as the runner builds a client per window.
    const first = paceJushuitan(base, "https://jst.example", clock);
    const second = paceJushuitan(base, "https://jst.example", clock);
    for (let i = 0; i < 100; i++) await first("https://jst.example/open/x");
    for (let i = 0; i < 5; i++) await second("https://jst.example/open/x");
    await second("https://kis.example/koas/y");
    const jst = sent.filter((s) => s.url.startsWith("https://jst.example"));
    expect(jst[100]!.at - jst[0]!.at).toBeGreaterThanOrEqual(60_000);
    expect(sent.at(-1)!.url).toBe("https://kis.example/koas/y");
  });
});
