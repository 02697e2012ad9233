import { describe, expect, it } from "vitest";
import { callApi, createStack, fillReferenceTables, JST, kisBills, sourceDocuments, workerEnv } from "./stack.ts";

const KIS = "jst-other-in-to-kis";
type Row = Record<string, unknown>;

// Issue 16 inside workerd: GET /trace shows a document's corrections chain — the original bill, its -R1/-B1
// after an edit and -R2 after its cancellation, each with its signed quantity and the source event behind it.
describe("HTTP API: a document's corrections in GET /trace", () => {
  it("edited then cancelled: original, R1 + B1 (lines changed), R2 (no longer passes), summing to nothing left", async () => {
    const s = await createStack({ documents: { [JST.otherInOut]: 40, [JST.salesOut]: 0 }, days: 2 });
    const env = workerEnv(s, { MAX_SUBREQUESTS: "10000" });
    await fillReferenceTables(s, env);
    expect((await callApi(env, "POST", `/flows/${KIS}/sync`)).json.run.counts.written).toBeGreaterThan(0);
    const billNos = new Set((await kisBills(s)).map((b) => b.FBillNo));
    const doc = (await sourceDocuments(s, JST.otherInOut)).find((d) => billNos.has(String(d.io_id)))!;
    const id = String(doc.io_id);
    const upsert = (patch: Row) =>
      fetch(`${s.urls.jushuitan}/__emulator/documents`, {
        method: "POST",
        body: JSON.stringify({ path: JST.otherInOut, doc: { io_id: doc.io_id, ...patch } }),
      });
    // The edits are seconds old: a range sync reads them now (an incremental run would wait out its end lag).
    const range = () => ({ from: new Date(Date.now() - 3_600_000).toISOString(), to: new Date(Date.now() + 1_000).toISOString() });
    const items = structuredClone(doc.items as Row[]);
    items[0]!.qty = Number(items[0]!.qty) + 3;
    await upsert({ items });
    expect((await callApi(env, "POST", `/flows/${KIS}/sync`, { body: range() })).json.run.corrections.map((c: Row) => c.externalKey).sort()).toEqual([
      `${id}-B1`,
      `${id}-R1`,
    ]);
    await upsert({ status: "Cancelled" });
    expect((await callApi(env, "POST", `/flows/${KIS}/sync`, { body: range() })).json.run.corrections.map((c: Row) => c.externalKey)).toEqual([`${id}-R2`]);

    const t = await callApi(env, "GET", `/trace?q=${encodeURIComponent(id)}`);
    expect(t.status).toBe(200);
    const chain = t.json.corrections.find((c: { of: string }) => c.of === id);
    const links = chain.links as Array<Row>;
    expect(links.map((l) => [l.key, l.role, l.kind ?? null, l.cause ?? null])).toEqual([
      [id, "original", null, null],
      [`${id}-R1`, "red", "red", "lines_changed"],
      [`${id}-B1`, "blue", "blue", "lines_changed"],
      [`${id}-R2`, "red", "red", "no_longer_passes"],
    ]);
    const total = (doc.items as Row[]).reduce((n, l) => n + Number(l.qty), 0);
    expect(links.map((l) => l.qty)).toEqual([total, -total, total + 3, -(total + 3)]);
    expect(chain.net.qty).toBe(0);
    for (const l of links.slice(1)) {
      expect(l).toMatchObject({ sourceId: id, status: "written", event: expect.stringMatching(/^\d{4}-\d{2}-\d{2} /) });
      expect(l.targetId).toBeTruthy();
    }
    // The chain is found from the correction's own key too.
    const byKey = await callApi(env, "GET", `/trace?q=${encodeURIComponent(`${id}-R2`)}`);
    expect(byKey.json.corrections.map((c: { of: string }) => c.of)).toContain(id);
  });
});
