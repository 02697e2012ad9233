/**
 * What the runs did with the poison KIS bill, for the notes of a run whose verdict found no letter for it (seed 4254
 * long: the one failing run left nothing to study but the invocation list). Lists the bill's source stamp, its
 * creates at KIS, its ledger entries and every KIS-flow run record's windows, set-asides and watermark.
 */
import type { FlowStateStore } from "../../shared/state/state-store.ts";

type Row = Record<string, unknown>;

const iso = (ms: unknown) => (typeof ms === "number" ? new Date(ms).toISOString().slice(5, 23) : String(ms));

export async function poisonTrail(o: { store: FlowStateStore; flowId: string; billNo: string; source: Row | undefined; kisUrl: string }): Promise<string[]> {
  const out: string[] = [];
  const { store, flowId, billNo, source } = o;
  out.push(`poison ${billNo} source: ${source ? `${String(source.status)} modified ${String(source.modified)}` : "absent"}`);
  const log = (await (await fetch(`${o.kisUrl}/__emulator/requests`)).json()) as Array<{ path: string; body: unknown; status: number; time: number }>;
  // The emulator logs a JSON body parsed.
  const creates = log.filter((r) => r.path.endsWith("/create") && JSON.stringify(r.body ?? null).includes(`"${billNo}"`));
  out.push(`poison ${billNo} creates: ${creates.map((r) => `${iso(r.time)} ${r.status}`).join(", ") || "none"}`);
  const ledger = await store.ledgerLookup(flowId, [`try:${billNo}`, `dead:${billNo}`]);
  for (const [key, entry] of ledger) out.push(`poison ledger ${key}: ${JSON.stringify({ ...entry, writtenAt: iso(entry.writtenAt) })}`);
  const runs = (await store.listRuns(flowId, 1000)) as unknown as Row[];
  for (const r of [...runs].reverse()) {
    const windows = ((r.windows as Row[] | undefined) ?? []).map((w) => `[${iso(w.from)},${iso(w.to)})${w.complete ? "" : "?"}`).join(" ");
    const chain = (r.chain as { invocations?: number } | undefined)?.invocations;
    out.push(
      `run ${String(r.runId)} ${String(r.outcome)}${r.continues ? "+" : ""} wm ${iso(r.watermarkBefore)}→${iso(r.watermarkAfter)}${r.watermarkHeld ? ` held:${String(r.watermarkHeld)}` : ""}` +
        `${chain ? ` chain:${chain}` : ""} ${windows}${r.setAside ? ` setAside ${JSON.stringify(r.setAside)}` : ""}${r.error ? ` error ${(r.error as Row).code}` : ""}`,
    );
  }
  return out;
}
