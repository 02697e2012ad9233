/** CLI side of issue 14: preview warns about unresolved paths; import-qeasy/validate take fragments; validate --strict. */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runOfflineCli } from "./cli-harness.ts";

const SEED = resolve(import.meta.dirname, "../fixtures/qeasy/seed-000-other-in-to-kis.json");
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "jst-bridge-cli-qeasy-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const cli = (argv: string[]) => runOfflineCli(argv, dir);

async function schemeWithTypo() {
  const s = JSON.parse(await readFile(SEED, "utf8"));
  s.target.request.find((f: { field: string }) => f.field === "Entry").children.push({ field: "FNote", type: "string", value: "{{items.qtty}}" });
  const file = join(dir, "typo.json");
  await writeFile(file, JSON.stringify(s));
  return { s, file };
}

describe("CLI: QEasy metadata as people copy it", () => {
  it("import-qeasy lists the paths it cannot resolve; validate passes, validate --strict fails", async () => {
    const { file } = await schemeWithTypo();
    const imp = await cli(["import-qeasy", file, "--lookup-table", "kis_materials", "--out", join(dir, "flow.json")]);
    expect(imp.code, imp.stderr).toBe(0);
    expect(imp.stderr).toMatch(/warning: target\.fields\[1\]\.children\[9\]\.value: "items\.qtty" resolves to nothing.*items\.qty/);
    const plain = await cli(["validate", file]);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/warning: .*items\.qtty/);
    const strict = await cli(["validate", file, "--strict", "--json"]);
    expect(strict.code).toBe(1);
    expect(JSON.parse(strict.stdout).problems[0]).toMatchObject({ path: "target.fields[1].children[9].value" });
  });

  it("preview warns about a path that resolved for no document, with its flow path", async () => {
    const { file } = await schemeWithTypo();
    await cli(["import-qeasy", file, "--lookup-table", "kis_materials", "--out", join(dir, "flow2.json")]);
    const docs = [{ io_id: 1, io_date: "2024-03-01 10:00:00", wms_co_id: 1, modified: "2024-03-01 10:00:00", items: [{ sku_id: "A", qty: 1 }] }];
    await writeFile(join(dir, "docs.json"), JSON.stringify(docs));
    await writeFile(
      join(dir, "tables.json"),
      JSON.stringify({ kis_materials: [{ F_103: "A", FItemID: 1, FUnitID: 2 }], warehouses: [{ wms_co_id: 1, kis_stock_id: "S" }] }),
    );
    const r = await cli(["preview", join(dir, "flow2.json"), "--input", join(dir, "docs.json"), "--tables", join(dir, "tables.json")]);
    expect(r.stdout + r.stderr).toMatch(
      /warning: target\.fields\[1\]\.children\[9\]\.value: "items\.qtty" resolves to nothing in all 1 record; did you mean items\.qtty → items\.qty/,
    );
  });

  it("import-qeasy and validate take a lone target config and a field list (--part or detected)", async () => {
    const s = JSON.parse(await readFile(SEED, "utf8"));
    await writeFile(join(dir, "target.json"), JSON.stringify({ ...s.target, type: "EXECUTE" }));
    const t = await cli(["import-qeasy", join(dir, "target.json"), "--lookup-table", "kis_materials", "--json"]);
    expect(t.code, t.stderr).toBe(0);
    expect(JSON.parse(t.stdout)).toMatchObject({ part: "target", result: { target: { type: "kis" } } });
    await writeFile(join(dir, "fields.json"), JSON.stringify([{ field: "FQty", type: "float", value: "{{items.qtyy}}" }]));
    const f = await cli(["validate", join(dir, "fields.json"), "--part", "fields", "--endpoint", "/open/other/inout/query", "--strict"]);
    expect(f.code).toBe(1);
    expect(f.stdout).toMatch(/items\.qtyy/);
  });
});

describe("CLI: a dry run reports a path that resolves to nothing", () => {
  it("sync --dry-run prints the warning with its flow path (and --json carries it)", async () => {
    const { startCliHarness } = await import("./cli-harness.ts");
    const { SEED_FLOW_DOCUMENTS } = await import("../../shared/flows/index.ts");
    const { E2E_START } = await import("../helpers/e2e.ts");
    const { formatInZone } = await import("../../shared/util/time.ts");
    const h = await startCliHarness();
    try {
      await h.fillReferences();
      const flow = structuredClone(SEED_FLOW_DOCUMENTS["jst-other-in-to-kis"]) as any;
      flow.target.fields.find((f: { type: string }) => f.type === "array").children.push({ field: "FNote", type: "string", value: "{{items.remarkk}}" });
      await writeFile(join(h.dir, "typo-flow.json"), JSON.stringify(flow));
      const day = (ms: number) => formatInZone(ms, "YYYY-MM-DD");
      const args = ["sync", "typo-flow.json", "--from", day(E2E_START - 3 * 86_400_000), "--to", day(E2E_START - 86_400_000), "--dry-run"];
      const text = await h.cli(args);
      expect(text.code, text.stderr).toBe(0);
      expect(text.stderr).toMatch(/warning: target\.fields\[\d+\]\.children\[\d+\]\.value: "items\.remarkk" resolves to nothing.*items\.remark/);
      const json = JSON.parse((await h.cli([...args, "--json"])).stdout);
      expect(json.warnings.map((w: { path: string }) => w.path)).toEqual(["items.remarkk"]);
    } finally {
      await h.close();
    }
  });
});

describe("CLI: validate --strict on a native flow", () => {
  it("checks the native flow's paths against the documented fields too", async () => {
    const { SEED_FLOW_DOCUMENTS } = await import("../../shared/flows/index.ts");
    const ok = join(dir, "seed-kis.json");
    await writeFile(ok, JSON.stringify(SEED_FLOW_DOCUMENTS["jst-other-in-to-kis"]));
    expect((await cli(["validate", ok, "--strict"])).code).toBe(0);
    const flow = structuredClone(SEED_FLOW_DOCUMENTS["jst-other-in-to-kis"]) as any;
    flow.target.fields.find((f: { type: string }) => f.type === "array").children.push({ field: "FNote", type: "string", value: "{{items.remarkk}}" });
    const bad = join(dir, "typo-kis.json");
    await writeFile(bad, JSON.stringify(flow));
    const r = await cli(["validate", bad, "--strict"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/items\.remarkk.*resolves to nothing/);
  });
});
