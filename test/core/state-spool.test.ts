/**
 * The merge spool (rows read so far in a window, kept while a budget-stopped run continues) lives in chunked keys,
 * not inside the checkpoint value (engine-review finding 9: a busy day's spool hit KV's 25 MiB value limit).
 */
import { afterEach, describe, expect, it } from "vitest";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { actualTplus, expectedTplus } from "../helpers/targets.ts";
import { startOfDayInZone } from "../../shared/util/time.ts";

const TPLUS = "jst-sales-out-to-tplus";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("merge spool in chunked keys (engine-review finding 9)", () => {
  it("a budget-stopped merge run keeps the checkpoint small whatever the window holds; the continuation writes every group once", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 400 });
    let largest = 0;
    const summaries = [];
    for (let i = 0; i < 400; i++) {
      const { summary } = await e2e.run(TPLUS, { budget: { maxSubrequests: 3 } });
      summaries.push(summary);
      const raw = await e2e.kv.get(`wm:${TPLUS}`);
      largest = Math.max(largest, raw?.length ?? 0);
      if (!summary.continues) break;
    }
    expect(summaries.at(-1)!.continues).toBe(false);
    expect(summaries.some((s) => s.continues)).toBe(true);
    // The spool of a window with hundreds of documents would be hundreds of KB inline.
    expect(largest).toBeLessThan(16 * 1024);
    const vouchers = e2e.stack.tplus.vouchers("otherDispatch");
    expect(new Set(vouchers.map((v) => v.ExternalCode)).size).toBe(vouchers.length);
    // The seed reads by modified up to the start of today: documents saved today are not read yet (a later supplement).
    const expected = expectedTplus(e2e.stack.jushuitan.documents(JST_PATHS.salesOut), 0, startOfDayInZone(e2e.clock.now()), startOfDayInZone(e2e.clock.now()));
    expect(vouchers.length).toBe(expected.size);
    // Spool chunks are removed once the window is done.
    expect(await e2e.kv.list(`spool:${TPLUS}:`)).toEqual([]);
  });

  it("a checkpoint whose spool chunks are gone (a stale read of an older checkpoint) reads the window again: nothing lost, nothing doubled", async () => {
    e2e = await startE2E({ otherInOut: 0, salesOut: 400 });
    let lostChunks = false;
    for (let i = 0; i < 400; i++) {
      const { summary } = await e2e.run(TPLUS, { budget: { maxSubrequests: 3 } });
      if (!lostChunks) {
        const chunks = await e2e.kv.list(`spool:${TPLUS}:`);
        if (chunks.length) {
          for (const key of chunks) await e2e.kv.delete(key);
          lostChunks = true;
        }
      }
      if (!summary.continues) break;
    }
    expect(lostChunks).toBe(true);
    const vouchers = e2e.stack.tplus.vouchers("otherDispatch");
    expect(new Set(vouchers.map((v) => v.ExternalCode)).size).toBe(vouchers.length);
    // The seed reads by modified up to the start of today: documents saved today are not read yet (a later supplement).
    const expected = expectedTplus(e2e.stack.jushuitan.documents(JST_PATHS.salesOut), 0, startOfDayInZone(e2e.clock.now()), startOfDayInZone(e2e.clock.now()));
    expect(Object.fromEntries(actualTplus(vouchers))).toEqual(Object.fromEntries(expected));
  });
});
