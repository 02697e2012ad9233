import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

describe("npm start", () => {
  it("starts the emulators and the Worker under wrangler dev, syncs both seed flows and prints the summary", async () => {
    const port = await freePort();
    const root = join(import.meta.dirname, "../..");
    const child = spawn(process.execPath, [join(root, "scripts/start.ts"), "--once", "--port", String(port)], {
      cwd: root,
      env: { ...process.env, PATH: `${join(root, "node_modules/.bin")}:${process.env.PATH}` },
    });
    let out = "";
    child.stdout.on("data", (d) => (out += String(d)));
    child.stderr.on("data", (d) => (out += String(d)));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code, out).toBe(0);
    for (const flow of ["jst-other-in-to-kis", "jst-sales-out-to-tplus"]) {
      const line = out.split("\n").find((l) => l.startsWith(flow))!;
      expect(line, out).toMatch(/success/);
      const [, , read, written] = line.trim().split(/\s+/);
      expect(Number(read)).toBeGreaterThan(0);
      expect(Number(written)).toBeGreaterThan(0);
    }
    expect(out).toContain(`http://127.0.0.1:${port}`);
    // The go-live checklist against the emulators, with no ✗.
    expect(out).toMatch(/jst-bridge doctor \(/);
    expect(out).toMatch(/✓ \[kis\] credentials/);
    expect(out, out).toMatch(/ 0 ✗ /);
  }, 120_000);
});
