/** Security review #14: `npm start` puts no credential on wrangler's command line. */
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { devVarsFrom, wranglerDevArgs, writePrivateEnvFile } from "../../scripts/start-args.ts";

describe("npm start: credentials never on a command line", () => {
  it("the variables go to a 0600 env file read with --env-file; argv holds none of their values", () => {
    const dir = mkdtempSync(join(tmpdir(), "start-args-"));
    try {
      const vars = {
        SYNC_API_TOKEN: "demo-0123456789abcdef0123456789abcdef",
        KIS_ACCESS_TOKEN: "at-3-0123456789",
        TPLUS_PRIVATE_KEY: "-----BEGIN-----\nline\n-----END-----",
      };
      const file = writePrivateEnvFile(dir, vars);
      const argv = wranglerDevArgs({ port: 8787, stateDir: dir, envFile: file }).join(" ");
      for (const value of Object.values(vars)) expect(argv).not.toContain(value.split("\n")[0]!.slice(5));
      expect(argv).not.toContain("--var");
      expect(argv).toContain(`--env-file ${file}`);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      expect(readFileSync(file, "utf8")).toContain('TPLUS_PRIVATE_KEY="-----BEGIN-----\\nline\\n-----END-----"');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("npm start: .dev.vars is read the way wrangler reads it (Node's own util.parseEnv, dotenv rules)", () => {
  it("exported, single-quoted, commented and multi-line values are read, not mistaken for absent or literal", () => {
    const text = [
      "# real systems",
      "export JST_APP_KEY=key-123",
      "SYNC_API_TOKEN='tok#en-0123456789abcdef'",
      "KIS_CLIENT_ID=cid # the app's id",
      'TPLUS_PRIVATE_KEY="-----BEGIN PRIVATE KEY-----',
      "MIIB",
      '-----END PRIVATE KEY-----"',
    ].join("\n");
    expect(devVarsFrom(text)).toEqual({
      JST_APP_KEY: "key-123",
      SYNC_API_TOKEN: "tok#en-0123456789abcdef",
      KIS_CLIENT_ID: "cid",
      TPLUS_PRIVATE_KEY: "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----",
    });
  });
});
