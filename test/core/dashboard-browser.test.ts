/**
 * The dashboard in a real browser (test/helpers/dashboard-browser.ts: the Worker in workerd through wrangler's test
 * harness, emulators over loopback, headless Chromium): signs in, syncs, sees a dead letter, replays it after the master
 * data is fixed and sees it resolved. Screenshots go to a temp dir (and to docs/dashboard.png
 * and docs/dashboard-flow.png when missing or UPDATE_DASHBOARD_SCREENSHOT=1, so a normal run leaves the
 * work tree clean).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, useDashboardBrowser, WAIT } from "../helpers/dashboard-browser.ts";

const TOKEN = "dashboard-browser-test-token-0123456789";
const KIS = "jst-other-in-to-kis";
const TPLUS = "jst-sales-out-to-tplus";
const browser = useDashboardBrowser({ token: TOKEN });
const { api, screenshot } = browser;

describe("dashboard in Chromium", () => {
  it("signs in, syncs, shows a dead letter, replays it after the fix and shows it resolved", async (ctx) => {
    if (browser.unavailable) ctx.skip();
    const { page, consoleErrors } = await browser.newPage();

    // Not signed in: the dashboard sends the browser to the sign-in form.
    await page.goto(browser.base);
    expect(new URL(page.url()).pathname).toBe("/login");
    await page.fill("#token", "not-the-token");
    await page.click("button[type=submit]");
    await page.waitForSelector("#login-error", WAIT);
    expect((await browser.context!.cookies()).filter((c) => c.name === "__Host-jst_bridge_session")).toHaveLength(0);

    await page.fill("#token", TOKEN);
    await Promise.all([page.waitForURL((u) => u.pathname === "/", WAIT), page.click("button[type=submit]")]);
    expect(page.url()).not.toContain(TOKEN);
    const session = (await browser.context!.cookies()).find((c) => c.name === "__Host-jst_bridge_session");
    expect(session?.httpOnly).toBe(true);
    expect(session?.sameSite).toBe("Strict");
    expect(session?.value).not.toContain(TOKEN);
    // HttpOnly: page scripts cannot read it.
    expect(await page.evaluate(() => document.cookie)).not.toContain("__Host-jst_bridge_session");

    for (const id of [KIS, TPLUS]) await page.waitForSelector(`#flows tr[data-flow="${id}"]`, WAIT);

    // Master data the way an operator fills it, but with the materials of style TX100 missing.
    await browser.masterDataWithout("TX100");

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
    await page.goto(new URL(`/ui/flows/${TPLUS}`, browser.base).href);
    await page.waitForSelector('svg.diagram g.node.used[data-step="merge"]', WAIT);
    expect(await page.locator('svg.diagram g.node.used[data-step="formatResponse"]').count()).toBe(1);
    expect(await page.locator('svg.diagram g.node.unused[data-step="flatten"]').count()).toBe(1);
    await screenshot(page, "flow-tplus");
    if (!existsSync(join(ROOT, "docs", "dashboard-flow.png")) || process.env.UPDATE_DASHBOARD_SCREENSHOT === "1") {
      await page.screenshot({ path: join(ROOT, "docs", "dashboard-flow.png"), fullPage: false });
    }

    // Signing out drops the session; the dashboard sends the browser back to the form.
    await Promise.all([page.waitForURL((u) => u.pathname === "/login", WAIT), page.click("header form button")]);
    await page.goto(browser.base);
    expect(new URL(page.url()).pathname).toBe("/login");
    expect(consoleErrors.filter((m) => /Content Security Policy/i.test(m))).toEqual([]);
    console.log(`[dashboard-browser] screenshots: ${overview} and ${join(browser.shotDir!, "flow.png")}`);
  }, 120_000);
});
