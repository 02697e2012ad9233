/**
 * `npm run emulators`: serves every emulator on its fixed loopback port for manual runs of the CLI or
 * `wrangler dev` against fake upstreams. To add one, append `{ name, port, portEnv, create, describe }`.
 */
import { serveOnLoopback } from "./node/serve.ts";
import { createJushuitanEmulator } from "./jushuitan/index.ts";

interface EmulatorEntry {
  name: string;
  port: number;
  /** Environment variable that overrides the port. */
  portEnv: string;
  create: () => { app: { fetch: (req: Request) => Response | Promise<Response> } };
  /** Lines printed after the URL: how to point the bridge at it. */
  describe: (url: string, emulator: unknown) => string[];
}

const EMULATORS: EmulatorEntry[] = [
  {
    name: "jushuitan",
    port: 8701,
    portEnv: "JST_EMULATOR_PORT",
    create: () => createJushuitanEmulator(),
    describe: (url, emulator) => {
      const { credentials } = emulator as ReturnType<typeof createJushuitanEmulator>;
      return [
        `JST_BASE_URL=${url}`,
        `JST_APP_KEY=${credentials.appKey}`,
        `JST_APP_SECRET=${credentials.appSecret}`,
        `JST_ACCESS_TOKEN=${credentials.accessToken}`,
        `JST_REFRESH_TOKEN=${credentials.refreshToken}`,
      ];
    },
  },
  // T+ (8702) and KIS (8703) join here.
];

for (const entry of EMULATORS) {
  const port = Number(process.env[entry.portEnv] ?? entry.port);
  const emulator = entry.create();
  const server = await serveOnLoopback(emulator.app, port);
  console.log(`${entry.name} emulator: ${server.url}  (admin: ${server.url}/__emulator/state)`);
  for (const line of entry.describe(server.url, emulator)) console.log(`  ${line}`);
}
console.log("Emulated demo credentials only; press Ctrl+C to stop.");
