// zod/mini ships no locale: an issue without our own text would read "Invalid input". issueText must name what was expected.
import { describe, expect, it } from "vitest";
import * as z from "zod/mini";
import { issueText } from "../../shared/util/issue-text.ts";

const texts = (schema: z.ZodMiniType, value: unknown) => {
  const r = schema.safeParse(value);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${issueText(i)}`);
};

describe("issueText (zod/mini without a locale)", () => {
  const schema = z.strictObject({
    n: z.number().check(z.int(), z.gte(1), z.lte(31)),
    s: z.string().check(z.minLength(3)),
    e: z.optional(z.enum(["open", "all"])),
    own: z.optional(z.string().check(z.regex(/^\d+$/, { error: "a whole number" }))),
  });

  it("says what was expected for every kind of issue, and keeps our own rule text", () => {
    expect(texts(schema, { n: "x", s: "ab", e: "no", own: "1a", extra: 1 })).toEqual([
      "n: expected number",
      "s: must be at least 3 characters",
      'e: expected one of "open"|"all"',
      "own: a whole number",
      ': unknown key "extra"',
    ]);
    expect(texts(schema, { n: 40, s: "abc" })).toEqual(["n: must be at most 31"]);
    expect(texts(schema, { n: 1.5, s: "abc" })).toEqual(["n: expected int"]);
    for (const t of [...texts(schema, {}), ...texts(schema, { n: 0, s: 1 })]) expect(t).not.toMatch(/Invalid input/);
  });
});

describe("FLOW_OBSERVE problems name the path and what was expected", () => {
  it("a wrong value in FLOW_OBSERVE is reported with its path, never as a bare 'Invalid input'", async () => {
    const { applyObserveEnv } = await import("../../worker/observe/config-env.ts");
    const { seedFlow } = await import("../../shared/flows/index.ts");
    const flows = { "jst-other-in-to-kis": seedFlow("jst-other-in-to-kis") };
    const problems: string[] = [];
    applyObserveEnv(flows, { FLOW_OBSERVE: JSON.stringify({ "jst-other-in-to-kis": { freshnessObjectiveMinutes: "ten" } }) }, problems);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain("jst-other-in-to-kis.freshnessObjectiveMinutes: expected number");
    const notJson: string[] = [];
    applyObserveEnv(flows, { FLOW_OBSERVE: "{" }, notJson);
    expect(notJson[0]).toContain("(not JSON)");
  });
});
