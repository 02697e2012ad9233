/**
 * Per-document mapping benchmark, KIS seed flow (no merge): `node bench/mapping-kis.ts [--json]`.
 *
 * The same 10,000 synthetic Jushuitan other in/out documents × 5 lines become KIS miscellaneous receipts
 * ({Head, Entry}: datetime → ISO-T date, warehouse lookup, material lookups per line, numeric coercion), three ways:
 *   (a) core      the compiled pipeline running shared/flows/jst-other-in-to-kis.json
 *   (b) JSONata   one expression evaluated per document (lookups as bound functions over the same Maps as (c))
 *   (c) hand      a hand-written TypeScript function
 * The engine takes from the core per document the external key, the payload and its content hash (engine/hash.ts, which
 * tells an unchanged re-read from a changed document); the core's pipeline always hashes. So each round also times
 *   (h) hash      the content hash of the same payloads, alone
 * and two ratios are reported (bench/honesty.ts): the goal row, mapping alone = (core − hash) / hand; and, informational,
 * mapping + content hash = core / (hand + hash). With the hash on both sides (~64 % of the hand-written time) the ratio
 * hid the mapping's own gap (one run: 1.32× with it, 1.89× without). JSONata hashes its payloads, as the core does.
 * The outputs are checked equal before timing. Rounds interleave the four, in an order that rotates each round
 * (core, hand, hash, JSONata; hand, hash, JSONata, core; …: no implementation always runs after the same one, e.g. on
 * its garbage), and the ratios are taken per round, then the median with min–max: a noisy machine slows neighbouring
 * runs alike.
 */
import { cpuUsage } from "node:process";
import jsonata from "jsonata";
import { contentHash } from "../shared/engine/hash.ts";
import { compileFlow } from "../shared/flow/pipeline.ts";
import { lookupTables } from "../shared/flow/preview.ts";
import { seedFlow } from "../shared/flows/index.ts";
import { SKUS, WAREHOUSES, seededRandom } from "../test/emulators/catalog.ts";
import { kisMappingRatios, median } from "./honesty.ts";

const LINES = 5;
const DOCS = Number(process.env.DOCS ?? 10_000);
const ROUNDS = Number(process.env.ROUNDS ?? 7);

type Doc = Record<string, any>;

function synthesize(): Doc[] {
  const rand = seededRandom(20240302);
  const money = (n: number) => Math.round(n * 100) / 100;
  const docs: Doc[] = [];
  for (let i = 0; i < DOCS; i++) {
    const day = 1 + Math.floor(rand() * 10);
    const at = `2024-03-${String(day).padStart(2, "0")} ${String(Math.floor(rand() * 24)).padStart(2, "0")}:${String(Math.floor(rand() * 60)).padStart(2, "0")}:07`;
    const wh = WAREHOUSES[Math.floor(rand() * 2)]!;
    const io_id = 2_100_000 + i;
    const items = [];
    for (let l = 0; l < LINES; l++) {
      const sku = SKUS[(i * LINES + l) % SKUS.length]!;
      const qty = 1 + Math.floor(rand() * 5);
      const cost = money(sku.salePrice * 0.6);
      items.push({
        ioi_id: io_id * 10 + l,
        sku_id: sku.skuId,
        i_id: sku.itemId,
        name: sku.name,
        properties_value: sku.propertiesValue,
        qty,
        cost_price: cost,
        cost_amount: money(cost * qty),
        unit: sku.unit,
      });
    }
    docs.push({
      io_id,
      io_date: at,
      modified: at,
      created: at,
      status: "Confirmed",
      type: "其它退货",
      warehouse: wh.jstName,
      wms_co_id: wh.jstWmsCoId,
      remark: ["退货入库", "", "盘点调整"][i % 3],
      receiver_name: "",
      creator_name: "仓管",
      labels: "",
      lock_wh_id: 0,
      items,
      batchs: [],
    });
  }
  return docs;
}

const warehouseRows = WAREHOUSES.map((w) => ({ wms_co_id: w.jstWmsCoId, tplus_code: w.tplusCode, kis_stock_id: w.kisStockId }));
const materialRows = SKUS.map((s) => ({ F_103: s.skuId, FItemID: s.kisItemId, FNumber: s.kisNumber, FName: s.name, FUnitID: s.kisUnitId }));

// ---------- (a) core ----------
const compiled = compileFlow(seedFlow("jst-other-in-to-kis"));
const tables = lookupTables({ warehouses: warehouseRows, kis_materials: materialRows });
const vars = { lastSyncTime: Date.UTC(2024, 1, 29), currentTime: Date.UTC(2024, 2, 20) };

/** What the engine takes from the mapping: the key, the payload and its content hash (members: the source id). */
interface Mapped {
  externalKey: string;
  payload: Doc;
  hash: string;
}

function core(docs: Doc[]): Mapped[] {
  const result = compiled.run(docs, { vars, lookups: tables });
  if (result.errors.length > 0) throw result.errors[0]!.error;
  return result.documents;
}

// ---------- (c) hand-written ----------
const stockOf = new Map(warehouseRows.map((w) => [String(w.wms_co_id), String(w.kis_stock_id)]));
const materialOf = new Map(materialRows.map((m) => [m.F_103, { item: String(m.FItemID), unit: String(m.FUnitID) }]));

/** Hand-written mapping alone: key and payload (the hash is timed on its own, hashAll). */
function hand(docs: Doc[]): Array<{ externalKey: string; payload: Doc }> {
  const out: Array<{ externalKey: string; payload: Doc }> = [];
  for (const d of docs) {
    const stock = stockOf.get(String(d.wms_co_id));
    if (stock === undefined) throw new Error(`no warehouse ${d.wms_co_id}`);
    const entry = [];
    for (const l of d.items) {
      const m = materialOf.get(l.sku_id);
      if (!m) throw new Error(`no material ${l.sku_id}`);
      const qty = Number(l.qty);
      entry.push({
        FItemID: m.item,
        FUnitID: m.unit,
        FQty: qty,
        Fauxqty: qty,
        FAuxQtyMust: qty,
        FDCStockID: stock,
        FAuxPrice: Number(l.cost_price),
        Famount: Number(l.cost_amount),
        FPlanMode: 14036,
      });
    }
    const payload = {
      Head: {
        FBillNo: String(d.io_id),
        Fdate: String(d.io_date).slice(0, 19).replace(" ", "T"),
        FTranType: 10,
        FROB: 1,
        FDCStockID: stock,
        Fnote: String(d.remark ?? ""),
      },
      Entry: entry,
    };
    out.push({ externalKey: String(d.io_id), payload });
  }
  return out;
}

// ---------- (h) the content hash alone ----------
function hashAll(mapped: Array<{ externalKey: string; payload: Doc }>): Mapped[] {
  return mapped.map((m) => ({ ...m, hash: contentHash(m.payload) }));
}

// ---------- (b) JSONata ----------
const expr = jsonata(`(
  $stock := $stockOf($string(wms_co_id));
  {
    "Head": { "FBillNo": $string(io_id), "Fdate": $replace($substring(io_date, 0, 19), " ", "T"), "FTranType": 10, "FROB": 1, "FDCStockID": $stock, "Fnote": $string(remark) },
    "Entry": [items.(
      $m := $materialOf(sku_id);
      { "FItemID": $m.item, "FUnitID": $m.unit, "FQty": $number(qty), "Fauxqty": $number(qty), "FAuxQtyMust": $number(qty), "FDCStockID": $stock,
        "FAuxPrice": $number(cost_price), "Famount": $number(cost_amount), "FPlanMode": 14036 }
    )]
  }
)`);
const bindings = { stockOf: (k: string) => stockOf.get(k), materialOf: (k: string) => materialOf.get(k) };

async function viaJsonata(docs: Doc[]): Promise<Mapped[]> {
  const out: Mapped[] = [];
  for (const d of docs) {
    const payload = await expr.evaluate(d, bindings);
    out.push({ externalKey: String(d.io_id), payload, hash: contentHash(payload) });
  }
  return out;
}

// ---------- harness ----------
function same(what: string, got: Mapped[], want: Mapped[]) {
  const shape = (xs: Mapped[]) => JSON.stringify(xs.map((x) => [x.externalKey, x.payload, x.hash]));
  const a = shape(got);
  const b = shape(want);
  if (a !== b) {
    const i = [...a].findIndex((ch, k) => ch !== b[k]);
    throw new Error(
      `${what} output differs from hand-written at char ${i}: …${a.slice(Math.max(0, i - 80), i + 80)}… vs …${b.slice(Math.max(0, i - 80), i + 80)}…`,
    );
  }
}

async function cpuMs(fn: () => unknown): Promise<number> {
  const c0 = cpuUsage();
  await fn();
  const c = cpuUsage(c0);
  return (c.user + c.system) / 1000;
}

async function main() {
  const docs = synthesize();
  const handMapped = hand(docs);
  const want = hashAll(handMapped);
  same("core", core(docs), want);
  same("JSONata", await viaJsonata(docs), want);

  const runs = { core: [] as number[], hand: [] as number[], hash: [] as number[], jsonata: [] as number[] };
  const impls = [
    ["core", () => core(docs)],
    ["hand", () => hand(docs)],
    ["hash", () => hashAll(handMapped)],
    ["jsonata", () => viaJsonata(docs)],
  ] as const;
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < impls.length; k++) {
      const [name, fn] = impls[(r + k) % impls.length]!;
      runs[name].push(await cpuMs(fn));
    }
  }
  const perDocUs = (xs: number[]) => (median(xs) * 1000) / DOCS;
  const { goal, withHash } = kisMappingRatios(runs.core.map((core, i) => ({ core, hand: runs.hand[i]!, hash: runs.hash[i]! })));
  const vsJsonata = runs.jsonata.map((x, i) => x / runs.core[i]!);
  const result = {
    documents: DOCS,
    lines: LINES,
    rounds: ROUNDS,
    coreUsPerDoc: perDocUs(runs.core),
    handUsPerDoc: perDocUs(runs.hand),
    hashUsPerDoc: perDocUs(runs.hash),
    jsonataUsPerDoc: perDocUs(runs.jsonata),
    // The goal row: mapping alone.
    overHand: goal.median,
    overHandMin: goal.min,
    overHandMax: goal.max,
    // Informational: mapping + content hash on both sides.
    withHashOverHand: withHash.median,
    withHashOverHandMin: withHash.min,
    withHashOverHandMax: withHash.max,
    speedupVsJsonata: median(vsJsonata),
  };
  console.log(`node ${process.version}; KIS seed flow (no merge): ${DOCS} documents × ${LINES} lines, ${ROUNDS} interleaved rounds, CPU time`);
  console.log(
    `per document: core ${result.coreUsPerDoc.toFixed(2)} µs (with hash), hand-written ${result.handUsPerDoc.toFixed(2)} µs (mapping alone), content hash ${result.hashUsPerDoc.toFixed(2)} µs, JSONata ${result.jsonataUsPerDoc.toFixed(2)} µs (with hash)`,
  );
  console.log(
    `core vs hand-written, mapping alone: ${result.overHand.toFixed(2)}× the time (min ${result.overHandMin.toFixed(2)}, max ${result.overHandMax.toFixed(2)}); ` +
      `mapping + content hash: ${result.withHashOverHand.toFixed(2)}× (${result.withHashOverHandMin.toFixed(2)}–${result.withHashOverHandMax.toFixed(2)}); core vs JSONata: ${result.speedupVsJsonata.toFixed(1)}× faster`,
  );
  if (process.argv.includes("--json")) console.log(JSON.stringify(result));
}

await main();
