/**
 * A poisoned part of a merged T+ group (adversaries 7 and 12): the T+ seed flow splits groups at 3 lines, and the
 * network answers 500 to part 2 of the first group written (its code is learnt from part 1's create) while
 * `poison.on`, like the KIS emulator's poisonBillNos. `run` is a CLI-style run through that network.
 */
import { runFlowById } from "../../shared/engine/runner.ts";
import type { FetchLike } from "../../shared/ports.ts";
import type { E2E } from "./e2e.ts";

const TPLUS = "jst-sales-out-to-tplus";

export function poisonPartTwo(e: E2E) {
  const flow = e.flows[TPLUS]!;
  if (flow.operation?.type !== "merge") throw new Error("seed flow is a merge flow");
  flow.operation.maxLines = 3;
  const poison = { code: undefined as string | undefined, on: true };
  const fetch: FetchLike = async (input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    if (poison.on && /otherDispatch\/Create/.test(url) && typeof init?.body === "string") {
      const body = decodeURIComponent(init.body);
      const code = /"ExternalCode"\s*:\s*"([^"]+)"/.exec(body)?.[1];
      if (code && poison.code === undefined) poison.code = code.replace(/-1$/, "-2"); // part 2 of the first group
      if (code === poison.code) return new Response("Internal Server Error", { status: 500 });
    }
    return globalThis.fetch(input, init);
  };
  let n = 0;
  const run = () => runFlowById({ ...e.ports, fetch }, { flowId: TPLUS, runId: `r-${++n}`, trigger: "cli", budget: { maxSubrequests: 10_000 } });
  return { poison, fetch, run };
}
