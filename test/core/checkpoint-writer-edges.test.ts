/**
 * The checkpoint writer's guards through the real engine, state store and emulators (issue 18: Stryker survivor in
 * shared/engine/checkpoint-writer.ts `if (run.dryRun || run.options.range) return true` → `false`): a dry run plans,
 * it must not move the watermark, or the real run after it would read nothing and write nothing.
 */
import { afterEach, describe, expect, it } from "vitest";
import { startE2E, type E2E } from "../helpers/e2e.ts";

const KIS = "jst-other-in-to-kis";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("checkpoint writer", () => {
  it("a dry run moves no watermark: the real run after it writes every bill the dry run planned", async () => {
    e2e = await startE2E({ otherInOut: 30, salesOut: 0 });
    const env = e2e;
    const dry = await env.run(KIS, { dryRun: true });
    const planned = dry.planned.filter((p) => p.status === "new").length;
    expect(planned).toBeGreaterThan(0);
    expect(env.stack.kis.bills()).toHaveLength(0);
    expect((await env.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    expect(env.stack.kis.bills()).toHaveLength(planned);
  });
});
