// What the Worker bundle is made of: bundles it exactly as `wrangler deploy` would (without uploading), then uses the
// source map to give every byte of the minified output to the module it came from, and reports per group (npm package,
// or the project directory) the raw bytes and the gzip size of that group's code compressed on its own.
// Gzip is not additive (a group compresses better next to similar code), so the per-group gzip column sums to a bit
// more than the whole bundle's gzip; it ranks where the bytes are, and the whole-bundle figure is the budget.
// Usage: node scripts/bundle-report.ts [--modules N] [--markdown]
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";

const { values } = parseArgs({
  options: { modules: { type: "string", default: "25" }, markdown: { type: "boolean", default: false } },
});

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_INDEX = new Map([...B64].map((c, i) => [c, i]));

/** Decodes one source-map VLQ segment ("AAAA,") into its numbers. */
function decodeSegment(segment: string): number[] {
  const out: number[] = [];
  let value = 0;
  let shift = 0;
  for (const ch of segment) {
    const digit = B64_INDEX.get(ch);
    if (digit === undefined) throw new Error(`bad VLQ character ${ch}`);
    value += (digit & 31) << shift;
    if (digit & 32) {
      shift += 5;
      continue;
    }
    out.push(value & 1 ? -(value >>> 1) : value >>> 1);
    value = 0;
    shift = 0;
  }
  return out;
}

/** For every output line, the (column, source index) starts of its mapped segments. */
function segmentStarts(mappings: string): Array<Array<[number, number]>> {
  const lines: Array<Array<[number, number]>> = [];
  let source = 0;
  for (const line of mappings.split(";")) {
    const starts: Array<[number, number]> = [];
    let column = 0;
    for (const seg of line.split(",")) {
      if (seg === "") continue;
      const n = decodeSegment(seg);
      column += n[0] ?? 0;
      if (n.length >= 4) {
        source += n[1] ?? 0;
        starts.push([column, source]);
      } else starts.push([column, -1]);
    }
    lines.push(starts);
  }
  return lines;
}

/** npm package, or the project directory (`shared/engine`, `worker/dashboard`; `worker/*` for the Worker's top-level files). */
function groupOf(source: string): string {
  const pkg = source.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (pkg) return `npm:${pkg[1]}`;
  const parts = source.split("/");
  return parts.length > 2 ? parts.slice(0, 2).join("/") : parts.length === 2 ? `${parts[0]}/*` : source;
}

/** A source-map path (relative to the output directory) as a path in the repository. */
function repoPath(source: string, outdir: string): string {
  return source.startsWith("(") ? source : relative(process.cwd(), resolve(outdir, source));
}

const outdir = mkdtempSync(join(tmpdir(), "jst-bridge-bundle-report-"));
try {
  execFileSync("npx", ["wrangler", "deploy", "--dry-run", "--outdir", outdir], {
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });
  const file = readdirSync(outdir).find((f) => f.endsWith(".js"));
  if (!file) throw new Error(`wrangler produced no .js bundle in ${outdir}`);
  const code = readFileSync(join(outdir, file), "utf8");
  const map = JSON.parse(readFileSync(join(outdir, `${file}.map`), "utf8")) as { sources: string[]; mappings: string };
  const starts = segmentStarts(map.mappings);
  const pieces = new Map<string, string[]>();
  const put = (key: string, text: string) => {
    const list = pieces.get(key) ?? [];
    list.push(text);
    pieces.set(key, list);
  };
  code.split("\n").forEach((line, i) => {
    const segs = starts[i] ?? [];
    if (segs.length === 0 || (segs[0]?.[0] ?? 0) > 0) put("(unmapped)", line.slice(0, segs[0]?.[0] ?? line.length));
    segs.forEach(([col, src], j) => {
      const end = segs[j + 1]?.[0] ?? line.length;
      put(src < 0 ? "(unmapped)" : repoPath(map.sources[src] ?? "(unmapped)", outdir), line.slice(col, end));
    });
  });
  const row = (texts: string[]) => {
    const text = texts.join("");
    return { raw: Buffer.byteLength(text), gz: gzipSync(text).length };
  };
  const groups = new Map<string, string[]>();
  for (const [source, texts] of pieces) groups.set(groupOf(source), [...(groups.get(groupOf(source)) ?? []), ...texts]);
  const kib = (n: number) => (n / 1024).toFixed(1);
  const total = { raw: Buffer.byteLength(code), gz: gzipSync(code).length };
  const print = (title: string, rows: Array<[string, { raw: number; gz: number }]>) => {
    console.log(values.markdown ? `\n| ${title} | raw KiB | gzip KiB (alone) |\n|---|---:|---:|` : `\n${title}`);
    for (const [name, r] of rows) {
      console.log(values.markdown ? `| ${name} | ${kib(r.raw)} | ${kib(r.gz)} |` : `${kib(r.gz).padStart(7)} ${kib(r.raw).padStart(7)}  ${name}`);
    }
  };
  console.log(`bundle ${file}: ${kib(total.raw)} KiB raw, ${kib(total.gz)} KiB gzip`);
  const byGroup = [...groups].map(([k, t]) => [k, row(t)] as [string, { raw: number; gz: number }]);
  print(
    "group",
    byGroup.sort((a, b) => b[1].gz - a[1].gz),
  );
  const byModule = [...pieces].map(([k, t]) => [k.replace(/^.*node_modules\//, "node_modules/"), row(t)] as [string, { raw: number; gz: number }]);
  print("module", byModule.sort((a, b) => b[1].gz - a[1].gz).slice(0, Number(values.modules)));
} finally {
  rmSync(outdir, { recursive: true, force: true });
}
