/**
 * Shared setup of the Jushuitan client tests: the emulator served over real loopback HTTP, a ManualClock
 * shared by client and emulator (rate limits, expiry and backoff cost no wall time), a memory TokenStore.
 */
import { JushuitanClient, type JushuitanClientOptions } from "../../shared/connectors/jushuitan/client.ts";
import { MemoryTokenStore } from "../../shared/ports.ts";
import { createJushuitanEmulator, type JushuitanEmulatorOptions } from "../emulators/jushuitan/index.ts";
import { ManualClock } from "../emulators/manual-clock.ts";
import { serveOnLoopback } from "../emulators/node/serve.ts";

/** 2024-06-20 10:00:00 Asia/Shanghai. */
export const T0 = Date.UTC(2024, 5, 20, 2, 0, 0);
export const DAY = 86_400_000;

export interface JstSetup {
  clock: ManualClock;
  emulator: ReturnType<typeof createJushuitanEmulator>;
  client: JushuitanClient;
  tokenStore: MemoryTokenStore;
  url: string;
  makeClient(overrides?: Partial<JushuitanClientOptions>): JushuitanClient;
  close(): Promise<void>;
}

export async function startJst(
  options: { emulator?: JushuitanEmulatorOptions; client?: Partial<JushuitanClientOptions>; clock?: ManualClock } = {},
): Promise<JstSetup> {
  const clock = options.clock ?? new ManualClock(T0);
  const emulator = createJushuitanEmulator({ now: () => clock.now(), range: { from: T0 - 30 * DAY, to: T0 - 3_600_000 }, ...options.emulator });
  const server = await serveOnLoopback(emulator.app);
  const tokenStore = new MemoryTokenStore();
  const makeClient = (overrides: Partial<JushuitanClientOptions> = {}) =>
    new JushuitanClient({
      baseUrl: server.url,
      appKey: emulator.credentials.appKey,
      appSecret: emulator.credentials.appSecret,
      tokenStore,
      fetch: (input, init) => fetch(input, init),
      clock,
      initialTokens: { accessToken: emulator.credentials.accessToken, refreshToken: emulator.credentials.refreshToken },
      random: () => 0.5,
      ...options.client,
      ...overrides,
    });
  return { clock, emulator, client: makeClient(), tokenStore, url: server.url, makeClient, close: () => server.close() };
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

/** Rejection of a promise, or a failure when it resolves. */
export async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection, but the promise resolved");
}
