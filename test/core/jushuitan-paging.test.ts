import { afterEach, describe, expect, it } from "vitest";
import { ConfigError } from "../../shared/errors.ts";
import { JstPagingError } from "../../shared/connectors/jushuitan/errors.ts";
import { compareCursor, splitWindow } from "../../shared/connectors/jushuitan/paging.ts";
import { parseInZone } from "../../shared/util/time.ts";
import { collect, DAY, failure, startJst, T0, type JstSetup } from "./jushuitan-fixture.ts";

const OTHER = "/open/other/inout/query";
const SALES = "/open/orders/out/simple/query";
const INVENTORY = "/open/inventory/query";

let setup: JstSetup | undefined;
afterEach(async () => {
  await setup?.close();
  setup = undefined;
});

const modifiedMs = (row: Record<string, unknown>) => parseInZone(String(row.modified))!;

describe("splitWindow", () => {
  it("cuts a range into abutting windows of at most 7 days, Shanghai text, whole seconds", () => {
    const from = Date.UTC(2024, 4, 31, 16, 0, 0, 250); // 2024-06-01 00:00:00.250 Shanghai
    const to = from + 20 * DAY;
    const windows = splitWindow({ from, to }, 7 * DAY);
    expect(windows.map((w) => [w.begin, w.end])).toEqual([
      ["2024-06-01 00:00:00", "2024-06-08 00:00:00"],
      ["2024-06-08 00:00:00", "2024-06-15 00:00:00"],
      ["2024-06-15 00:00:00", "2024-06-21 00:00:00"],
    ]);
    for (const [i, w] of windows.entries()) {
      expect(w.to - w.from).toBeLessThanOrEqual(7 * DAY);
      expect(w.index).toBe(i);
      expect(w.count).toBe(3);
      if (i > 0) expect(w.from).toBe(windows[i - 1]!.to);
    }
    expect(windows[0]!.from).toBeLessThanOrEqual(from);
    expect(windows.at(-1)!.to).toBe(Math.floor(to / 1000) * 1000);
  });

  it("keeps a 7-day range with milliseconds in one request-sized window", () => {
    const from = Date.UTC(2024, 4, 31, 16, 0, 0, 750);
    expect(splitWindow({ from, to: from + 7 * DAY }, 7 * DAY)).toHaveLength(1);
    expect(splitWindow({ from, to: from + 7 * DAY + 1000 }, 7 * DAY)).toHaveLength(2);
  });

  it("rejects reversed or non-numeric bounds", () => {
    expect(() => splitWindow({ from: 10, to: 5 }, DAY)).toThrow(ConfigError);
    expect(() => splitWindow({ from: Number.NaN, to: 5 }, DAY)).toThrow(ConfigError);
  });

  it("orders rowversions numerically, also beyond 2^53 and as strings", () => {
    expect(compareCursor(9, 10)).toBeLessThan(0);
    expect(compareCursor("9007199254740993", "9007199254740992")).toBeGreaterThan(0);
    expect(compareCursor("100", 100)).toBe(0);
  });
});

describe("window paging against the emulator", () => {
  it("reads 1,234 documents over 20 days exactly, with the minimum number of requests", async () => {
    const from = T0 - 20 * DAY;
    const to = T0;
    setup = await startJst({ emulator: { documents: { [OTHER]: 1234 }, range: { from, to } } });
    const pages = await collect(setup.client.pages(OTHER, {}, { window: { from, to } }));
    const ids = pages.flatMap((p) => p.rows.map((r) => String(r.io_id)));
    const stored = setup.emulator.documents(OTHER);
    expect(stored).toHaveLength(1234);
    expect(ids).toHaveLength(1234);
    expect(new Set(ids)).toEqual(new Set(stored.map((r) => String(r.io_id))));

    // Minimum: each window needs ⌈rows in it / 50⌉ pages (at least one), computed from the emulator's state.
    const windows = splitWindow({ from, to }, 7 * DAY);
    expect(windows).toHaveLength(3);
    const minimum = windows.reduce((sum, w) => {
      const n = stored.filter((r) => modifiedMs(r) >= w.from && modifiedMs(r) <= w.to).length;
      return sum + Math.max(1, Math.ceil(n / 50));
    }, 0);
    const log = setup.emulator.requests();
    expect(log.every((r) => r.code === 0)).toBe(true);
    expect(log).toHaveLength(minimum);
    expect(pages).toHaveLength(minimum);
    expect(log.every((r) => (r.biz as { page_size: number }).page_size === 50)).toBe(true);
    expect(new Set(log.map((r) => (r.biz as { modified_begin: string }).modified_begin))).toEqual(new Set(windows.map((w) => w.begin)));
  });

  it("yields a row on a shared window boundary once", async () => {
    const from = T0 - 10 * DAY;
    setup = await startJst({ emulator: { documents: { [OTHER]: 20 }, range: { from, to: T0 } } });
    const boundary = from + 7 * DAY;
    const row = setup.emulator.documents(OTHER)[0]!;
    setup.clock.set(boundary); // the edit happens exactly on the boundary second
    setup.emulator.upsertDocument(OTHER, { io_id: row.io_id, remark: "改于窗口边界" });
    setup.clock.set(T0);
    const pages = await collect(setup.client.pages(OTHER, {}, { window: { from, to: T0 } }));
    const fetchedTwice = pages.reduce((s, p) => s + p.fetched, 0) - pages.reduce((s, p) => s + p.rows.length, 0);
    expect(fetchedTwice).toBe(1);
    expect(pages.flatMap((p) => p.rows).filter((r) => r.io_id === row.io_id)).toHaveLength(1);
  });

  it("passes filters through in the shapes each endpoint expects", async () => {
    setup = await startJst();
    const window = { from: T0 - 2 * DAY, to: T0 };
    await collect(setup.client.pages(OTHER, { io_ids: "2100000, 2100003", status: "Confirmed" }, { window }));
    await collect(setup.client.pages(INVENTORY, { sku_ids: ["TX100-11", "TX100-12"] }, { window }));
    await collect(setup.client.pages(SALES, { shop_id: 0, is_offline_shop: true, date_type: 2 }, { window, pageSize: 20 }));
    const [other, inventory, sales] = setup.emulator.requests();
    expect(other!.biz).toMatchObject({ io_ids: ["2100000", "2100003"], status: "Confirmed", page_size: 50 });
    expect(inventory!.biz).toMatchObject({ sku_ids: "TX100-11,TX100-12", page_size: 100 });
    expect(sales!.biz).toMatchObject({ shop_id: 0, is_offline_shop: true, date_type: 2, page_size: 20 });
    expect([other, inventory, sales].every((r) => r!.code === 0)).toBe(true);
  });

  it("sales-out for the offline shop returns only shop 0 documents, windowed on io_date", async () => {
    setup = await startJst({ emulator: { documents: { [SALES]: 300 } } });
    const window = { from: T0 - 10 * DAY, to: T0 - 3 * DAY };
    const pages = await collect(setup.client.pages(SALES, { shop_id: 0, is_offline_shop: true, date_type: 2 }, { window }));
    const rows = pages.flatMap((p) => p.rows);
    const expected = setup.emulator.documents(SALES).filter((r) => {
      const io = parseInZone(String(r.io_date))!;
      return r.shop_id === 0 && io >= window.from && io <= window.to;
    });
    expect(rows.length).toBeGreaterThan(0);
    expect(new Set(rows.map((r) => r.io_id))).toEqual(new Set(expected.map((r) => r.io_id)));
  });

  it("refuses bad scan input before any request", async () => {
    setup = await startJst();
    const window = { from: T0 - DAY, to: T0 };
    expect(await failure(collect(setup.client.pages(OTHER, {}, { window, pageSize: 51 })))).toBeInstanceOf(ConfigError);
    expect(await failure(collect(setup.client.pages(OTHER, { page_index: 2 }, { window })))).toBeInstanceOf(ConfigError);
    expect(await failure(collect(setup.client.pages("/open/unknown", {}, { window })))).toBeInstanceOf(ConfigError);
    expect(await failure(collect(setup.client.cursorPages(OTHER, { status: "Confirmed" }, { startTs: 0 })))).toBeInstanceOf(ConfigError);
    expect(await failure(collect(setup.client.cursorPages("/open/sku/query", {}, { startTs: 0 })))).toBeInstanceOf(ConfigError);
    expect(setup.emulator.requests()).toHaveLength(0);
  });

  it("throws instead of looping when the server repeats a page", async () => {
    setup = await startJst({ emulator: { documents: { [OTHER]: 200 }, range: { from: T0 - 2 * DAY, to: T0 } } });
    setup.emulator.addFaults({ kind: "ignorePageIndex", skip: 1, times: 100 });
    const error = await failure(collect(setup.client.pages(OTHER, {}, { window: { from: T0 - 2 * DAY, to: T0 } })));
    expect(error).toBeInstanceOf(JstPagingError);
    expect((error as JstPagingError).details).toMatchObject({ pageIndex: 2 });
    expect(setup.emulator.requests()).toHaveLength(2);
  });

  it("throws when a window exceeds the page cap", async () => {
    setup = await startJst({ emulator: { documents: { [OTHER]: 200 }, range: { from: T0 - 2 * DAY, to: T0 } } });
    const error = await failure(collect(setup.client.pages(OTHER, {}, { window: { from: T0 - 2 * DAY, to: T0 }, maxPages: 3 })));
    expect(error).toBeInstanceOf(JstPagingError);
    expect(setup.emulator.requests()).toHaveLength(3);
  });
});

describe("cursor paging against the emulator", () => {
  it("reads everything by start_ts with page_index=1, no duplicates, and resumes exactly at a saved cursor", async () => {
    // The "all" profile: other-inout rows carry ts (public clients show none, hence not the default).
    setup = await startJst({ emulator: { documents: { [OTHER]: 230 }, rowTs: "all" } });
    const all = await collect(setup.client.cursorPages(OTHER, {}, { startTs: 0 }));
    const ids = all.flatMap((p) => p.rows.map((r) => r.io_id));
    const stored = setup.emulator.documents(OTHER);
    expect(ids).toHaveLength(230);
    expect(new Set(ids)).toEqual(new Set(stored.map((r) => r.io_id)));
    const log = setup.emulator.requests();
    expect(log.every((r) => (r.biz as Record<string, unknown>).page_index === 1)).toBe(true);
    expect(Object.keys(log[1]!.biz as object).sort()).toEqual(["page_index", "page_size", "start_ts"]);
    // 50 rows on the first page, then 49 new ones per page (the ≥ cursor repeats the boundary row).
    expect(log).toHaveLength(1 + Math.ceil((230 - 50) / 49));
    const ts = all.flatMap((p) => p.rows.map((r) => Number(r.ts)));
    expect(ts).toEqual([...ts].sort((a, b) => a - b));

    // Resume from the cursor saved after the second page: exactly the remaining rows.
    const saved = all[1]!.nextCursor;
    const rest = await collect(setup.client.cursorPages(OTHER, {}, { startTs: saved }));
    const restIds = rest.flatMap((p) => p.rows.map((r) => r.io_id));
    expect(restIds).toEqual(all.slice(2).flatMap((p) => p.rows.map((r) => r.io_id)));
  });

  it("uses `ts` on inventory and sends is_get_total=false where the endpoint takes it", async () => {
    setup = await startJst();
    const inventory = await collect(setup.client.cursorPages(INVENTORY, { wms_co_id: 10817 }, { startTs: 0 }));
    expect(inventory.flatMap((p) => p.rows)).toHaveLength(96);
    await collect(setup.client.cursorPages(SALES, { shop_id: 0, is_offline_shop: true }, { startTs: 0 }));
    const log = setup.emulator.requests();
    expect(log[0]!.biz).toMatchObject({ ts: 0, wms_co_id: 10817, page_index: 1, page_size: 100 });
    const salesBiz = log.find((r) => r.path === SALES)!.biz as Record<string, unknown>;
    expect(salesBiz).toMatchObject({ start_ts: 0, is_get_total: false, shop_id: 0 });
    expect(log.every((r) => r.code === 0)).toBe(true);
  });
});

describe("page drift", () => {
  const range = { from: T0 - 2 * DAY, to: T0 - DAY };

  it("time-window paging misses rows when documents change between pages", async () => {
    setup = await startJst({ emulator: { documents: { [OTHER]: 200 }, range } });
    const before = setup.emulator.documents(OTHER);
    setup.emulator.addFaults({ kind: "pageDrift", path: OTHER, skip: 1, count: 5 });
    const pages = await collect(setup.client.pages(OTHER, {}, { window: range }));
    const seen = new Set(pages.flatMap((p) => p.rows.map((r) => r.io_id)));
    const missed = before.filter((r) => !seen.has(r.io_id));
    expect(missed).toHaveLength(5);
    // The missed rows are unchanged documents inside the window: a later window will never see them either.
    const after = new Map(setup.emulator.documents(OTHER).map((r) => [r.io_id, r]));
    for (const r of missed) expect(after.get(r.io_id)!.modified).toBe(r.modified);
  });

  it("cursor paging under the same drift misses nothing", async () => {
    setup = await startJst({ emulator: { documents: { [OTHER]: 200 }, range, rowTs: "all" } });
    const before = setup.emulator.documents(OTHER);
    setup.emulator.addFaults({ kind: "pageDrift", path: OTHER, skip: 1, count: 5 });
    const pages = await collect(setup.client.cursorPages(OTHER, {}, { startTs: 0 }));
    const seen = new Set(pages.flatMap((p) => p.rows.map((r) => r.io_id)));
    expect(before.filter((r) => !seen.has(r.io_id))).toHaveLength(0);
    // The five modified documents come again, in their new version, at the end.
    expect(pages.flatMap((p) => p.rows)).toHaveLength(205);
    expect(setup.emulator.requests()[1]!.faults).toEqual(["pageDrift"]);
  });
});
