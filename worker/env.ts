/** Bindings and variables the Worker receives; names follow the configuration contract in the README. */
export interface Env {
  /** Watermarks, ledger, dead letters, run records, tokens, reference tables. */
  STATE: KVNamespace;
  /** Per-flow run lease + strongly consistent checkpoint copy (worker/flow-lock.ts). */
  FLOW_LOCK: DurableObjectNamespace<import("./flow-lock.ts").FlowLock>;
  /** Failed sign-ins and bearer failures per client address (worker/auth-guard.ts); without it, no limit. */
  AUTH_GUARD?: DurableObjectNamespace<import("./auth-guard.ts").AuthGuard>;
  /** One Jushuitan rate window per app_key for every run (worker/rate-budget-do.ts); without it, per isolate. */
  RATE_BUDGET?: DurableObjectNamespace<import("./rate-budget-do.ts").JstRateBudget>;
  /** Requests per second / per minute the app's Jushuitan permission package allows (default 5 and 100). */
  JST_RATE_PER_SECOND?: string;
  JST_RATE_PER_MINUTE?: string;
  /** Optional: continues budget-limited runs at once and fans out long HTTP-triggered ranges. */
  SYNC_QUEUE?: Queue<import("./queue.ts").SyncMessage>;

  JST_BASE_URL?: string;
  JST_APP_KEY?: string;
  JST_APP_SECRET?: string;
  JST_ACCESS_TOKEN?: string;
  JST_REFRESH_TOKEN?: string;

  TPLUS_MODE?: string;
  TPLUS_BASE_URL?: string;
  TPLUS_APP_KEY?: string;
  TPLUS_APP_SECRET?: string;
  TPLUS_OPEN_TOKEN?: string;
  TPLUS_REFRESH_TOKEN?: string;
  TPLUS_ORG_ID?: string;
  TPLUS_PRIVATE_KEY?: string;
  TPLUS_USER?: string;
  TPLUS_PASSWORD?: string;
  TPLUS_ACCOUNT?: string;

  KIS_BASE_URL?: string;
  KIS_CLIENT_ID?: string;
  KIS_CLIENT_SECRET?: string;
  KIS_ACCESS_TOKEN?: string;
  KIS_AUTH_DATA?: string;
  KIS_GW_ROUTER_ADDR?: string;
  KIS_ACCOUNT_DB?: string;
  KIS_SESSION_ID?: string;
  KIS_REFRESH_AUTH_DATA_TOKEN?: string;
  /** always (default) | after_unknown_outcome: see shared/engine/runner.ts kisPrecheck. */
  KIS_PRECHECK?: string;
  KIS_MATERIAL_DETAIL_BATCH?: string;
  /** Failed runs after which a document that keeps failing is dead-lettered (default 3; engine/poison.ts). */
  MAX_FAILED_RUNS?: string;
  /** <flowId>:<hash>[,…]: accepts a changed external-key template (engine/key-scheme.ts). */
  ACCEPT_KEY_SCHEME?: string;

  /** At least 32 characters (the API refuses to open with a shorter one). */
  SYNC_API_TOKEN?: string;
  /** Change it (any new value) to sign every dashboard session out at once. */
  SESSION_EPOCH?: string;
  /** How long a dashboard session lasts on the server (default 12). */
  SESSION_MAX_AGE_HOURS?: string;
  /** "true" allows http: base URLs and alert webhooks on non-loopback hosts (local development only). */
  ALLOW_INSECURE_HTTP?: string;
  /** Robot/bot webhook for alerts (carries its token: set it with `wrangler secret put`). See docs/alerts.md. */
  ALERT_WEBHOOK_URL?: string;
  /** dingtalk | wecom | feishu | json (default: from the URL's host, else json). */
  ALERT_KIND?: string;
  /** DingTalk "加签" secret, Feishu "签名校验" secret, or the json kind's HMAC key. */
  ALERT_SECRET?: string;
  /** A flow alerts at most once per this many minutes (default 30); escalations and recoveries bypass it. */
  ALERT_PERIOD_MINUTES?: string;
  /** Failed runs in a row that send an escalation (default 3). */
  ALERT_CONSECUTIVE_FAILURES?: string;
  /** Link put into alert messages (the Worker's dashboard). */
  DASHBOARD_URL?: string;

  /** Subrequests one invocation may make (Workers Free: 50; Paid: 10,000 by default). */
  MAX_SUBREQUESTS?: string;
  /** Subrequests kept back for state (KV, Durable Object) out of MAX_SUBREQUESTS. */
  STATE_SUBREQUEST_RESERVE?: string;
  /** Flows this deployment runs (comma list); default all built-in flows. */
  FLOWS?: string;
  /** JSON {"flow-id": "cron"} overriding flows' own schedules. */
  FLOW_SCHEDULES?: string;
  /** Issue 17: flow ids that write nothing until approved; per-flow freshness/reconcile settings (worker/observe/config-env.ts). */
  FLOW_APPROVAL?: string;
  FLOW_OBSERVE?: string;
  /** "off": no document trace index (saves about one KV write per page). */
  TRACE_INDEX?: string;
  REQUEST_TIMEOUT_MS?: string;
  /** Hours a reference table filled from its source (KIS materials, T+ archives) stays good before a run refreshes it (default 24). */
  REFERENCE_TTL_HOURS?: string;
  /** Requests one Jushuitan window may take (default 2000); a window whose count says more is halved. */
  JST_MAX_PAGES_PER_WINDOW?: string;
  /** Periodic wide re-sweep (shared/engine/resweep.ts): days re-read (default 3, 0 = off) and hours between re-sweeps (24). */
  RESWEEP_DAYS?: string;
  RESWEEP_INTERVAL_HOURS?: string;
  /** Days of ledger kept (default all); see shared/engine/runner.ts ledgerOptions. */
  LEDGER_RETENTION_DAYS?: string;
  /** Seconds a run holds its flow's lease (default 900); a crashed run blocks the flow at most this long. */
  RUN_LEASE_SECONDS?: string;
  /** debug | info | warn | error (default info). */
  LOG_LEVEL?: string;
  /** "queue" continues a run that stopped on its budget right away through SYNC_QUEUE; default: next cron tick. */
  CONTINUE_WITH?: string;
}
