import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { KNOWN_ENV_NAMES, unknownEnvNames } from "../../shared/compose/env-names.ts";
import { envNameChecks } from "../../shared/doctor/env-names.ts";

describe("the env-variable contract's names at run time", () => {
  it("knows every variable and binding the Worker declares (worker/env.ts)", () => {
    const declared = [...readFileSync(new URL("../../worker/env.ts", import.meta.url), "utf8").matchAll(/^\s+([A-Z][A-Z0-9_]+)\??:/gm)].map((m) => m[1]!);
    expect(declared.length).toBeGreaterThan(40);
    expect(declared.filter((n) => !KNOWN_ENV_NAMES.includes(n))).toEqual([]);
  });

  it("names what looks meant for the bridge, with the name meant, and leaves other variables alone", () => {
    const env = {
      LEDGER_RETENTION_DAY: "35",
      KIS_PRECHEK: "always",
      JST_APPKEY: "k",
      JST_SHOP_NOTE: "x",
      TPLUS_MODE: "open",
      PATH: "/bin",
      HOME: "/root",
      MY_TEAM: "ops",
      CI: "true",
      SHELL: "bash",
    };
    expect(unknownEnvNames(Object.keys(env))).toEqual([
      { name: "JST_APPKEY", meant: "JST_APP_KEY", message: "JST_APPKEY is not a variable jst-bridge reads (ignored): did you mean JST_APP_KEY?" },
      { name: "JST_SHOP_NOTE", message: "JST_SHOP_NOTE is not a variable jst-bridge reads (ignored): check its spelling against the README's variable table" },
      { name: "KIS_PRECHEK", meant: "KIS_PRECHECK", message: "KIS_PRECHEK is not a variable jst-bridge reads (ignored): did you mean KIS_PRECHECK?" },
      {
        name: "LEDGER_RETENTION_DAY",
        meant: "LEDGER_RETENTION_DAYS",
        message: "LEDGER_RETENTION_DAY is not a variable jst-bridge reads (ignored): did you mean LEDGER_RETENTION_DAYS?",
      },
    ]);
  });

  it("the doctor lists each as a '?' line (a warning: the report stays ok), never with the value", () => {
    const checks = envNameChecks({ LEDGER_RETENTION_DAY: "secret-looking-35" });
    expect(checks).toEqual([expect.objectContaining({ system: "bridge", status: "unknown", title: "variable LEDGER_RETENTION_DAY" })]);
    expect(checks[0]!.fix).toContain("LEDGER_RETENTION_DAYS");
    expect(JSON.stringify(checks)).not.toContain("secret-looking");
  });
});
