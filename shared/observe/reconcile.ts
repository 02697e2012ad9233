/**
 * Reconciliation: what the source says the target should hold over a range, against what the target
 * holds. The source side is read exactly as a sync reads it (same endpoint, parameters, conditions,
 * lookups and merge), so "expected" means "the documents a sync would have written"; pages stream
 * through and only per-document figures are kept. The target side is listed by date (T+ `<voucher>/Query`,
 * KIS `<bill>/list`), and expected documents the listing did not show are looked up by their key, so a
 * document dated outside the range is not reported missing.
 *
 * Per day and warehouse: source documents, target documents, missing and extra keys, quantity and (when the
 * flow maps one) amount on both sides. Drift = a missing document or a quantity/amount that differs.
 * Extra target documents (manual entries, or documents whose source changed outside the range) are listed
 * but are not drift unless `strict`.
 *
 * UNCERTAIN wire facts tolerated here: the T+ list filter names (VoucherDateBegin/End) and whether T+ list
 * rows carry detail lines (when they do not, quantities are "n/a" and only presence is compared); KIS bill
 * lists as {Head, Entry} rows or flat rows (flat rows are completed with getdetail per bill).
 */
import type { RateBudget } from "../http/rate-budget.ts";
import { parseKisOperation, type KisBillRow } from "../connectors/kis/index.ts";
import { type Clients, composeHost } from "../compose/index.ts";
import type { Budget } from "../engine/meter.ts";
import { jushuitanWindowSource, rangeFlow } from "../engine/runner.ts";
import { DAY_MS, planSyncWindows } from "../engine/window.ts";
import { baseKeyOf, isCorrectionKey, parseRelatedKey } from "../engine/key-scheme.ts";
import { ConfigError } from "../errors.ts";
import { createDocumentBuilder } from "../flow/builder.ts";
import { lookupTables } from "../flow/preview.ts";
import type { Flow } from "../flow/schema.ts";
import type { Clock, FetchLike, KeyValueStore, Logger } from "../ports.ts";
import type { KvReferenceStore } from "../state/reference-store.ts";
import { formatInZone } from "../util/time.ts";

const UNLIMITED_BUDGET: Budget = { maxSubrequests: Number.MAX_SAFE_INTEGER };

export interface ReconcileSpec {
  flow: Flow;
  range: { from: number; to: number };
  windowMs?: number;
  /** Count extra target documents as drift too. */
  strict?: boolean;
  /** Subrequests the reconcile may make (the Worker's invocation budget); default unlimited. */
  budget?: Budget;
}

export interface ReconcilePorts {
  env: Record<string, string | undefined>;
  kv: KeyValueStore;
  fetch: FetchLike;
  clock: Clock;
  logger: Logger;
  /** The host's Jushuitan rate budget, shared with its runs (http/rate-budget.ts); default: the client's own limiter. */
  rateBudget?: RateBudget;
}

export interface DocFigures {
  day?: string;
  warehouse?: string;
  qty?: number;
  amount?: number;
}

export interface ReconcileRow {
  day: string;
  warehouse: string;
  /** The target document type (KIS bill / T+ voucher operation): rows are per day × warehouse × type. */
  docType: string;
  sourceDocuments: number;
  expected: number;
  found: number;
  missing: number;
  extra: number;
  sourceQty: number;
  /** null when the target does not say (list rows without lines). */
  targetQty: number | null;
  sourceAmount: number | null;
  targetAmount: number | null;
  drift: boolean;
}

export interface ReconcileReport {
  flowId: string;
  target: "kis" | "tplus";
  range: { from: number; to: number };
  rows: ReconcileRow[];
  missing: string[];
  extra: string[];
  /** Keys whose quantity or amount differs. */
  mismatched: string[];
  /** Source documents the flow could not map (they would be dead letters). */
  unmapped: string[];
  /** Drill-down: every missing, extra or different document with its day and warehouse (at most MAX_DOCUMENTS). */
  documents: ReconcileDocument[];
  sourceDocuments: number;
  expectedDocuments: number;
  targetDocuments: number;
  drift: boolean;
  subrequests: number;
}

/**
 * Expected documents the date listing did not show are looked up one by one (a bill dated differently than
 * its payload, a list filter read differently: UNCERTAIN names). Past this many, the rest count as missing
 * without a lookup: a never-synced range must not cost one request per document.
 */
export const MAX_KEY_LOOKUPS = 500;
/** Documents kept for the drill-down (the counts stay exact beyond it). */
export const MAX_DOCUMENTS = 1000;

export interface ReconcileDocument {
  key: string;
  day: string;
  warehouse: string;
  status: "missing" | "extra" | "different";
  sourceQty?: number;
  targetQty?: number;
  sourceAmount?: number;
  targetAmount?: number;
}

const WINDOW_PARAMS = new Set(["modified_begin", "modified_end", "page_index", "page_size", "start_ts", "ts"]);
/**
 * Documents that belong to another one (supplements `<key>-S<n>`, issue 16's corrections `-R<n>`, `-B<n>`,
 * `-C<n>`, `-C<n>-B`: engine/key-scheme.ts parseRelatedKey) count towards the document they complete or correct.
 */

function num(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

function obj(v: unknown): Record<string, unknown> | undefined {
  return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function text(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : typeof v === "number" ? String(v) : undefined;
}

function sum(lines: Record<string, unknown>[], fields: string[]): number | undefined {
  let total: number | undefined;
  for (const line of lines) {
    const v = fields.map((f) => num(line[f])).find((x) => x !== undefined);
    if (v !== undefined) total = (total ?? 0) + v;
  }
  return total;
}

/** Day, warehouse, quantity and amount of a target document (our payload or a row the target lists). */
export function figuresOf(target: "kis" | "tplus", doc: Record<string, unknown>): DocFigures {
  const out: DocFigures = {};
  if (target === "kis") {
    const head = obj(doc.Head) ?? doc;
    const lines = Array.isArray(doc.Entry) ? (doc.Entry as unknown[]).map(obj).filter((l): l is Record<string, unknown> => !!l) : undefined;
    const day = text(head.Fdate ?? head.FDate);
    if (day) out.day = day.slice(0, 10);
    const wh = text(head.FDCStockID ?? head.FSCStockID ?? lines?.[0]?.FDCStockID ?? lines?.[0]?.FSCStockID);
    if (wh) out.warehouse = wh;
    if (lines) {
      // A red bill (Head.FROB = -1) counts against stock whichever sign its lines were sent with (kis/reversal.ts).
      const signed = (v: number | undefined) => (v === undefined ? undefined : num(head.FROB) === -1 ? -Math.abs(v) : v);
      const qty = signed(sum(lines, ["FQty", "Fauxqty"]));
      if (qty !== undefined) out.qty = qty;
      const amount = signed(sum(lines, ["Famount", "FAmount"]));
      if (amount !== undefined) out.amount = amount;
    }
    return out;
  }
  const day = text(doc.VoucherDate ?? doc.voucherDate);
  if (day) out.day = day.slice(0, 10);
  const warehouse = obj(doc.Warehouse);
  const wh = text(warehouse ? (warehouse.Code ?? warehouse.code) : doc.Warehouse);
  if (wh) out.warehouse = wh;
  const details = doc.RDRecordDetails ?? doc.Details ?? doc.SaleDeliveryDetails;
  if (Array.isArray(details)) {
    const lines = details.map(obj).filter((l): l is Record<string, unknown> => !!l);
    const qty = sum(lines, ["BaseQuantity", "Quantity"]);
    if (qty !== undefined) out.qty = qty;
    const amount = sum(lines, ["Amount", "OrigTaxAmount"]);
    if (amount !== undefined) out.amount = amount;
  }
  return out;
}

interface Expected extends DocFigures {
  members: number;
}

interface Found extends DocFigures {
  key: string;
}

/** What the reconcile phases share: the metered session's clients and the reference store (shared/compose). */
interface ReconcileRun {
  clients: Clients;
  references: KvReferenceStore;
}

/** What the target should hold: the source's documents in the range, built as a sync would build them (by external key). */
async function readExpected(spec: ReconcileSpec, run: ReconcileRun): Promise<{ expected: Map<string, Expected>; unmapped: string[] }> {
  const { flow, range } = spec;
  const { references } = run;
  const target = flow.target.type;
  const zone = flow.timezone;
  // ---- what the target should hold ----
  const tables: Record<string, ReadonlyArray<Record<string, unknown>>> = {};
  for (const ref of flow.references) {
    const table = await references.get(ref.name);
    if (!table || table.rows.length === 0) {
      throw new ConfigError(`flow ${flow.id} needs reference table "${ref.name}", which is empty in this state`, {
        hint: ref.source
          ? `fill it with \`jst-bridge reference refresh ${ref.name} --flow ${flow.id}\``
          : `upload it with \`jst-bridge reference upload ${ref.name} <file.csv|json>\``,
        details: { table: ref.name },
      });
    }
    tables[ref.name] = table.rows;
  }
  const builder = createDocumentBuilder(flow, { lookups: lookupTables(tables) });
  const jst = run.clients.jushuitan();
  const params = (w: { from: number; to: number }) => {
    const all = builder.compiled.requestParams({ lastSyncTime: w.from, currentTime: w.to, timezone: zone });
    if (readFlow !== flow) all.date_type = readFlow.source.params.date_type;
    return Object.fromEntries(Object.entries(all).filter(([k]) => !WINDOW_PARAMS.has(k)));
  };
  // A range of a merged flow means whole days: read by source.rangeTimeField (io_date for the T+ seed), as a backfill does.
  const readFlow = rangeFlow(flow);
  const source = jushuitanWindowSource(jst, readFlow, params);
  const expected = new Map<string, Expected>();
  const unmapped: string[] = [];
  const take = (rows: Record<string, unknown>[], w: { from: number; to: number }) => {
    const built = builder.build(rows, { lastSyncTime: w.from, currentTime: w.to, closedBefore: w.to });
    for (const doc of built.documents) expected.set(doc.externalKey, { ...figuresOf(target, doc.payload), members: doc.members.length });
    for (const f of built.failures) unmapped.push(f.sourceId);
  };
  for (const window of planSyncWindows(flow, range, spec.windowMs ?? flow.incremental.windowDays * DAY_MS)) {
    const rowsById = new Map<string, Record<string, unknown>>();
    for await (const page of source.readWindow(window, 1)) {
      const fresh = page.rows.filter((r) => !rowsById.has(source.idOf(r)));
      for (const r of page.rows) rowsById.set(source.idOf(r), builder.merges ? r : {});
      if (!builder.merges) take(fresh, window);
    }
    if (builder.merges) take([...rowsById.values()], window);
  }
  return { expected, unmapped };
}

/** What the target holds: its documents listed over the expected days, and expected ones missing from the listing looked up by key. */
async function readFound(spec: ReconcileSpec, ports: ReconcilePorts, run: ReconcileRun, expected: Map<string, Expected>): Promise<Map<string, Found>> {
  const { flow, range } = spec;
  const { logger } = ports;
  const target = flow.target.type;
  const zone = flow.timezone;
  // ---- what the target holds ----
  const days = [...expected.values()].map((e) => e.day).filter((d): d is string => !!d);
  days.push(formatInZone(range.from, "YYYY-MM-DD", zone), formatInZone(range.to - 1, "YYYY-MM-DD", zone));
  const listFrom = days.reduce((a, b) => (b < a ? b : a));
  const listTo = days.reduce((a, b) => (b > a ? b : a));
  const found = new Map<string, Found>();
  const unlisted = () => {
    const keys = [...expected.keys()].filter((k) => !found.has(k));
    if (keys.length > MAX_KEY_LOOKUPS)
      logger.warn("many expected documents are not in the target's listing; only some are looked up by key", {
        notListed: keys.length,
        lookedUp: MAX_KEY_LOOKUPS,
      });
    return keys.slice(0, MAX_KEY_LOOKUPS);
  };

  if (target === "kis") {
    const ops = run.clients.kis();
    const bill = parseKisOperation(flow.target.operation).bill;
    const add = async (row: KisBillRow, corrected: ReadonlySet<string>) => {
      if (!row.FBillNo) return;
      let doc: Record<string, unknown> = row.entry ? { Head: row.head, Entry: row.entry } : { Head: row.head };
      // Flat list rows carry no lines: read the bill when we need its quantities (an expected bill, a supplement
      // or correction, or a bill that has one: a cancelled bill and its reversal sum to zero only with lines).
      const needed = expected.has(row.FBillNo) || parseRelatedKey(row.FBillNo) !== undefined || corrected.has(row.FBillNo);
      if (!row.entry && row.FID !== undefined && needed) {
        const detail = await ops.getBillDetail(bill, row.FID);
        doc = { Head: detail.Head, Entry: detail.Entry };
      }
      found.set(row.FBillNo, { key: row.FBillNo, ...figuresOf("kis", doc) });
    };
    const listed: KisBillRow[] = [];
    for await (const row of ops.bills(bill, { StartDate: listFrom, EndDate: listTo })) listed.push(row);
    const corrected = new Set(listed.flatMap((row) => (row.FBillNo && isCorrectionKey(row.FBillNo) ? [baseKeyOf(row.FBillNo)] : [])));
    for (const row of listed) await add(row, corrected);
    for (const key of unlisted()) {
      const page = await ops.listBills(bill, { FBillNo: key, ItemsOfPage: 10 });
      for (const row of page.rows) if (row.FBillNo === key) await add(row, new Set());
    }
  } else {
    const client = run.clients.tplus();
    const operation = flow.target.operation;
    for (const v of await client.listVouchers(operation, { from: listFrom, to: listTo }))
      found.set(v.externalCode, { key: v.externalCode, ...figuresOf("tplus", v.raw) });
    for (const key of unlisted()) {
      const v = await client.findVoucherByExternalCode(operation, key, { detail: true });
      if (v) found.set(key, { key, ...figuresOf("tplus", v.raw) });
    }
  }
  return found;
}

/**
 * The target documents by the expected key they carry (an original with its supplements and corrections), and the
 * keys of those no longer expected: extras, unless a cancelled document and its red correction cancel out in full.
 */
function groupFound(expected: Map<string, Expected>, found: Map<string, Found>): { byGroup: Map<string, Found[]>; extra: string[] } {
  const byGroup = new Map<string, Found[]>(); // expected key → the target documents that carry it (original + supplements)
  const extra: string[] = [];
  const unexpected = new Map<string, Found[]>(); // a target document no longer expected, with its corrections
  for (const doc of found.values()) {
    const owner = parseRelatedKey(doc.key)?.base;
    const base = expected.has(doc.key) ? doc.key : owner !== undefined && (expected.has(owner) || found.has(owner)) ? owner : doc.key;
    if (expected.has(base)) byGroup.set(base, [...(byGroup.get(base) ?? []), doc]);
    else unexpected.set(base, [...(unexpected.get(base) ?? []), doc]);
  }
  for (const docs of unexpected.values()) {
    // Reversed in full (a cancelled document and its red correction): nothing of it is left in the target.
    const reversed =
      docs.length > 1 &&
      docs.every((d) => d.qty !== undefined) &&
      Math.abs(docs.reduce((n, d) => n + d.qty!, 0)) < 1e-6 &&
      Math.abs(docs.reduce((n, d) => n + (d.amount ?? 0), 0)) < 0.005;
    if (!reversed) extra.push(...docs.map((d) => d.key));
  }
  return { byGroup, extra };
}

function emptyRow(day: string, warehouse: string, docType: string): ReconcileRow {
  return {
    day,
    warehouse,
    docType,
    sourceDocuments: 0,
    expected: 0,
    found: 0,
    missing: 0,
    extra: 0,
    sourceQty: 0,
    targetQty: 0,
    sourceAmount: null,
    targetAmount: null,
    drift: false,
  };
}

/** Compares expected with found documents per day and warehouse. */
function compareDocuments(expected: Map<string, Expected>, found: Map<string, Found>, docType: string, strict: boolean) {
  const { byGroup, extra } = groupFound(expected, found);
  const rows = new Map<string, ReconcileRow>();
  const rowOf = (day: string | undefined, warehouse: string | undefined) => {
    const key = `${day ?? "?"}\u0000${warehouse ?? "?"}`;
    let row = rows.get(key);
    if (!row) rows.set(key, (row = emptyRow(day ?? "?", warehouse ?? "?", docType)));
    return row;
  };
  const addAmount = (a: number | null, b: number | undefined) => (b === undefined ? a : (a ?? 0) + b);
  const missing: string[] = [];
  const mismatched: string[] = [];
  const documents: ReconcileDocument[] = [];
  const note = (d: ReconcileDocument) => {
    if (documents.length < MAX_DOCUMENTS)
      documents.push(Object.fromEntries(Object.entries(d).filter(([, v]) => v !== undefined)) as unknown as ReconcileDocument);
  };
  for (const [key, exp] of expected) {
    const row = rowOf(exp.day, exp.warehouse);
    row.sourceDocuments += exp.members;
    row.expected++;
    row.sourceQty += exp.qty ?? 0;
    row.sourceAmount = addAmount(row.sourceAmount, exp.amount);
    const docs = byGroup.get(key) ?? [];
    if (docs.length === 0) {
      row.missing++;
      missing.push(key);
      note({ key, day: row.day, warehouse: row.warehouse, status: "missing", sourceQty: exp.qty, sourceAmount: exp.amount });
      continue;
    }
    row.found += docs.length;
    const qtyKnown = docs.every((d) => d.qty !== undefined);
    const qty = docs.reduce((n, d) => n + (d.qty ?? 0), 0);
    if (row.targetQty !== null) row.targetQty = qtyKnown ? row.targetQty + qty : null;
    for (const d of docs) row.targetAmount = addAmount(row.targetAmount, d.amount);
    const amount = docs.some((d) => d.amount !== undefined) ? docs.reduce((n, d) => n + (d.amount ?? 0), 0) : undefined;
    if ((qtyKnown && Math.abs(qty - (exp.qty ?? 0)) > 1e-6) || (amount !== undefined && exp.amount !== undefined && Math.abs(amount - exp.amount) > 0.005)) {
      mismatched.push(key);
      note({
        key,
        day: row.day,
        warehouse: row.warehouse,
        status: "different",
        sourceQty: exp.qty,
        targetQty: qtyKnown ? qty : undefined,
        sourceAmount: exp.amount,
        targetAmount: amount,
      });
    }
  }
  for (const key of extra) {
    const doc = found.get(key)!;
    const row = rowOf(doc.day, doc.warehouse);
    row.extra++;
    row.found++;
    note({ key, day: row.day, warehouse: row.warehouse, status: "extra", targetQty: doc.qty, targetAmount: doc.amount });
    if (row.targetQty !== null) row.targetQty = doc.qty !== undefined ? row.targetQty + doc.qty : null;
    row.targetAmount = addAmount(row.targetAmount, doc.amount);
  }
  const mismatchedSet = new Set(mismatched);
  for (const row of rows.values()) {
    const hasMismatch = [...expected.entries()].some(([k, e]) => mismatchedSet.has(k) && (e.day ?? "?") === row.day && (e.warehouse ?? "?") === row.warehouse);
    row.drift = row.missing > 0 || hasMismatch || (strict && row.extra > 0);
  }
  const sorted = [...rows.values()].sort((a, b) => (a.day === b.day ? a.warehouse.localeCompare(b.warehouse) : a.day < b.day ? -1 : 1));
  return { sorted, missing, extra, mismatched, documents };
}

export async function reconcile(spec: ReconcileSpec, ports: ReconcilePorts): Promise<ReconcileReport> {
  const { flow, range } = spec;
  const target = flow.target.type;
  const parts = composeHost(ports);
  const { meter, clients } = parts.session(spec.budget ?? UNLIMITED_BUDGET);
  const docType = target === "kis" ? parseKisOperation(flow.target.operation).bill : flow.target.operation;

  const run: ReconcileRun = { clients, references: parts.referenceStore() };
  const { expected, unmapped } = await readExpected(spec, run);
  const found = await readFound(spec, ports, run, expected);
  const { sorted, missing, extra, mismatched, documents } = compareDocuments(expected, found, docType, spec.strict === true);
  return {
    flowId: flow.id,
    target,
    range,
    rows: sorted,
    missing,
    extra,
    mismatched,
    unmapped,
    documents,
    sourceDocuments: sorted.reduce((n, r) => n + r.sourceDocuments, 0),
    expectedDocuments: expected.size,
    targetDocuments: found.size,
    drift: sorted.some((r) => r.drift),
    subrequests: meter.used(),
  };
}

function fmt(n: number | null, digits = 0): string {
  if (n === null) return "n/a";
  return n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** The table of differences (or every row with `all`). */
export function reconcileTable(report: ReconcileReport, all = false): { header: string[]; rows: string[][] } {
  const header = [
    "day",
    "warehouse",
    "source docs",
    "expected docs",
    "target docs",
    "missing",
    "extra",
    "source qty",
    "target qty",
    "source amount",
    "target amount",
    "status",
  ];
  const rows = report.rows
    .filter((r) => all || r.drift || r.extra > 0)
    .map((r) => [
      r.day,
      r.warehouse,
      fmt(r.sourceDocuments),
      fmt(r.expected),
      fmt(r.found),
      fmt(r.missing),
      fmt(r.extra),
      fmt(r.sourceQty, 2),
      fmt(r.targetQty, 2),
      fmt(r.sourceAmount, 2),
      fmt(r.targetAmount, 2),
      r.drift ? "DRIFT" : r.extra > 0 ? "extra" : "ok",
    ]);
  return { header, rows };
}
