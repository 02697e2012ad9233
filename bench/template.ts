// Template evaluation throughput: `node bench/template.ts`. Values are compiled once, then evaluated
// against fresh records, as the mapper does for every document of a page.
import { compileValue, type EvalScope, type LookupTables, type TemplateVars } from "../shared/template/index.ts";

const vars: TemplateVars = { lastSyncTime: Date.UTC(2024, 0, 1), currentTime: Date.UTC(2024, 0, 2, 4, 5, 6), pageIndex: 1, pageSize: 50 };

const materials = Array.from({ length: 2000 }, (_, i) => ({ F_103: `SKU-${i}`, FItemID: 10_000 + i, FUnitID: 11 }));
const lookups: LookupTables = { get: (name) => (name === "materials" ? materials : undefined) };

function makeDoc(i: number) {
  return {
    io_id: 100_000 + i,
    so_id: `SO-${i}`,
    io_date: `2024-01-${String((i % 28) + 1).padStart(2, "0")} 09:43:26`,
    remark: i % 3 === 0 ? null : "到货",
    shop_id: 10 + (i % 4),
    items: Array.from({ length: 5 }, (_, k) => ({ sku_id: `SKU-${(i * 7 + k) % 2000}`, qty: k + 1, sale_price: 19.9 + k, sale_amount: (k + 1) * (19.9 + k) })),
  };
}
const docs = Array.from({ length: 50 }, (_, i) => makeDoc(i));

const header = [
  "{io_id}",
  "{io_id}-{so_id}",
  "_function REPLACE ('{{io_date|datetime}}',' ','T')",
  "{{LAST_SYNC_TIME|datetime}}",
  "_function CONCAT(io_id, '-', so_id)",
  "_function IFNULL(remark, '')",
  "_function ROUND(SUM(items, qty * sale_price), 2)",
  "_function CASE WHEN shop_id IN (10, 11) THEN 'online' ELSE 'offline' END",
  "_function DATE_FORMAT(io_date, '%Y%m%d')",
  "Confirmed",
];
const line = [
  "{sku_id}",
  "{qty}",
  "{sale_price}",
  "_function ROUND(qty * sale_price, 2)",
  '_mongoQuery table=materials findField=content.FItemID where={"content.F_103":{"$eq":"{sku_id}"}}',
  "{../io_id}",
];

function bench(label: string, fn: () => void, minMs = 300): number {
  for (let i = 0; i < 2000; i++) fn(); // warm up the JIT
  let runs = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < minMs) {
    for (let i = 0; i < 1000; i++) fn();
    runs += 1000;
    elapsed = performance.now() - start;
  }
  const perSecond = (runs / elapsed) * 1000;
  console.log(`${label.padEnd(86)} ${Math.round(perSecond).toLocaleString("en-US").padStart(12)} /s`);
  return perSecond;
}

console.log("single values (evaluations per second)");
for (const source of [...header, ...line]) {
  const compiled = compileValue(source);
  let d = 0;
  const isLine = line.includes(source);
  bench(source.length > 84 ? `${source.slice(0, 83)}…` : source, () => {
    const doc = docs[d++ % docs.length]!;
    const scope: EvalScope = isLine ? { record: doc.items[d % 5]!, parent: doc, vars, lookups } : { record: doc, vars, lookups };
    compiled.evaluate(scope);
  });
}

const compiledHeader = header.map((s) => compileValue(s));
const compiledLine = line.map((s) => compileValue(s));
function mapPage() {
  for (const doc of docs) {
    const scope: EvalScope = { record: doc, vars, lookups };
    for (const v of compiledHeader) v.evaluate(scope);
    for (const item of doc.items) {
      const lineScope: EvalScope = { record: item, parent: doc, vars, lookups };
      for (const v of compiledLine) v.evaluate(lineScope);
    }
  }
}
const evaluationsPerPage = docs.length * (header.length + 5 * line.length);
console.log(`\npage mapping: 50 documents × (${header.length} header values + 5 lines × ${line.length} line values) = ${evaluationsPerPage} evaluations`);
const pages = bench("map one 50-document page", mapPage, 1000);
console.log(`≈ ${(1000 / pages).toFixed(3)} ms per page (goal ≤ 0.5 ms CPU)`);

const compileStart = performance.now();
for (let i = 0; i < 200; i++) for (const s of [...header, ...line]) compileValue(s, { path: `bench[${i}]` });
console.log(`compile: ${(((performance.now() - compileStart) / (200 * (header.length + line.length))) * 1000).toFixed(1)} µs per value`);
