/**
 * Node harness for the T+ client tests: T+ emulators served over real HTTP on loopback, sharing one
 * manual clock with the clients so token expiry can be reached without waiting.
 */
import { MemoryTokenStore } from "../../shared/ports.ts";
import type { FetchLike } from "../../shared/ports.ts";
import { createTplusClient } from "../../shared/connectors/tplus/operations.ts";
import type { TplusClientOptions, TplusConfig } from "../../shared/connectors/tplus/operations.ts";
import { serveOnLoopback } from "../emulators/node/serve.ts";
import type { RunningServer } from "../emulators/node/serve.ts";
import { manualClock } from "../emulators/tplus/fixtures.ts";
import { createTplusEmulator } from "../emulators/tplus/index.ts";
import type { TplusEmulator, TplusEmulatorOptions } from "../emulators/tplus/index.ts";

export type ManualClock = ReturnType<typeof manualClock>;

export interface Served {
  emulator: TplusEmulator;
  server: RunningServer;
}

export function harness() {
  const clock = manualClock();
  const servers: RunningServer[] = [];

  async function start(options: TplusEmulatorOptions = {}): Promise<Served> {
    const emulator = createTplusEmulator({ now: () => clock.now(), ...options });
    const server = await serveOnLoopback(emulator.app);
    servers.push(server);
    return { emulator, server };
  }

  async function closeAll() {
    await Promise.all(servers.map((s) => s.close()));
  }

  /** The real fetch, counted: every client call goes through the injected port. */
  function countingFetch() {
    const calls: string[] = [];
    const f: FetchLike = (input, init) => {
      const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
      calls.push(new URL(url).pathname);
      return fetch(input, init);
    };
    return { fetch: f, calls };
  }

  function cloudClient(
    served: Served,
    opts: { options?: TplusClientOptions; store?: MemoryTokenStore; fetch?: FetchLike; config?: Partial<TplusConfig> } = {},
  ) {
    const tokens = served.emulator.issueCloudTokens();
    const store = opts.store ?? new MemoryTokenStore();
    const counting = countingFetch();
    const config = {
      mode: "cloud",
      baseUrl: served.server.url,
      appKey: served.emulator.appKey,
      appSecret: served.emulator.appSecret,
      openToken: tokens.accessToken,
      refreshToken: tokens.refreshToken,
      ...opts.config,
    } as TplusConfig;
    const client = createTplusClient(
      config,
      { fetch: opts.fetch ?? counting.fetch, tokenStore: store, clock },
      {
        retry: { baseDelayMs: 50, maxDelayMs: 2000 },
        ...opts.options,
      },
    );
    return { client, store, tokens, calls: counting.calls };
  }

  return { clock, start, closeAll, countingFetch, cloudClient };
}

/** Collects the error a promise rejects with (fails the test if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error("expected a rejection");
}

/** Everything an error could show a user or a log: message, hint, details, cause chain. */
export function exposed(error: unknown): string {
  const parts: string[] = [];
  let e: unknown = error;
  for (let depth = 0; e && depth < 5; depth++) {
    if (e instanceof Error) {
      parts.push(e.message, JSON.stringify(e), String((e as { hint?: unknown }).hint ?? ""));
      e = (e as { cause?: unknown }).cause;
    } else {
      parts.push(String(e));
      break;
    }
  }
  return parts.join("\n");
}
