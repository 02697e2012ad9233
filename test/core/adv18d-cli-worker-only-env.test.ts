/**
 * Adversary (issue 18 item 3, configuration that has no effect must not be silently accepted): the CLI reads the
 * shared env contract from .env (action/cli/dotenv.ts, Node's util.parseEnv) but silently ignored the names only the
 * Worker reads (shared/compose/env-hosts.ts): MAX_SUBREQUESTS=20 in the CLI's .env did not bound the run, FLOW_SCHEDULES
 * did not schedule it, CONTINUE_WITH / SESSION_* did nothing, and nothing said so (they are known names, so the
 * misspelling check stays quiet too). Expected: one warning per such name on stderr, saying it has no effect in the
 * CLI and what to use instead, never the value; the run itself goes on (users share one .env between hosts).
 * Actual (old code): no word. The real CLI in-process against the emulators over loopback HTTP. Explicit dates.
 */
import { appendFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DAY_MS } from "../../shared/engine/window.ts";
import { formatInZone } from "../../shared/util/time.ts";
import { E2E_START } from "../helpers/e2e.ts";
import { type CliHarness, startCliHarness } from "./cli-harness.ts";

const day = (ms: number) => formatInZone(ms, "YYYY-MM-DD");
let h: CliHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe("Worker-only names in the CLI's environment", () => {
  it("warns once per name set, with what to use instead, never echoing a value; the sync still runs", async () => {
    h = await startCliHarness();
    await h.fillReferences();
    await appendFile(
      join(h.dir, ".env"),
      'MAX_SUBREQUESTS=20\nFLOW_SCHEDULES=\'{"jst-other-in-to-kis":"*/5"}\'\nCONTINUE_WITH=queue\nSESSION_EPOCH=s3cr3t-epoch-value\nFLOW_OBSERVE=\n',
    );
    const range = ["--from", day(E2E_START - 3 * DAY_MS), "--to", day(E2E_START - DAY_MS)];
    const r = await h.cli(["sync", "jst-other-in-to-kis", ...range]);
    expect(r.code, r.stderr).toBe(0);
    for (const name of ["MAX_SUBREQUESTS", "FLOW_SCHEDULES", "CONTINUE_WITH", "SESSION_EPOCH"]) {
      const lines = r.stderr.split("\n").filter((l) => l.includes(`${name} is set but only the Cloudflare Worker reads it`));
      expect(lines, `${name} in\n${r.stderr}`).toHaveLength(1);
      expect(lines[0]).toContain("no effect in the CLI");
    }
    expect(r.stderr).toMatch(/MAX_SUBREQUESTS[^\n]*--from\/--to/);
    expect(r.stderr).not.toContain("FLOW_OBSERVE"); // empty: not set
    expect(r.stderr).not.toContain("s3cr3t");
    expect(r.stderr).not.toContain("*/5");
    expect(h.e2e.stack.kis.bills().length).toBeGreaterThan(0);
  });

  it("--json keeps stdout a JSON report; the warning goes to stderr", async () => {
    h = await startCliHarness();
    await h.fillReferences();
    await appendFile(join(h.dir, ".env"), "LOG_LEVEL=debug\n");
    const r = await h.cli(["sync", "jst-other-in-to-kis", "--from", day(E2E_START - 2 * DAY_MS), "--to", day(E2E_START - DAY_MS), "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(() => JSON.parse(r.stdout)).not.toThrow();
    expect(r.stderr).toMatch(/LOG_LEVEL is set but only the Cloudflare Worker reads it[^\n]*--verbose or --quiet/);
  });
});
