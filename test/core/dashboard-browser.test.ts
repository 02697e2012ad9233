/**
 * The dashboard in a real browser: the Worker runs in workerd through wrangler's test harness (the same
 * bundle `wrangler dev` serves), pointed at an emulator stack served over loopback; headless Chromium
 * (Debian's, driven by playwright-core) signs in, syncs, sees a dead letter, replays it after the master
 * data is fixed and sees it resolved. Screenshots go to a temp dir (and to docs/dashboard.png
 * and docs/dashboard-flow.png when missing or UPDATE_DASHBOARD_SCREENSHOT=1, so a normal run leaves the
 * work tree clean).
 *
 * Chromium comes from scripts/install-chromium.sh when /usr/bin/chromium is missing. Only when that
 * install is impossible (not root, no Debian mirror) is the test skipped, and never when CI=true.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestHarness, type TestHarness } from "wrangler";
import { SKUS } from "../emulators/catalog.ts";
import { createEmulatorHub } from "../emulators/hub.ts";
import { serveOnLoopback, type RunningServer } from "../emulators/node/serve.ts";

const CHROMIUM = "/usr/bin/chromium";
const ROOT = join(import.meta.dirname, "..", "..");
const TOKEN = "dashboard-browser-test-token-0123456789";
const KIS = "jst-other-in-to-kis";
const TPLUS = "jst-sales-out-to-tplus";
const WAIT = { timeout: 30_000 };

/** Installs Chromium when missing; returns why it cannot run, or null when it can. */
function ensureChromium(): string | null {
  if (existsSync(CHROMIUM)) return null;
  try {
    const out = execFileSync("bash", [join(ROOT, "scripts", "install-chromium.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 240_000 });
    process.stdout.write(out);
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    return `scripts/install-chromium.sh failed: ${(e.stderr || e.message).trim()}`;
  }
  return existsSync(CHROMIUM) ? null : `${CHROMIUM} is still missing after scripts/install-chromium.sh`;
}

interface Stack {
  urls: { jushuitan: string; tplus: string; kis: string };
  env: Record<string, string>;
  warehouses: Record<string, unknown>[];
}

let unavailable: string | null = null;
let hubServer: RunningServer | undefined;
let harness: TestHarness | undefined;
let context: BrowserContext | undefined;
let profileDir: string | undefined;
let shotDir: string | undefined;
let base = "";
let stack: Stack;

/** The API as an operator's script calls it (bearer token), for seeding what the test needs. */
async function api(method: string, path: string, body?: unknown) {
  const res = await fetch(new URL(path, base), {
    method,
    headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json()) as any;
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${JSON.stringify(json)}`);
  return json;
}

beforeAll(async () => {
  unavailable = ensureChromium();
  if (unavailable) {
    if (process.env.CI === "true") throw new Error(`Chromium is required in CI: ${unavailable}`);
    console.warn(`[dashboard-browser] SKIPPED: Chromium cannot be installed here (${unavailable})`);
    return;
  }
  let hubUrl = "";
  const hub = createEmulatorHub(() => hubUrl);
  hubServer = await serveOnLoopback(hub.app);
  hubUrl = hubServer.url;
  const res = await fetch(`${hubUrl}/__hub/stacks`, {
    method: "POST",
    body: JSON.stringify({
      documents: { "/open/other/inout/query": 60, "/open/orders/out/simple/query": 40 },
      days: 1,
      limits: { perSecond: null, perMinute: null },
    }),
  });
  stack = (await res.json()) as Stack;

  harness = createTestHarness({
    root: ROOT,
    workers: [{ configPath: "./wrangler.toml", vars: { ...stack.env, MAX_SUBREQUESTS: "10000", LOG_LEVEL: "warn" }, secrets: { SYNC_API_TOKEN: TOKEN } }],
  });
  base = String((await harness.listen()).url);

  profileDir = mkdtempSync(join(tmpdir(), "jst-bridge-chromium-"));
  shotDir = mkdtempSync(join(tmpdir(), "jst-bridge-dashboard-shots-"));
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1360, height: 900 },
    locale: "zh-CN",
    timezoneId: "Asia/Shanghai",
  });
  context.setDefaultTimeout(WAIT.timeout);
}, 300_000);

afterAll(async () => {
  // Each step on its own: a failure in one must not leave the others running.
  await context?.close().catch(() => {});
  await harness?.close().catch(() => {});
  await hubServer?.close().catch(() => {});
  if (profileDir) rmSync(profileDir, { recursive: true, force: true });
}, 60_000);

async function screenshot(page: Page, name: string) {
  const path = join(shotDir!, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

describe("dashboard in Chromium", () => {
  it("signs in, syncs, shows a dead letter, replays it after the fix and shows it resolved", async (ctx) => {
    if (unavailable) ctx.skip();
    const page = await context!.newPage();
    const consoleErrors: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push(m.text());
    });

    // Not signed in: the dashboard sends the browser to the sign-in form.
    await page.goto(base);
    expect(new URL(page.url()).pathname).toBe("/login");
    await page.fill("#token", "not-the-token");
    await page.click("button[type=submit]");
    await page.waitForSelector("#login-error", WAIT);
    expect((await context!.cookies()).filter((c) => c.name === "__Host-jst_bridge_session")).toHaveLength(0);

    await page.fill("#token", TOKEN);
    await Promise.all([page.waitForURL((u) => u.pathname === "/", WAIT), page.click("button[type=submit]")]);
    expect(page.url()).not.toContain(TOKEN);
    const session = (await context!.cookies()).find((c) => c.name === "__Host-jst_bridge_session");
    expect(session?.httpOnly).toBe(true);
    expect(session?.sameSite).toBe("Strict");
    expect(session?.value).not.toContain(TOKEN);
    // HttpOnly: page scripts cannot read it.
    expect(await page.evaluate(() => document.cookie)).not.toContain("__Host-jst_bridge_session");

    for (const id of [KIS, TPLUS]) await page.waitForSelector(`#flows tr[data-flow="${id}"]`, WAIT);

    // Master data the way an operator fills it, but with the materials of style TX100 missing.
    await api("POST", "/reference/warehouses", { rows: stack.warehouses });
    await api("POST", "/reference/kis_materials/refresh");
    const broken = SKUS.filter((s) => s.itemId !== "TX100").map((s) => ({
      FItemID: s.kisItemId,
      FNumber: s.kisNumber,
      FName: s.name,
      FUnitID: s.kisUnitId,
      F_103: s.skuId,
    }));
    await api("POST", "/reference/kis_materials", { rows: broken });

    // Sync now: the run appears in the history with dead letters for the TX100 documents.
    await page.click(`#flows tr[data-flow="${KIS}"] button[data-action="sync"]`);
    await page.waitForSelector(`#runs tr[data-flow="${KIS}"]`, WAIT);
    await page.waitForSelector("#status.ok, #status.bad", WAIT);
    expect(await page.textContent("#status")).toContain("同步完成 / synced");
    const runRow = page.locator(`#runs tr[data-flow="${KIS}"]`).first();
    const written = Number(await runRow.locator("td.num").nth(1).textContent());
    const deadLettered = Number(await runRow.locator("td.num").nth(2).textContent());
    expect(written).toBeGreaterThan(0);
    expect(deadLettered).toBeGreaterThan(0);
    expect(await page.locator(`[data-chart="${KIS}"] g.run`).count()).toBe(1);
    const open = page.locator("#dead-letters tr.dead-letter.open");
    expect(await open.count()).toBe(deadLettered);
    expect(await page.textContent(`#flows tr[data-flow="${KIS}"] .open-dead-letters`)).toBe(String(deadLettered));
    expect(await open.first().locator(".error").textContent()).toContain("lookup_miss");

    // The T+ flow too, so both charts have a run.
    await page.click(`#flows tr[data-flow="${TPLUS}"] button[data-action="sync"]`);
    await page.waitForSelector(`#runs tr[data-flow="${TPLUS}"]`, WAIT);
    await page.waitForSelector(`[data-chart="${TPLUS}"] g.run`, WAIT);

    // Replay before the fix: refused, and the dead letter stays open.
    const letterId = (await open.first().getAttribute("data-dead-letter"))!;
    const row = `#dead-letters tr[data-dead-letter="${letterId}"]`;
    await page.click(`${row} button[data-action="replay"]`);
    await page.waitForFunction(() => document.getElementById("status")?.className === "bad", null, WAIT);
    expect(await page.textContent("#status")).toContain("lookup_miss");
    expect(await page.getAttribute(row, "class")).toContain("open");

    // Fix the master data, replay from the UI: resolved.
    await api("POST", "/reference/kis_materials/refresh");
    await page.click(`${row} button[data-action="replay"]`);
    await page.waitForSelector(`#dead-letters tr.dead-letter.resolved[data-dead-letter="${letterId}"]`, WAIT);
    expect(await page.textContent("#status")).toContain("重放成功 / replayed");
    expect(await page.textContent(`${row} .status-resolved`)).toContain("已解决 / resolved");
    expect(await page.locator("#dead-letters tr.dead-letter.open").count()).toBe(deadLettered - 1);
    expect(deadLettered).toBeGreaterThan(1);
    const letters = (await api("GET", `/dead-letters?flow=${KIS}&status=resolved`)).deadLetters as Array<{ id: string; resolved: { by: string } }>;
    expect(letters.find((l) => l.id === letterId)?.resolved.by).toBe("dashboard");

    // Resolve another one by hand, with a reason.
    const other = (await page.locator("#dead-letters tr.dead-letter.open").first().getAttribute("data-dead-letter"))!;
    await page.fill(`#dead-letters tr[data-dead-letter="${other}"] input[name=reason]`, "posted by hand in KIS");
    await page.click(`#dead-letters tr[data-dead-letter="${other}"] form.resolve button`);
    await page.waitForSelector(`#dead-letters tr.dead-letter.resolved[data-dead-letter="${other}"]`, WAIT);
    expect(await page.textContent(`#dead-letters tr[data-dead-letter="${other}"]`)).toContain("posted by hand in KIS");
    expect(await page.locator("#dead-letters tr.dead-letter.open").count()).toBe(deadLettered - 2);

    await page.evaluate(() => window.scrollTo(0, 0));
    const overview = await screenshot(page, "overview");
    if (!existsSync(join(ROOT, "docs", "dashboard.png")) || process.env.UPDATE_DASHBOARD_SCREENSHOT === "1") {
      await page.screenshot({ path: join(ROOT, "docs", "dashboard.png"), fullPage: true });
    }

    // The flow page: diagram, mapping and the same history.
    await page.click(`#flows tr[data-flow="${KIS}"] a.flow-name`);
    await page.waitForSelector("svg.diagram", WAIT);
    expect(await page.locator('svg.diagram g.node[data-step="target"]').textContent()).toContain("miscellaneousreceipt/create");
    expect(await page.locator("#mapping tr[data-field]").count()).toBeGreaterThan(5);
    await screenshot(page, "flow");
    // The merging T+ flow draws its formatResponse and merge steps as used.
    await page.goto(new URL(`/ui/flows/${TPLUS}`, base).href);
    await page.waitForSelector('svg.diagram g.node.used[data-step="merge"]', WAIT);
    expect(await page.locator('svg.diagram g.node.used[data-step="formatResponse"]').count()).toBe(1);
    expect(await page.locator('svg.diagram g.node.unused[data-step="flatten"]').count()).toBe(1);
    await screenshot(page, "flow-tplus");
    if (!existsSync(join(ROOT, "docs", "dashboard-flow.png")) || process.env.UPDATE_DASHBOARD_SCREENSHOT === "1") {
      await page.screenshot({ path: join(ROOT, "docs", "dashboard-flow.png"), fullPage: false });
    }

    // Signing out drops the session; the dashboard sends the browser back to the form.
    await Promise.all([page.waitForURL((u) => u.pathname === "/login", WAIT), page.click("header form button")]);
    await page.goto(base);
    expect(new URL(page.url()).pathname).toBe("/login");
    expect(consoleErrors.filter((m) => /Content Security Policy/i.test(m))).toEqual([]);
    console.log(`[dashboard-browser] screenshots: ${overview} and ${join(shotDir!, "flow.png")}`);
  }, 120_000);
});
