/**
 * Adversary (issue 18 item 3, configuration that has no effect is refused): Action inputs that the chosen command or
 * state never reads were accepted without a word. The worst: a workflow that gives the Cloudflare inputs but forgets
 * `state: kv` (the default is file) ran on a throw-away directory in the runner instead of the Worker's KV: a fresh
 * ledger and watermark every run, and the Jushuitan/T+/KIS tokens refreshed beside the Worker's. Likewise `from`/`to`/
 * `window` for doctor (it samples its own days), `dry-run: true` / `fail-on-dead-letters: true` for doctor and
 * reconcile (read-only commands with their own verdict), and a `state-dir` with `state: kv`.
 * Expected: readInputs (the Action's one reader, action/main.ts run()) refuses each, naming the input as `with.<name>`
 * and how to fix it. Actual (old code): the inputs parse and the step runs without them.
 * The runner passes an input's action.yml default when the workflow leaves it out (dry-run "false", state "file",
 * state-dir ".jst-bridge", command "sync"): those values are never refused.
 */
import { describe, expect, it } from "vitest";
import { readInputs } from "../../action/inputs.ts";
import { ConfigError } from "../../shared/errors.ts";

/** The inputs as the runner hands them over: action.yml defaults, then the workflow's `with:` values. */
const DEFAULTS: Record<string, string> = { command: "sync", "dry-run": "false", state: "file", "state-dir": ".jst-bridge", "fail-on-dead-letters": "false" };
const read = (withBlock: Record<string, string>) => readInputs((name) => ({ ...DEFAULTS, ...withBlock })[name] ?? "");

function refusal(withBlock: Record<string, string>): ConfigError {
  try {
    read(withBlock);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`accepted: ${JSON.stringify(withBlock)}`);
}

describe("Action inputs the command or state does not read are refused", () => {
  it("Cloudflare inputs with the default file state: refused, naming each input and state: kv", () => {
    const e = refusal({ flow: "jst-other-in-to-kis", "cloudflare-account-id": "acc", "cloudflare-api-token": "s3cr3t-cf-value", "kv-namespace-id": "ns" });
    expect(e.message).toContain("with.cloudflare-account-id");
    expect(e.message).toContain("with.cloudflare-api-token");
    expect(e.message).toContain("with.kv-namespace-id");
    expect(e.message).toContain("state is file");
    expect(e.hint).toContain("state: kv");
    expect(`${e.message} ${e.hint}`).not.toContain("s3cr3t"); // values are never echoed (the token may be a secret)
    expect((e.details as { inputs: string[] }).inputs).toEqual(["cloudflare-account-id", "cloudflare-api-token", "kv-namespace-id"]);
  });

  it("a state-dir other than the default with state: kv is refused", () => {
    const e = refusal({ flow: "jst-other-in-to-kis", state: "kv", "state-dir": "state" });
    expect(e.message).toContain("with.state-dir");
    expect(e.message).toContain("state is kv");
  });

  it("doctor with from, to, window, dry-run: true or fail-on-dead-letters: true is refused", () => {
    const e = refusal({
      command: "doctor",
      flow: "jst-other-in-to-kis",
      from: "2024-06-01",
      to: "2024-06-02",
      window: "1d",
      "dry-run": "true",
      "fail-on-dead-letters": "true",
    });
    for (const name of ["from", "to", "window", "dry-run", "fail-on-dead-letters"]) expect(e.message).toContain(`with.${name}`);
    expect(e.message).toContain("command doctor");
    expect((e.details as { inputs: string[] }).inputs).toEqual(["from", "to", "window", "dry-run", "fail-on-dead-letters"]);
  });

  it("reconcile with dry-run: true or fail-on-dead-letters: true is refused", () => {
    const e = refusal({
      command: "reconcile",
      flow: "jst-other-in-to-kis",
      from: "2024-06-01",
      to: "2024-06-02",
      "dry-run": "true",
      "fail-on-dead-letters": "true",
    });
    expect((e.details as { inputs: string[] }).inputs).toEqual(["dry-run", "fail-on-dead-letters"]);
    expect(e.message).toContain("command reconcile");
  });

  it("accepts every input a command reads, and the defaults the runner fills in", () => {
    expect(read({ flow: "jst-other-in-to-kis" }).command).toBe("sync");
    expect(read({ command: "doctor", flow: "jst-other-in-to-kis" }).command).toBe("doctor");
    expect(read({ command: "doctor", flow: "f", state: "kv", "cloudflare-account-id": "a", "cloudflare-api-token": "t", "kv-namespace-id": "n" }).state).toBe(
      "kv",
    );
    expect(read({ command: "reconcile", flow: "f", from: "2024-06-01", to: "2024-06-02", window: "12h" }).window).toBe("12h");
    const sync = read({ flow: "f", from: "2024-06-01", to: "2024-06-02", window: "1d", "dry-run": "true", "fail-on-dead-letters": "true", "state-dir": "s" });
    expect([sync["dry-run"], sync["fail-on-dead-letters"], sync["state-dir"]]).toEqual([true, true, "s"]);
  });
});
