/**
 * The composition root every host shares. A host (the Worker's cron, queue and HTTP routes; the CLI; the
 * Action) supplies only its ports — a key/value store, a lock, fetch, a clock, a logger, a rate budget and the
 * environment — and gets the wired parts back: the state store, the token and reference stores, the three
 * vendors' clients, and a metered session for one run or replay. No host builds any of these itself
 * (test/core/compose-root.test.ts keeps it so).
 */
import type { Flow } from "../flow/schema.ts";
import type { RateBudget } from "../http/rate-budget.ts";
import type { Clock, FetchLike, KeyValueStore, Logger, TokenStore } from "../ports.ts";
import { silentLogger, systemClock } from "../ports.ts";
import { type Budget, type CallMeter, createCallMeter } from "../engine/meter.ts";
import { MeteredKeyValueStore } from "../state/kv-helpers.ts";
import type { FlowLockPort } from "../state/lock.ts";
import { KvReferenceStore } from "../state/reference-store.ts";
import { FlowStateStore, type LedgerCache } from "../state/state-store.ts";
import { KvTokenStore } from "../state/token-store.ts";
import { type ClientDeps, type JushuitanClientChoices, jushuitanClient, kisOperations, targetClient, tplusClient } from "./connectors.ts";
import { type EnvVars, ledgerOptions } from "./env.ts";

export type { EnvVars } from "./env.ts";

/** What a host supplies. */
export interface HostPorts {
  env: EnvVars;
  kv: KeyValueStore;
  fetch: FetchLike;
  clock?: Clock;
  logger?: Logger;
  /** The flow lease (runs and replays take it); hosts that only read (doctor) may leave it out. */
  lock?: FlowLockPort;
  /** Flows by id (the seed flows plus any the host loaded). */
  flows?: Readonly<Record<string, Flow>>;
  /** The app's Jushuitan rate budget shared by every run of the host (http/rate-budget.ts); default: one per client. */
  rateBudget?: RateBudget;
  /** Ledger indexes kept across this host's runs (a CLI backfill's windows: the ledger is read once, state-store.ts). */
  ledgerCache?: LedgerCache;
}

/** The vendors' clients over one fetch and token store. */
export interface Clients {
  jushuitan(choices?: Omit<JushuitanClientChoices, "rateBudget">): ReturnType<typeof jushuitanClient>;
  kis(): ReturnType<typeof kisOperations>;
  tplus(options?: Parameters<typeof tplusClient>[2]): ReturnType<typeof tplusClient>;
  target(flow: Flow, options?: Parameters<typeof targetClient>[3]): ReturnType<typeof targetClient>;
}

/** One run's or replay's parts: calls metered against its budget, KV operations counted, the stores over the counted KV. */
export interface Session {
  meter: CallMeter;
  kv: MeteredKeyValueStore;
  store: FlowStateStore;
  tokenStore: KvTokenStore;
  clients: Clients;
}

export interface HostParts {
  env: EnvVars;
  kv: KeyValueStore;
  fetch: FetchLike;
  clock: Clock;
  logger: Logger;
  lock: FlowLockPort | undefined;
  flows: Readonly<Record<string, Flow>>;
  rateBudget: RateBudget | undefined;
  /** Checkpoints, runs, dead letters (the ledger with LEDGER_RETENTION_DAYS in a session). */
  stateStore(kv?: KeyValueStore): FlowStateStore;
  tokenStore(kv?: KeyValueStore): KvTokenStore;
  referenceStore(kv?: KeyValueStore): KvReferenceStore;
  /** Clients over `fetch` (default the host's) and `tokenStore` (default one over the host's KV). */
  clients(fetch?: FetchLike, tokenStore?: TokenStore): Clients;
  /** With `ledgerRetention: false` the store ignores LEDGER_RETENTION_DAYS (a refused run that only records itself). */
  session(budget: Budget, options?: { ledgerRetention?: boolean }): Session;
}

export function composeHost(ports: HostPorts): HostParts {
  const clock = ports.clock ?? systemClock;
  const logger = ports.logger ?? silentLogger;
  const { env } = ports;
  const stores = { clock, logger };
  const tokenStore = (kv: KeyValueStore = ports.kv) => new KvTokenStore(kv, stores);
  const clients = (fetch: FetchLike = ports.fetch, tokens: TokenStore = tokenStore()): Clients => {
    const deps: ClientDeps = { fetch, tokenStore: tokens, clock, logger };
    return {
      jushuitan: (choices = {}) => jushuitanClient(env, deps, { ...choices, ...(ports.rateBudget ? { rateBudget: ports.rateBudget } : {}) }),
      kis: () => kisOperations(env, deps),
      tplus: (options) => tplusClient(env, deps, options),
      target: (flow, options) => targetClient(flow, env, deps, options),
    };
  };
  return {
    env,
    kv: ports.kv,
    fetch: ports.fetch,
    clock,
    logger,
    lock: ports.lock,
    flows: ports.flows ?? {},
    rateBudget: ports.rateBudget,
    stateStore: (kv = ports.kv) => new FlowStateStore(kv, stores),
    tokenStore,
    referenceStore: (kv = ports.kv) => new KvReferenceStore(kv, stores),
    clients,
    session(budget, options = {}) {
      const meter = createCallMeter(ports.fetch, budget, clock);
      // Counted so every run record says what it cost in KV operations (Free plan: 1,000 writes a day).
      const kv = new MeteredKeyValueStore(ports.kv);
      const tokens = tokenStore(kv);
      return {
        meter,
        kv,
        store: new FlowStateStore(kv, {
          ...stores,
          ...(options.ledgerRetention === false ? {} : ledgerOptions(env)),
          ...(ports.ledgerCache ? { ledgerCache: ports.ledgerCache } : {}),
        }),
        tokenStore: tokens,
        clients: clients(meter.fetch, tokens),
      };
    },
  };
}
