import { afterEach, describe, expect, it } from "vitest";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { expectTargetsExact } from "../helpers/e2e-expect.ts";

const KIS = "jst-other-in-to-kis";
const TPLUS = "jst-sales-out-to-tplus";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

describe("engine end to end (Node, emulators over HTTP)", () => {
  it("syncs both seed flows exactly, and a second run writes nothing", async () => {
    e2e = await startE2E();
    const kis = await e2e.runToCompletion(KIS);
    const tplus = await e2e.runToCompletion(TPLUS);
    expect(kis.at(-1)!.outcome).toBe("success");
    expect(tplus.at(-1)!.outcome).toBe("success");
    const { expected } = expectTargetsExact(e2e);
    expect(kis.reduce((n, s) => n + s.counts.written, 0)).toBe(expected.kis.size);
    expect(tplus.reduce((n, s) => n + s.counts.written, 0)).toBe(expected.tplus.size);

    e2e.clock.advance(60_000);
    const again = await e2e.run(KIS);
    expect(again.summary.counts.written).toBe(0);
    expectTargetsExact(e2e);
  });
});
