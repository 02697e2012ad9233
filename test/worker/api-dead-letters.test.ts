import { describe, expect, it } from "vitest";
import { KvReferenceStore } from "../../shared/state/reference-store.ts";
import { WorkersKvStore } from "../../worker/kv-store.ts";
import { callApi, createStack, fillReferenceTables, JST, kisBills, workerEnv } from "./stack.ts";

const KIS = "jst-other-in-to-kis";

// Its own file: KV is isolated per test file, and this needs a flow that has not run yet.
describe("HTTP API: dead letters", () => {
  it("a dead letter replays after the master data is fixed", async () => {
    const s = await createStack({ documents: { [JST.otherInOut]: 400, [JST.salesOut]: 0 }, days: 2 });
    const env2 = workerEnv(s, { MAX_SUBREQUESTS: "10000" });
    await fillReferenceTables(s, env2);
    const refs = new KvReferenceStore(new WorkersKvStore(env2.STATE));
    const table = (await refs.get("kis_materials"))!;
    // Break it: upload the material table without the materials of one style (TX100).
    const broken = table.rows.filter((r) => !String(r.F_103).startsWith("TX100"));
    expect((await callApi(env2, "POST", "/reference/kis_materials", { body: { rows: broken } })).status).toBe(200);
    // A new flow id per test file run is not possible, so use a fresh watermark: this env's flows have not run yet.
    const sync = await callApi(env2, "POST", `/flows/${KIS}/sync`);
    expect(sync.json.run.counts.deadLettered).toBeGreaterThan(0);
    const letters = (await callApi(env2, "GET", `/dead-letters?flow=${KIS}`)).json.deadLetters;
    expect(letters.length).toBe(sync.json.run.counts.deadLettered);
    expect(letters[0].error.code).toBe("lookup_miss");

    const stillBroken = await callApi(env2, "POST", `/dead-letters/${encodeURIComponent(letters[0].id)}/replay`);
    expect(stillBroken.status).toBe(422);
    expect(stillBroken.json.error.code).toBe("lookup_miss");

    // Fix the master data (CSV upload this time) and replay.
    const header = "FItemID,FNumber,FName,FUnitID,F_103";
    const csv = [header, ...table.rows.map((r) => [r.FItemID, r.FNumber, `"${String(r.FName)}"`, r.FUnitID, r.F_103].join(","))].join("\n");
    const upload = await callApi(env2, "POST", "/reference/kis_materials", { body: csv, headers: { "Content-Type": "text/csv" } });
    expect(upload.json.rows).toBe(table.rows.length);
    const before = (await kisBills(s)).length;
    const replay = await callApi(env2, "POST", `/dead-letters/${encodeURIComponent(letters[0].id)}/replay`);
    expect(replay.status).toBe(200);
    expect(replay.json.replayed).toBe(true);
    expect((await kisBills(s)).length).toBe(before + 1);
    const again = await callApi(env2, "POST", `/dead-letters/${encodeURIComponent(letters[0].id)}/replay`);
    expect(again.status).toBe(409);

    // The rest are resolved by hand with a reason, kept in the run history.
    const del = await callApi(env2, "DELETE", `/dead-letters/${encodeURIComponent(letters[1].id)}`, { body: { reason: "posted by hand in KIS" } });
    expect(del.status).toBe(200);
    expect(del.json.deadLetter.resolved.reason).toBe("posted by hand in KIS");
    const noReason = await callApi(env2, "DELETE", `/dead-letters/${encodeURIComponent(letters[2]?.id ?? letters[1].id)}`, { body: {} });
    expect(noReason.status).toBe(400);
    const runs = (await callApi(env2, "GET", `/runs?flow=${KIS}`)).json.runs;
    expect(runs.some((r: { resolvedDeadLetters?: Array<{ reason: string }> }) => r.resolvedDeadLetters?.[0]?.reason === "posted by hand in KIS")).toBe(true);
  });
});
