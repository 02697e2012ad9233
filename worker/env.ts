/** Bindings and variables the Worker receives; names follow the configuration contract in the README. */
export interface Env {
  STATE: KVNamespace;
  /** Per-flow run lease + strongly consistent checkpoint copy (worker/flow-lock.ts). */
  FLOW_LOCK: DurableObjectNamespace<import("./flow-lock.ts").FlowLock>;
  JST_BASE_URL?: string;
  JST_APP_KEY?: string;
  JST_APP_SECRET?: string;
  JST_ACCESS_TOKEN?: string;
  JST_REFRESH_TOKEN?: string;
  SYNC_API_TOKEN?: string;
}
