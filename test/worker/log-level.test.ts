import { afterEach, describe, expect, it, vi } from "vitest";
import { createStack, fillReferenceTables, fireCron, JST, workerEnv } from "./stack.ts";

// Regression: the cron tick's own lines ("run finished") were written at info whatever LOG_LEVEL said.
afterEach(() => vi.restoreAllMocks());

describe("LOG_LEVEL governs the cron tick's own log lines", () => {
  it("info shows the run summary line; error hides it", async () => {
    const stack = await createStack({ documents: { [JST.otherInOut]: 40, [JST.salesOut]: 0 }, days: 1, limits: { perSecond: null, perMinute: null } });
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: unknown) => void lines.push(String(line)));

    const quiet = workerEnv(stack, { FLOWS: "jst-other-in-to-kis", LOG_LEVEL: "error", MAX_SUBREQUESTS: "1000" });
    await fillReferenceTables(stack, quiet);
    await fireCron(quiet, "*/30 * * * *", Date.now());
    expect(lines.filter((l) => l.includes('"run finished"'))).toEqual([]);

    const chatty = workerEnv(stack, { FLOWS: "jst-other-in-to-kis", LOG_LEVEL: "info", MAX_SUBREQUESTS: "1000" });
    await fireCron(chatty, "*/30 * * * *", Date.now() + 1000);
    expect(lines.filter((l) => l.includes('"run finished"'))).toHaveLength(1);
  });
});
