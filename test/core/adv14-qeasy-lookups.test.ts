/**
 * Adversarial review of issue 14 (lookups). Asserts the promised "never drops a field silently" and FAILS on the
 * code as merged (c9eea85): a reproduction, not a regression.
 */
import { describe, expect, it } from "vitest";
import { preview } from "../../shared/flow/preview.ts";
import { loadFlow } from "../../shared/flow/schema.ts";

const vars = { lastSyncTime: Date.UTC(2024, 2, 1), currentTime: Date.UTC(2024, 2, 2) };
const flow = (value: string) =>
  loadFlow({
    id: "t-adv14-lookup",
    name: "t",
    version: 1,
    source: { type: "jushuitan", endpoint: "/open/other/inout/query", params: {} },
    incremental: { lookbackMinutes: 10, endLagMinutes: 5, windowDays: 1 },
    references: [{ name: "materials", keyField: "F_103" }],
    target: {
      type: "kis",
      operation: "APP006992/api/OtherInStock/Save",
      externalKey: "{io_id}",
      defaultLookupTable: "materials",
      fields: [
        { field: "FBillNo", type: "string", value: "{io_id}" },
        { field: "Entry", type: "array", value: "items", children: [{ field: "FItemID", type: "int", value }] },
      ],
    },
  });
const docs = [{ io_id: 1, modified: "2024-03-01 10:00:00", items: [{ sku_id: "A", qty: 2 }] }];
const tables = { materials: [{ content: { F_103: "A", FItemID: 1001 } }] };

describe("adv14: lookups whose found field does not exist", () => {
  for (const [name, value] of [
    ["_mongoQuery", '_mongoQuery findField=content.FItemIDD where={"content.F_103":{"$eq":"{{items.sku_id}}"}}'],
    ["_findCollection", "_findCollection find FItemIDD from materials where F_103={{items.sku_id}} _endFind"],
  ] as const) {
    it(`adv14 F10 (${name}): a matched row without the findField is reported, not an FItemID that vanishes`, () => {
      const r = preview(flow(value), docs, { vars, tables });
      // Today: payload Entry [{}] — FItemID gone, errors [], warnings [].
      const reported = r.errors.length > 0 || r.warnings.some((w) => w.flowPath === "target.fields[1].children[0].value");
      expect({ entry: r.documents.map((d) => d.payload.Entry), reported }).toMatchObject({ reported: true });
    });
  }
});
