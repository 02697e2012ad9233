/**
 * `npm run emulators`: serves the Jushuitan, T+ and KIS emulators (one shared catalog) on fixed loopback
 * ports for manual runs of the CLI or `wrangler dev` against fake upstreams, and prints the configuration
 * that points the bridge at them. Ports: JST_EMULATOR_PORT (8701), TPLUS_EMULATOR_PORT (8702), KIS_EMULATOR_PORT (8703).
 */
import { JST_PATHS } from "./jushuitan/index.ts";
import { serveOnLoopback } from "./node/serve.ts";
import { createEmulatorStack, warehouseReferenceRows } from "./stack.ts";

const now = Date.now();
const stack = createEmulatorStack({
  jushuitan: {
    seed: 2024,
    documents: { [JST_PATHS.otherInOut]: 600, [JST_PATHS.salesOut]: 400 },
    range: { from: now - 3 * 86_400_000, to: now - 10 * 60_000 },
  },
});
const port = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const [jst, tplus, kis] = await Promise.all([
  serveOnLoopback(stack.jushuitan.app, port("JST_EMULATOR_PORT", 8701)),
  serveOnLoopback(stack.tplus.app, port("TPLUS_EMULATOR_PORT", 8702)),
  serveOnLoopback(stack.kis.app, port("KIS_EMULATOR_PORT", 8703)),
]);
console.log(`聚水潭 Jushuitan emulator: ${jst!.url}  (admin: ${jst!.url}/__emulator/state)`);
console.log(`畅捷通 T+ emulator:        ${tplus!.url}  (admin: ${tplus!.url}/__emulator/state)`);
console.log(`金蝶 KIS emulator:         ${kis!.url}  (admin: ${kis!.url}/__emulator/state)`);
console.log("\nConfiguration for the bridge (.dev.vars / environment):");
for (const [k, v] of Object.entries(stack.env({ jushuitan: jst!.url, tplus: tplus!.url, kis: kis!.url }))) console.log(`${k}=${v}`);
console.log(`\nwarehouses reference table (upload with POST /reference/warehouses):\n${JSON.stringify(warehouseReferenceRows())}`);
console.log("\nEmulated demo credentials only; press Ctrl+C to stop.");
