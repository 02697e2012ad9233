/**
 * Adversarial review of issue 15: the CLI and the Action print through a second, literal-only redactor
 * (action/cli/io.ts Redactor), not the one redactor (shared/security/redact.ts). It misses the
 * JSON-escaped and URL-encoded forms the shared one covers, so CLI stderr/stdout (incl. --json), the
 * Action's annotations and setFailed text leak a secret whose form changed on the way.
 */
import { describe, expect, it } from "vitest";
import { BridgeError } from "../../shared/errors.ts";
import { Redactor as SharedRedactor } from "../../shared/security/redact.ts";
import { formatError } from "../../action/cli/errors.ts";
import { createCliLogger, Redactor } from "../../action/cli/io.ts";

// A password with a quote and a backslash: legal for T+ on-prem / KIS accounts.
const PASSWORD = 'Tp"9\\vault-2026 x';
const TOKEN = "Qk9vX2+tb2tlbi/ZXk5MjEzNDU2Nzg5MA==";
const env = { TPLUS_PASSWORD: PASSWORD, KIS_ACCESS_TOKEN: TOKEN };

describe("adv15: CLI / Action output redactor", () => {
  it("adv15 cli: a URL-encoded token in an upstream error reaches CLI stderr (formatError)", () => {
    const error = new BridgeError("upstream_error", `KIS answered 401 for /koas/api?access_token=${encodeURIComponent(TOKEN)}`);
    // The shared redactor masks it ...
    expect(SharedRedactor.fromEnv(env).redact(error.message)).not.toContain("Qk9vX2");
    // ... the one the CLI prints with does not.
    const text = formatError(error, new Redactor(env), "jst-bridge sync");
    expect(text, text).not.toContain("Qk9vX2");
  });

  it("adv15 cli: a log field holding a password with a quote is JSON-escaped and printed in clear", () => {
    const lines: string[] = [];
    const logger = createCliLogger((l) => lines.push(l), "debug", new Redactor(env));
    logger.warn("tplus: login refused", { reason: `password ${PASSWORD} rejected` });
    const out = lines.join("\n");
    expect(out, out).not.toContain("vault-2026");
  });

  it("adv15 cli: --json output escapes the password, and the redactor then misses it", () => {
    const r = new Redactor(env);
    const json = JSON.stringify({ command: "sync", error: { message: `login failed: ${PASSWORD}` } }, null, 2);
    const out = r.apply(json);
    expect(out, out).not.toContain("vault-2026");
  });
});
