import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FileKeyValueStore } from "../../action/state/file-kv.ts";
import { KvTokenStore } from "../../shared/state/token-store.ts";
import { startCliHarness, type CliHarness } from "./cli-harness.ts";

let h: CliHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const tokens = (harness: CliHarness) => new KvTokenStore(new FileKeyValueStore({ dir: join(harness.dir, ".jst-bridge") }));
/** The exact line the user runs for one variable. */
const secretLine = (name: string, value: string) => `printf '%s' '${value}' | npx wrangler secret put ${name}`;

describe("jst-bridge auth (CLI in-process, emulators over HTTP)", () => {
  it("jst: getInitToken with a chosen code; tokens go to the state and only into the final secret block", async () => {
    h = await startCliHarness();
    const r = await h.cli(["auth", "jst", "--code", "x7k2p9", "--verbose"]);
    expect(r.code, r.stderr).toBe(0);
    const stored = await tokens(h).get("jushuitan");
    expect(stored?.accessToken).toMatch(/^[0-9a-f]{32}$/);
    expect(stored?.accessToken).not.toBe((h.e2e.env as Record<string, string>).JST_ACCESS_TOKEN);
    expect(r.stdout).toContain(secretLine("JST_ACCESS_TOKEN", stored!.accessToken));
    expect(r.stdout).toContain(secretLine("JST_REFRESH_TOKEN", stored!.refreshToken!));
    expect(r.stdout).toContain("SECRET VALUES BELOW");
    // Each value appears once: in its wrangler line. Never on stderr (logs), even with --verbose.
    expect(r.stdout.split(stored!.accessToken)).toHaveLength(2);
    expect(r.stderr).not.toContain(stored!.accessToken);
    expect(r.stderr).not.toContain(stored!.refreshToken!);
  });

  it("jst --isv: prints the authorization page, asks for the code, trades it", async () => {
    h = await startCliHarness();
    const questions: string[] = [];
    const r = await h.cli(["auth", "jst", "--isv"], { prompt: async (q) => (questions.push(q), "jst-emulator-auth-code") });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/https:\/\/openweb\.jushuitan\.com\/auth\?app_key=jst-emulator-app-key&timestamp=\d+&charset=utf-8&sign=[0-9a-f]{32}/);
    expect(questions).toEqual(["authorization code: "]);
    expect(r.stdout).toContain(secretLine("JST_ACCESS_TOKEN", (await tokens(h).get("jushuitan"))!.accessToken));
    // The code is single-use: a second exchange fails with what/where/fix and exit 1.
    const again = await h.cli(["auth", "jst", "--isv", "--code", "jst-emulator-auth-code"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(
      /^error: .*无效的code.*\n {2}where: jst-bridge auth; path \/openWeb\/auth\/accessToken\n {2}fix: {3}the authorization code is single-use/,
    );
  });

  it("tplus (cloud): trades the redirect's code for the token pair and prints both wrangler lines", async () => {
    h = await startCliHarness();
    const code = h.e2e.stack.tplus.issueAuthCode();
    const r = await h.cli(["auth", "tplus", "--code", code, "--redirect-uri", "https://example.com/callback"]);
    expect(r.code, r.stderr).toBe(0);
    const stored = await tokens(h).get("tplus-cloud");
    expect(stored?.refreshToken).toBeTruthy();
    expect(r.stdout).toContain(secretLine("TPLUS_OPEN_TOKEN", stored!.accessToken));
    expect(r.stdout).toContain(secretLine("TPLUS_REFRESH_TOKEN", stored!.refreshToken!));
    expect(r.stderr).not.toContain(stored!.accessToken);
  });

  it("kis: code → account → app → gateway; --hide-values prints the commands without values; --json never carries them", async () => {
    h = await startCliHarness();
    const r = await h.cli(["auth", "kis", "--hide-values"], { prompt: async () => "kis-test-code" });
    expect(r.code, r.stderr).toBe(0);
    const stored = await tokens(h).get("kis");
    expect(stored?.extra?.authData).toBeTruthy();
    for (const name of ["KIS_ACCESS_TOKEN", "KIS_SESSION_ID", "KIS_AUTH_DATA", "KIS_GW_ROUTER_ADDR"])
      expect(r.stdout).toContain(`npx wrangler secret put ${name}\n`);
    expect(r.stdout).not.toContain(stored!.accessToken);
    expect(r.stdout).not.toContain(stored!.extra!.authData!);
    expect(r.stdout).not.toContain("SECRET VALUES");

    const kisCode = "kis-test-code-2";
    h.e2e.stack.kis.reset();
    const json = await h.cli(["auth", "kis", "--code", kisCode, "--json"]);
    // The emulator accepts only its configured codes: a wrong one fails cleanly, without echoing the code.
    expect(json.code).toBe(1);
    expect(json.stderr).not.toContain(kisCode);
    const ok = await h.cli(["auth", "kis", "--code", "kis-test-code", "--json"]);
    expect(ok.code, ok.stderr).toBe(0);
    const parsed = JSON.parse(ok.stdout);
    expect(parsed.variables).toEqual(expect.arrayContaining(["KIS_ACCESS_TOKEN", "KIS_AUTH_DATA"]));
    const after = await tokens(h).get("kis");
    expect(ok.stdout).not.toContain(after!.accessToken);
  });

  it("without a terminal and without --code, says which flag to pass", async () => {
    h = await startCliHarness();
    const r = await h.cli(["auth", "kis"], { prompt: undefined });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("stdin is not a terminal");
    expect(r.stderr).toContain("fix:   pass it with --code");
  });
});
