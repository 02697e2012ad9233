import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FileKeyValueStore, fileNameFor } from "../../action/state/file-kv.ts";
import { BridgeError, ConfigError } from "../../shared/errors.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { KvTokenStore } from "../../shared/state/token-store.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "jst-state-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("FileKeyValueStore", () => {
  it("persists across instances, lists by prefix in key order, deletes", async () => {
    const a = new FileKeyValueStore({ dir: join(dir, "state") });
    await a.put("wm:flow-a", '{"watermark":1}');
    await a.put("run:flow-a:2", "r2");
    await a.put("run:flow-a:1", "r1");
    await a.put("run:flow-b:1", "b1");
    const b = new FileKeyValueStore({ dir: join(dir, "state") });
    expect(await b.get("wm:flow-a")).toBe('{"watermark":1}');
    expect(await b.list("run:flow-a:")).toEqual(["run:flow-a:1", "run:flow-a:2"]);
    expect(await b.list("")).toHaveLength(4);
    await b.delete("run:flow-a:1");
    await b.delete("run:never");
    expect(await a.get("run:flow-a:1")).toBeNull();
    expect(await new FileKeyValueStore({ dir: join(dir, "missing") }).list("x")).toEqual([]);
  });

  it("keeps keys apart that differ only in case, and handles long and non-ASCII keys", async () => {
    const kv = new FileKeyValueStore({ dir });
    const long = `ledger:${"x".repeat(300)}:s`;
    await kv.put("tok:Tplus", "upper");
    await kv.put("tok:tplus", "lower");
    await kv.put(long, "long");
    await kv.put("ref:仓库:meta", "cjk");
    await kv.put(".hidden", "dot");
    expect(await kv.get("tok:Tplus")).toBe("upper");
    expect(await kv.get("tok:tplus")).toBe("lower");
    expect(await kv.get(long)).toBe("long");
    expect(await kv.list("ledger:")).toEqual([long]);
    expect(await kv.list("ref:")).toEqual(["ref:仓库:meta"]);
    expect(await kv.get(".hidden")).toBe("dot");
    expect(fileNameFor(long)).toMatch(/^~[0-9a-f]{32}\.json$/);
    // Distinct even on case-insensitive file systems (macOS, Windows).
    expect(fileNameFor("tok:Tplus").toLowerCase()).not.toBe(fileNameFor("tok:tplus").toLowerCase());
    // Only final files remain: atomic writes leave no temporaries behind.
    expect((await readdir(dir)).filter((n) => n.startsWith(".tmp-"))).toEqual([]);
  });

  it("expires keys with a TTL on its clock, and checks TTL and key like KV", async () => {
    let now = 1_000_000;
    const kv = new FileKeyValueStore({ dir, now: () => now });
    await kv.put("run:f:1", "x", { expirationTtl: 60 });
    await kv.put("run:f:2", "y");
    expect(await kv.list("run:")).toEqual(["run:f:1", "run:f:2"]);
    now += 60_000;
    expect(await kv.get("run:f:1")).toBeNull();
    expect(await kv.list("run:")).toEqual(["run:f:2"]);
    await expect(kv.put("k", "v", { expirationTtl: 30 })).rejects.toBeInstanceOf(ConfigError);
    await expect(kv.put("", "v")).rejects.toBeInstanceOf(ConfigError);
  });

  it("reports a damaged state file with its path and a fix", async () => {
    const kv = new FileKeyValueStore({ dir });
    await kv.put("wm:f", "{}");
    await writeFile(join(dir, fileNameFor("wm:f")), "{garbage");
    const err = await kv.get("wm:f").catch((e: unknown) => e);
    expect((err as BridgeError).code).toBe("state_corrupt");
    expect((err as BridgeError).message).toContain(dir);
    expect((err as BridgeError).hint).toBeTruthy();
  });

  it("carries FlowStateStore state and tokens between CLI runs, in the same JSON the Worker stores", async () => {
    const first = new FlowStateStore(new FileKeyValueStore({ dir }), { writeIntervalMs: 0 });
    await first.saveCheckpoint("jst-other-in", { watermark: 1_719_800_000_000, runId: "r1" });
    await first.ledgerAppend("jst-other-in", [{ externalKey: "k1", contentHash: "h1", writtenAt: 5, runId: "r1" }]);
    await new KvTokenStore(new FileKeyValueStore({ dir })).put("jushuitan", { accessToken: "a", refreshToken: "r" });

    const second = new FlowStateStore(new FileKeyValueStore({ dir }));
    expect((await second.getWatermark("jst-other-in"))?.watermark).toBe(1_719_800_000_000);
    expect((await second.ledgerLookup("jst-other-in", ["k1"])).get("k1")?.contentHash).toBe("h1");
    expect(await new KvTokenStore(new FileKeyValueStore({ dir })).get("jushuitan")).toEqual({ accessToken: "a", refreshToken: "r" });
    const record = JSON.parse(await readFile(join(dir, fileNameFor("wm:jst-other-in")), "utf8"));
    expect(record.key).toBe("wm:jst-other-in");
    expect(JSON.parse(record.value)).toMatchObject({ watermark: 1_719_800_000_000, runId: "r1" });
  });
});
