/**
 * The dashboard in a real browser, set up once per test file: the Worker runs in workerd through wrangler's test
 * harness (the same bundle `wrangler dev` serves), pointed at an emulator stack served over loopback, and a headless
 * Chromium (Debian's, driven by playwright-core) profile. Shared by dashboard-browser and observe-browser tests.
 *
 * Chromium comes from scripts/install-chromium.sh when /usr/bin/chromium is missing. Only when that install is
 * impossible (not root, no Debian mirror) are the tests skipped (`unavailable` says why), and never when CI=true.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll } from "vitest";
import { createTestHarness, type TestHarness } from "wrangler";
import { SKUS } from "../emulators/catalog.ts";
import { createEmulatorHub } from "../emulators/hub.ts";
import { serveOnLoopback, type RunningServer } from "../emulators/node/serve.ts";

const CHROMIUM = "/usr/bin/chromium";
export const ROOT = join(import.meta.dirname, "..", "..");
export const WAIT = { timeout: 30_000 };

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

export interface Stack {
  urls: { jushuitan: string; tplus: string; kis: string };
  env: Record<string, string>;
  warehouses: Record<string, unknown>[];
}

export interface DashboardBrowser {
  /** Why Chromium cannot run here, or null (set before the tests run). */
  unavailable: string | null;
  context: BrowserContext | undefined;
  /** The Worker's URL. */
  base: string;
  stack: Stack;
  /** Where screenshots go (a temp dir). */
  shotDir: string | undefined;
  /** The API as an operator's script calls it (bearer token), for seeding what the test needs. */
  api(method: string, path: string, body?: unknown): Promise<any>;
  /** A full-page screenshot into shotDir; returns its path. */
  screenshot(page: Page, name: string): Promise<string>;
  /** A new page whose console errors are collected in `consoleErrors`. */
  newPage(): Promise<{ page: Page; consoleErrors: string[] }>;
  /** Master data the way an operator fills it (warehouses uploaded, KIS materials refreshed), then the materials of style `itemId` removed. */
  masterDataWithout(itemId: string): Promise<void>;
}

/** Registers the file's beforeAll/afterAll; the returned object is filled in by beforeAll. */
export function useDashboardBrowser(options: { token: string; vars?: Record<string, string> }): DashboardBrowser {
  const { token } = options;
  let hubServer: RunningServer | undefined;
  let harness: TestHarness | undefined;
  let profileDir: string | undefined;
  const browser: DashboardBrowser = {
    unavailable: null,
    context: undefined,
    base: "",
    stack: undefined as unknown as Stack,
    shotDir: undefined,
    async api(method, path, body) {
      const res = await fetch(new URL(path, browser.base), {
        method,
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const json = (await res.json()) as any;
      if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${JSON.stringify(json)}`);
      return json;
    },
    async screenshot(page, name) {
      const path = join(browser.shotDir!, `${name}.png`);
      await page.screenshot({ path, fullPage: true });
      return path;
    },
    async newPage() {
      const page = await browser.context!.newPage();
      const consoleErrors: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error") consoleErrors.push(m.text());
      });
      return { page, consoleErrors };
    },
    async masterDataWithout(itemId) {
      await browser.api("POST", "/reference/warehouses", { rows: browser.stack.warehouses });
      await browser.api("POST", "/reference/kis_materials/refresh");
      const broken = SKUS.filter((s) => s.itemId !== itemId).map((s) => ({
        FItemID: s.kisItemId,
        FNumber: s.kisNumber,
        FName: s.name,
        FUnitID: s.kisUnitId,
        F_103: s.skuId,
      }));
      await browser.api("POST", "/reference/kis_materials", { rows: broken });
    },
  };

  beforeAll(async () => {
    browser.unavailable = ensureChromium();
    if (browser.unavailable) {
      if (process.env.CI === "true") throw new Error(`Chromium is required in CI: ${browser.unavailable}`);
      console.warn(`[dashboard-browser] SKIPPED: Chromium cannot be installed here (${browser.unavailable})`);
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
    browser.stack = (await res.json()) as Stack;

    harness = createTestHarness({
      root: ROOT,
      workers: [
        {
          configPath: "./wrangler.toml",
          vars: { ...browser.stack.env, MAX_SUBREQUESTS: "10000", LOG_LEVEL: "warn", ...options.vars },
          secrets: { SYNC_API_TOKEN: token },
        },
      ],
    });
    browser.base = String((await harness.listen()).url);

    profileDir = mkdtempSync(join(tmpdir(), "jst-bridge-chromium-"));
    browser.shotDir = mkdtempSync(join(tmpdir(), "jst-bridge-dashboard-shots-"));
    browser.context = await chromium.launchPersistentContext(profileDir, {
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
    browser.context.setDefaultTimeout(WAIT.timeout);
  }, 300_000);

  afterAll(async () => {
    // Each step on its own: a failure in one must not leave the others running.
    await browser.context?.close().catch(() => {});
    await harness?.close().catch(() => {});
    await hubServer?.close().catch(() => {});
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  }, 60_000);

  return browser;
}
