/**
 * Adversarial review of issue 14 (CLI and merge side). These assert the promised behaviour and FAIL on the code
 * as merged (c9eea85): reproductions, not regressions.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runOfflineCli } from "./cli-harness.ts";
import { preview } from "../../shared/flow/preview.ts";
import { importQeasyDetailed } from "../../shared/flow/qeasy-import.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "jst-bridge-adv14-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const cli = (argv: string[]) => runOfflineCli(argv, dir);

const vars = { lastSyncTime: Date.UTC(2024, 2, 1), currentTime: Date.UTC(2024, 2, 2) };

describe("adv14: validate --strict", () => {
  it("adv14 F3c: validate --strict accepts a scheme whose header total is _function SUM({{items.qty}}) (a correct, documented aggregate)", async () => {
    const scheme = {
      source: { api: "/open/orders/out/simple/query", method: "POST" },
      target: {
        api: "/tplus/api/v2/otherDispatch/Create",
        method: "POST",
        request: [
          { field: "ExternalCode", type: "string", value: "{io_id}" },
          { field: "Memo", type: "string", value: "_function CONCAT('qty ', SUM({{items.qty}}))" },
          { field: "RDRecordDetails", type: "array", value: "items", children: [{ field: "BaseQuantity", type: "float", value: "{{items.qty}}" }] },
        ],
      },
    };
    const file = join(dir, "sum.json");
    await writeFile(file, JSON.stringify(scheme));
    const strict = await cli(["validate", file, "--strict", "--json"]);
    // Today: exit 1, problem 'target.fields[1].value: "items.qty" resolves to nothing … aggregate it with SUM(items.qty)'.
    expect(strict.stdout).not.toMatch(/resolves to nothing/);
    expect(strict.code).toBe(0);
  });
});

describe('adv14: whole QEasy schemes written with QEasy\'s own "type": "QUERY"', () => {
  const scheme = {
    source: { api: "/open/other/inout/query", type: "QUERY", method: "POST", request: [{ field: "status", type: "string", value: "Confirmed" }] },
    target: {
      api: "/tplus/api/v2/otherDispatch/Create",
      type: "EXECUTE",
      method: "POST",
      request: [
        { field: "ExternalCode", type: "string", value: "{io_id}" },
        { field: "RDRecordDetails", type: "array", value: "items", children: [{ field: "BaseQuantity", type: "float", value: "{{items.qty}}" }] },
      ],
    },
  };

  it('adv14 F9a: validate recognises a whole scheme whose source says "type": "QUERY" as QEasy (not a native flow with 20 errors)', async () => {
    const file = join(dir, "typed-scheme.json");
    await writeFile(file, JSON.stringify(scheme));
    const r = await cli(["validate", file, "--json"]);
    // Today: kind "flow", valid false, problems id/name/version/source.type "QUERY"/target.fields … (isQeasyScheme in action/cli/flows.ts).
    expect(JSON.parse(r.stdout)).toMatchObject({ kind: "qeasy", valid: true });
    expect(r.code).toBe(0);
  });

  it('adv14 F9b: preview runs a whole scheme whose source says "type": "QUERY"', async () => {
    const file = join(dir, "typed-scheme2.json");
    await writeFile(file, JSON.stringify(scheme));
    await writeFile(join(dir, "docs9.json"), JSON.stringify([{ io_id: 9, modified: "2024-03-01 10:00:00", items: [{ qty: 2 }] }]));
    const r = await cli(["preview", file, "--input", join(dir, "docs9.json"), "--json"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/"BaseQuantity": 2/);
  });
});

describe("adv14: QEasy merge without a body field list", () => {
  it("adv14 F8: operation merge with bodySum only does not collapse different SKUs into one line without its SKU", () => {
    const scheme = {
      source: { api: "orders.out.simple.query", type: "QUERY", formatResponse: [{ old: "io_date", new: "io_date_new", format: "date" }] },
      target: {
        api: "/tplus/api/v2/otherDispatch/Create",
        type: "EXECUTE",
        operation: { method: "merge", field: "io_date_new", bodyName: "items", bodySum: "qty" },
        request: [
          { field: "ExternalCode", value: "{io_id}" },
          { field: "VoucherDate", value: "{io_date_new}" },
          {
            field: "RDRecordDetails",
            type: "array",
            value: "items",
            children: [
              { field: "Code", value: "{{items.sku_id}}" },
              { field: "Quantity", type: "float", value: "{{items.qty}}" },
            ],
          },
        ],
      },
    };
    const docs = [
      {
        io_id: 1,
        io_date: "2024-03-01 10:00:00",
        modified: "2024-03-01 10:00:00",
        items: [
          { sku_id: "A", qty: 1 },
          { sku_id: "B", qty: 2 },
        ],
      },
      { io_id: 2, io_date: "2024-03-01 12:00:00", modified: "2024-03-01 12:00:00", items: [{ sku_id: "A", qty: 3 }] },
    ];
    let lines: unknown;
    try {
      const { flow } = importQeasyDetailed(scheme);
      const r = preview(flow, docs, { vars });
      lines = r.documents.map((d) => d.payload.RDRecordDetails);
    } catch (e) {
      lines = `refused: ${(e as Error).message}`; // a clear refusal would also be acceptable
    }
    // Today: [[{ Quantity: 6 }]] — A and B summed into one line, the SKU gone (a wrong voucher, warning only).
    if (typeof lines !== "string") {
      const flat = (lines as { Code?: string; Quantity: number }[][]).flat();
      expect(flat.every((l) => typeof l.Code === "string")).toBe(true);
      expect(flat.reduce((s, l) => s + l.Quantity, 0)).toBe(6);
      expect(flat.filter((l) => l.Code === "B").map((l) => l.Quantity)).toEqual([2]);
    }
  });
});
