/**
 * Deploy in one step: `jst-bridge auth <system>` merges the Worker's secrets into one JSON file for
 * `npx wrangler secret bulk <file>` (README deploy section), mode 0600, with a generated SYNC_API_TOKEN.
 */
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { generateIsvKeys } from "../emulators/tplus/fixtures.ts";
import { startCliHarness, type CliHarness } from "./cli-harness.ts";

let h: CliHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe("jst-bridge auth writes the secrets file for wrangler secret bulk", () => {
  it("jst then kis: one file with both systems' credentials and an API token, never echoed", async () => {
    h = await startCliHarness();
    const jst = await h.cli(["auth", "jst", "--code", "x7k2p9", "--hide-values"]);
    expect(jst.code, jst.stderr).toBe(0);
    const file = join(h.dir, ".jst-bridge", "secrets.json");
    expect(jst.stdout).toContain("npx wrangler secret bulk .jst-bridge/secrets.json");
    const first = JSON.parse(await readFile(file, "utf8")) as Record<string, string>;
    expect(first).toMatchObject({
      JST_APP_KEY: expect.any(String),
      JST_APP_SECRET: expect.any(String),
      JST_ACCESS_TOKEN: expect.stringMatching(/^[0-9a-f]{32}$/),
      SYNC_API_TOKEN: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect((await stat(file)).mode & 0o077).toBe(0);
    expect(jst.stdout).not.toContain(first.SYNC_API_TOKEN);
    expect(jst.stdout).not.toContain(first.JST_ACCESS_TOKEN);

    const kis = await h.cli(["auth", "kis", "--hide-values"], { prompt: async () => "kis-test-code" });
    expect(kis.code, kis.stderr).toBe(0);
    const merged = JSON.parse(await readFile(file, "utf8")) as Record<string, string>;
    expect(merged).toMatchObject({
      JST_ACCESS_TOKEN: first.JST_ACCESS_TOKEN,
      SYNC_API_TOKEN: first.SYNC_API_TOKEN,
      KIS_AUTH_DATA: expect.any(String),
      KIS_CLIENT_SECRET: expect.any(String),
    });
  });

  it("--secrets-file puts it elsewhere", async () => {
    h = await startCliHarness();
    const r = await h.cli(["auth", "jst", "--code", "x7k2p9", "--hide-values", "--secrets-file", "deploy/worker-secrets.json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(await readFile(join(h.dir, "deploy", "worker-secrets.json"), "utf8")).JST_ACCESS_TOKEN).toBeTruthy();
  });

  it("tplus on-prem: checks the login without TPLUS_ORG_ID and puts the TPLUS_* values into the file", async () => {
    const keys = await generateIsvKeys();
    h = await startCliHarness({
      tplus: { publicKey: keys.publicPem },
      env: { TPLUS_MODE: "onprem", TPLUS_PRIVATE_KEY: keys.privatePem, TPLUS_USER: "demo", TPLUS_PASSWORD: "demo-pass", TPLUS_ACCOUNT: "001" },
    });
    const r = await h.cli(["auth", "tplus"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("npx wrangler secret bulk .jst-bridge/secrets.json");
    expect(r.stdout).not.toContain("TPLUS_ORG_ID");
    const file = JSON.parse(await readFile(join(h.dir, ".jst-bridge", "secrets.json"), "utf8")) as Record<string, string>;
    expect(file).toMatchObject({
      TPLUS_MODE: "onprem",
      TPLUS_USER: "demo",
      TPLUS_PASSWORD: "demo-pass",
      TPLUS_ACCOUNT: "001",
      TPLUS_PRIVATE_KEY: keys.privatePem,
    });
    expect(r.stdout).not.toContain("demo-pass");
  });
});
