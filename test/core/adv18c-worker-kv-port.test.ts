/**
 * Adversary (issue 18 item 1, one construction path): the Worker's KV port and flow lock are built once, in
 * worker/runtime.ts (rawPorts), and wrapped there by securePorts (KV writes behind the deployment's redactor);
 * every route takes them from the composition root's parts. The observe routes built their own KV port four times
 * (worker/observe/routes.ts: the plan, approve and approvals routes; worker/observe/trace-service.ts), so the approval
 * record was written past the redacting KV, and test/core/compose-root.test.ts (which lists the shared/ stores only)
 * did not see it. Expected: no `new WorkersKvStore(` / `new DoFlowLock(` in worker/ outside runtime.ts.
 * Fails on the old code with the four sites.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const PORT_CONSTRUCTIONS = [/new WorkersKvStore\(/, /new DoFlowLock\(/];
/** The one place the Worker builds its ports, and the files that define them. */
const ALLOWED = new Set(["worker/runtime.ts", "worker/kv-store.ts", "worker/do-lock.ts"]);

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const path = `${dir}/${name}`;
    if (statSync(join(ROOT, path)).isDirectory()) out.push(...files(path));
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

describe("the Worker's ports are built once", () => {
  it("no Worker module outside runtime.ts builds its own KV port or flow lock", () => {
    const offenders: string[] = [];
    for (const file of files("worker")) {
      if (ALLOWED.has(file)) continue;
      readFileSync(join(ROOT, file), "utf8")
        .split("\n")
        .forEach((line, i) => {
          if (PORT_CONSTRUCTIONS.some((re) => re.test(line))) offenders.push(`${file}:${i + 1}`);
        });
    }
    expect(offenders).toEqual([]);
  });
});
