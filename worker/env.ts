/** Bindings and variables the Worker receives; names follow the configuration contract in the README. */
export interface Env {
  STATE: KVNamespace;
  JST_BASE_URL?: string;
  JST_APP_KEY?: string;
  JST_APP_SECRET?: string;
  JST_ACCESS_TOKEN?: string;
  JST_REFRESH_TOKEN?: string;
  SYNC_API_TOKEN?: string;
}
