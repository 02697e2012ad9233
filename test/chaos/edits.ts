/**
 * Issue 16 in the chaos driver: Jushuitan users edit and cancel documents the bridge has already posted, between
 * runs (here, through the emulator's POST /__emulator/edit) and while a scan pages (editServed faults, scenario.ts).
 *
 * Time is compressed: a scenario lasts seconds, not the 30 minutes between real ticks, and the Worker's clock cannot be
 * moved. An edit stamped with Jushuitan's "now" would lie beyond every later window for the whole scenario (the end lag
 * is 5 min, and the merged T+ flow reads only closed days), so no run would ever read it — which is why 400 runs wrote
 * no correction. An edit between runs is therefore stamped inside the next run's window, just behind the flow's
 * watermark (within its lookback: KIS 10 min, T+ 30 min before the start of today), exactly where the next run after
 * the end lag reads it in real time. The driver then keeps invoking a flow until it has run after every edit of its
 * path and its watermark passed every edit's stamp (`needsAnotherRun`). Web standards only (runs in workerd).
 */
import type { FlowStateStore } from "../../shared/state/state-store.ts";
import type { EditChange, EditRecord } from "../emulators/jushuitan/edits.ts";
import { type HubStack, kisBills, sourceDocuments, tplusDispatches } from "../worker/stack.ts";
import { PATH_OF } from "./edit-verdict.ts";
import { CHAOS_FLOWS, type ChaosFlowId, JST_PATHS } from "./scenario.ts";

type Row = Record<string, unknown>;

/** Changes drawn for an edit between runs (a plain re-save now and then: it must change nothing). */
const BETWEEN: EditChange[] = ["quantity", "quantity", "addLine", "removeLine", "cancel", "edit"];
/** How far behind the watermark an edit between runs is stamped at most (inside both flows' lookback). */
const SPREAD_MS: Record<ChaosFlowId, number> = { [CHAOS_FLOWS.kis]: 5 * 60_000, [CHAOS_FLOWS.tplus]: 20 * 60_000 };

/** The end of the furthest completed window of a flow's runs (its watermark as the runs recorded it). */
export async function coveredTo(store: FlowStateStore, flow: ChaosFlowId): Promise<number> {
  return (await coveredRange(store, flow)).to;
}

/** From the first window any run read to the end of the furthest completed one (0, 0 before any run). */
async function coveredRange(store: FlowStateStore, flow: ChaosFlowId): Promise<{ from: number; to: number }> {
  const runs = (await store.listRuns(flow, 1000)) as unknown as Array<{ windows?: Array<{ from: number; to: number; complete: boolean }> }>;
  const windows = runs.flatMap((r) => r.windows ?? []);
  const to = Math.max(0, ...windows.filter((w) => w.complete).map((w) => w.to));
  return { from: windows.length ? Math.min(...windows.map((w) => w.from)) : 0, to };
}

const modifiedMs = (doc: Row) => Date.parse(`${String(doc.modified).replace(" ", "T")}+08:00`);

export async function editLog(stack: HubStack): Promise<EditRecord[]> {
  const res = await fetch(`${stack.urls.jushuitan}/__emulator/edits`);
  if (!res.ok) throw new Error(`GET /__emulator/edits answered ${res.status}`);
  return (await res.json()) as EditRecord[];
}

/**
 * Posted source documents of a flow: KIS bills' documents, or members of written T+ groups that the runs read (a
 * member modified before the first window was never read: editing it makes it a late arrival, not a correction).
 */
async function postedDocuments(stack: HubStack, flow: ChaosFlowId, range: { from: number; to: number }): Promise<Row[]> {
  if (flow === CHAOS_FLOWS.kis) {
    const billed = new Set((await kisBills(stack)).map((b) => b.FBillNo).filter((k) => !/-[A-Z]\d+$/.test(k)));
    return (await sourceDocuments(stack, JST_PATHS.otherInOut)).filter((d) => d.status === "Confirmed" && billed.has(String(d.io_id)));
  }
  const groups = new Set((await tplusDispatches(stack)).map((d) => /^(SO-\d{4}-\d{2}-\d{2}-\d+)/.exec(d.ExternalCode)?.[1]));
  return (await sourceDocuments(stack, JST_PATHS.salesOut)).filter(
    (d) =>
      d.status === "Confirmed" &&
      Number(d.shop_id) === 0 &&
      modifiedMs(d) >= range.from &&
      modifiedMs(d) < range.to &&
      groups.has(`SO-${String(d.io_date).slice(0, 10)}-${String(d.wms_co_id)}`),
  );
}

/**
 * One round of edits between runs: up to `perFlow` posted documents of each flow are changed, stamped within the
 * next run's window. Returns what was done, for the run's notes.
 */
export async function editBetweenRuns(stack: HubStack, store: FlowStateStore, random: () => number, perFlow: number): Promise<string[]> {
  const notes: string[] = [];
  for (const flow of [CHAOS_FLOWS.kis, CHAOS_FLOWS.tplus] as ChaosFlowId[]) {
    const range = await coveredRange(store, flow);
    const covered = range.to;
    if (covered === 0) continue;
    const candidates = (await postedDocuments(stack, flow, range)).map((d) => String(d.io_id)).sort();
    for (let i = 0; i < perFlow && candidates.length > 0; i++) {
      const key = candidates.splice(Math.floor(random() * candidates.length), 1)[0]!;
      const change = BETWEEN[Math.floor(random() * BETWEEN.length)]!;
      const modifiedMs = covered - 1000 - Math.floor(random() * SPREAD_MS[flow]);
      const res = await fetch(`${stack.urls.jushuitan}/__emulator/edit`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ path: PATH_OF[flow], key, change, pick: random(), modifiedMs }),
      });
      if (!res.ok) throw new Error(`POST /__emulator/edit answered ${res.status}: ${await res.text()}`);
      notes.push(`${flow.slice(0, 9)} ${key} ${((await res.json()) as { change: string }).change}`);
    }
  }
  return notes;
}
