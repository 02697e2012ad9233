import { describe, expect, it } from "vitest";
import { ConfigError } from "../../shared/errors.ts";
import { checkFlow, loadFlow } from "../../shared/flow/schema.ts";
import { cronProblem } from "../../shared/flow/cron.ts";
import { SEED_FLOW_DOCUMENTS, SEED_FLOW_IDS, seedFlow } from "../../shared/flows/index.ts";

/** A fresh, valid flow document to break in each test. */
function validFlow(): Record<string, any> {
  return structuredClone(SEED_FLOW_DOCUMENTS["jst-sales-out-to-tplus"]) as Record<string, any>;
}

function loadError(doc: unknown): ConfigError {
  try {
    loadFlow(doc);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error("loadFlow accepted an invalid flow");
}

describe("loadFlow: the seed flows", () => {
  it("validates both seed flows and applies defaults", () => {
    expect(SEED_FLOW_IDS).toEqual(["jst-other-in-to-kis", "jst-sales-out-to-tplus"]);
    const kis = seedFlow("jst-other-in-to-kis");
    expect(kis.target.type).toBe("kis");
    expect(kis.source.conditionMode).toBe("line");
    expect(kis.source.idField).toBe("io_id");
    const so = seedFlow("jst-sales-out-to-tplus");
    expect(so.operation?.type).toBe("merge");
    expect(so.target.onExisting).toBe("skip");
    expect(so.source.params).toMatchObject({ shop_id: 0, is_offline_shop: true, date_type: 0 });
    // Issue 16: every status is read (a cancellation must be seen); the condition decides what is posted.
    expect(so.source.params.status).toBeUndefined();
    expect(so.source.condition).toEqual([[{ field: "status", logic: "eq", value: "Confirmed" }]]);
    expect(so.target.onChange).toBe("compensate");
    expect(so.target.closedPeriod).toBe("hold");
    // Reads by modified (a late confirmation has a fresh modified), backfills whole io_date days (issue 11 item 4).
    expect(so.source).toMatchObject({ timeField: "modified", rangeTimeField: "io_date" });
  });

  it("does not write defaults into the shared JSON documents", () => {
    seedFlow("jst-other-in-to-kis");
    const raw = SEED_FLOW_DOCUMENTS["jst-other-in-to-kis"] as Record<string, any>;
    expect(raw.source.conditionMode).toBeUndefined();
  });

  it("throws a ConfigError for an unknown seed id", () => {
    expect(() => seedFlow("nope")).toThrow(/No seed flow "nope"/);
  });
});

describe("loadFlow: bad input gives the JSON path, the problem and a hint", () => {
  it("wrong type deep in the mapping tree", () => {
    const doc = validFlow();
    doc.target.fields[6].children[1].type = "double";
    const e = loadError(doc);
    expect(e.message).toContain(
      'at target.fields[6].children[1].type: the string "double" is not allowed — use one of: string, int, float, date, datetime, bool, object, array',
    );
    expect((e.details as any).problems).toHaveLength(1);
  });

  it("wrong value kind", () => {
    const doc = validFlow();
    doc.version = "1";
    doc.source.paging.pageSize = 500;
    const e = loadError(doc);
    expect(e.message).toContain('at version: expected number, got the string "1"');
    expect(e.message).toContain("at source.paging.pageSize: number 500 is too big (max 100) — Jushuitan document queries return at most 50 rows per page");
  });

  it("unknown component type names the allowed ones and guesses", () => {
    const doc = validFlow();
    doc.target.type = "tplsu";
    doc.operation.type = "aggregate";
    const e = loadError(doc);
    expect(e.message).toContain('at target.type: unknown target type "tplsu" — use one of: tplus, kis (did you mean "tplus"?)');
    expect(e.message).toContain('at operation.type: unknown operation type "aggregate" — use one of: merge');
  });

  it("unknown keys get a did-you-mean from the schema", () => {
    const doc = validFlow();
    doc.source.paging.pagesize = 50;
    doc.target.fields[0].defualt = "x";
    const e = loadError(doc);
    expect(e.message).toContain('at source.paging.pagesize: unknown key "pagesize" — did you mean "pageSize"?');
    expect(e.message).toContain('at target.fields[0].defualt: unknown key "defualt" — did you mean "default"?');
  });

  it("a template that does not compile is reported with its path", () => {
    const doc = validFlow();
    doc.target.fields[6].children[2].value = "_function ROUND({sale_amount} / , 2)";
    const e = loadError(doc);
    expect(e.message).toMatch(
      /at target\.fields\[6\]\.children\[2\]\.value: template "_function ROUND\(\{sale_amount\} \/ , 2\)" does not compile \(column \d+\): /,
    );
  });

  it("a lookup reading an undeclared reference table", () => {
    const doc = validFlow();
    doc.target.fields[4].children[0].value = "_findCollection find tplus_code from warehouse where wms_co_id={wms_co_id} _endFind";
    const e = loadError(doc);
    expect(e.message).toContain(
      'at target.fields[4].children[0].value: lookup reads table "warehouse", which is not declared in references — did you mean "warehouses"?',
    );
  });

  it("a _mongoQuery without any table", () => {
    const doc = validFlow();
    doc.target.fields[5].value = '_mongoQuery findField=content.Name where={"content.id":{"$eq":"{remark}"}}';
    const e = loadError(doc);
    expect(e.message).toContain('at target.fields[5].value: lookup names no table and no default table applies — set "table"');
  });

  it("a window over 7 days", () => {
    const doc = validFlow();
    doc.incremental.windowDays = 10;
    const e = loadError(doc);
    expect(e.message).toContain("at incremental.windowDays: number 10 is too big (max 7) — Jushuitan refuses modified_begin/modified_end spans over 7 days");
  });

  it("a cron that does not parse, a bad id and a bad timezone", () => {
    const doc = validFlow();
    doc.schedule.cron = "61 * * * *";
    const e = loadError(doc);
    expect(e.message).toContain('at schedule.cron: invalid cron "61 * * * *": "61" is outside the minute range (0-59)');
    const doc2 = validFlow();
    doc2.id = "Sales Out";
    expect(loadError(doc2).message).toContain('at id: the string "Sales Out" must be kebab-case');
    const doc3 = validFlow();
    doc3.timezone = "Mars/Olympus";
    expect(loadError(doc3).message).toContain('at timezone: unknown time zone "Mars/Olympus"');
  });

  it("missing required parts", () => {
    const doc = validFlow();
    delete doc.target;
    delete doc.incremental;
    const e = loadError(doc);
    expect(e.message).toContain("at target: is required");
    expect(e.message).toContain("at incremental: is required (expected object) — add e.g.");
  });

  it("merge semantics: the key must be built from exactly the groupBy fields", () => {
    const doc = validFlow();
    doc.operation.keyTemplate = "SO-{io_date_new}-{shop_id}";
    const e = loadError(doc);
    expect(e.message).toContain("at operation.keyTemplate: uses shop_id, which is not in groupBy");
    expect(e.message).toContain("at operation.keyTemplate: does not use groupBy field wms_co_id, so two groups could share one external key");
    const doc2 = validFlow();
    doc2.target.externalKey = "{io_id}";
    expect(loadError(doc2).message).toContain("at target.externalKey: a merged flow must use the merge key");
  });

  it("mapping tree semantics: children on scalars, duplicate fields, bad formats, bad conditions", () => {
    const doc = validFlow();
    doc.target.fields[5] = { field: "Memo", type: "string", value: "{remark}", children: [{ field: "x", type: "string" }] };
    doc.target.fields.push({ field: "VoucherDate", type: "string", value: "{io_date_new}" });
    doc.source.formatResponse[0].format = "dat";
    doc.source.condition = [[{ field: "pay_amount", logic: "between", value: "100" }]];
    const e = loadError(doc);
    expect(e.message).toContain('at target.fields[5].children: a field of type "string" cannot have children');
    expect(e.message).toContain('at target.fields[7].field: "VoucherDate" appears twice at this level (also at target.fields[1])');
    expect(e.message).toContain('at source.formatResponse[0].format: unknown format "dat" — use one of: date,');
    expect(e.message).toContain('at source.condition[0][0]: "between" needs exactly two bounds, got "100"');
    expect((e.details as any).problems.length).toBe(4);
  });

  it("lists every problem at once, one line each", () => {
    const doc = validFlow();
    doc.id = "X";
    doc.version = 0;
    doc.target.fields[0].type = "str";
    doc.incremental.windowDays = 8;
    // A template error is found even while the document fails the schema.
    doc.target.fields[1].value = "_function CONCAT({io_date_new}";
    const e = loadError(doc);
    const lines = e.message.split("\n").filter((l) => l.startsWith("  - at "));
    expect(lines).toHaveLength(5);
    expect(e.message.split("\n")[0]).toBe('Flow "X" is invalid (5 problems):');
    expect(lines[4]).toMatch(/^ {2}- at target\.fields\[1\]\.value: template "_function CONCAT\(\{io_date_new\}" does not compile \(column \d+\)/);
  });

  it("checkFlow returns the problems instead of throwing", () => {
    const doc = validFlow();
    doc.source.type = "shopify";
    const { flow, problems } = checkFlow(doc);
    expect(flow).toBeNull();
    expect(problems).toEqual([{ path: "source.type", problem: 'unknown source type "shopify"', hint: "use one of: jushuitan" }]);
    expect(checkFlow(validFlow()).problems).toEqual([]);
  });

  it("does not accept a non-object document", () => {
    expect(loadError("flow").message).toContain("at (flow): expected object");
  });
});

describe("cron validation", () => {
  it("accepts the usual forms", () => {
    for (const ok of ["*/15 * * * *", "3 2 * * *", "0 0 1 JAN-MAR MON-FRI", "0 8 L * *", "0 8 * * 5L", "0 8 * * MON#2", "0,30 9-18/3 * * 1-5"]) {
      expect(cronProblem(ok), ok).toBeNull();
    }
  });

  it("rejects broken ones with a reason", () => {
    expect(cronProblem("* * * *")).toContain("expected 5 fields");
    expect(cronProblem("0 24 * * *")).toContain("hour range (0-23)");
    expect(cronProblem("0 0 * 13 *")).toContain("month range");
    expect(cronProblem("*/0 * * * *")).toContain("step");
    expect(cronProblem("0 5-2 * * *")).toContain("runs backwards");
  });
});
