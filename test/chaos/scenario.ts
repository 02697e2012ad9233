/**
 * One chaos run's mix of faults and conditions, drawn from a seed: the same seed always gives the same
 * scenario, so a failure is replayed by its seed alone. Web standards only (it runs inside workerd).
 *
 * Transient faults (5xx, timeouts, throttling, token expiry, lost answers, page drift, rows re-saved after they
 * were served) must change nothing
 * in the outcome; permanent ones (a broken reference table, a T+ business refusal) must become dead letters
 * for exactly the documents they hit.
 */
import { seededRandom } from "../emulators/catalog.ts";

export type ChaosProfile = "quick" | "long";

export const CHAOS_FLOWS = { kis: "jst-other-in-to-kis", tplus: "jst-sales-out-to-tplus" } as const;
export type ChaosFlowId = (typeof CHAOS_FLOWS)[keyof typeof CHAOS_FLOWS];

export const JST_PATHS = { otherInOut: "/open/other/inout/query", salesOut: "/open/orders/out/simple/query" } as const;
export const TPLUS_CREATE = "otherDispatch/Create";
export const KIS_CREATE = "miscellaneousreceipt/create";
/** Both seed flows' incremental.endLagMinutes: edits during a scan are stamped no earlier than this behind now. */
export const END_LAG_MS = 5 * 60_000;
/** Code of the injected T+ business refusal (the verdict recognises the refused write by it). */
export const TPLUS_BIZ_CODE = "EXBZ0101";

/** A fault spec as the emulators take it on POST /__emulator/faults. */
export type FaultSpec = { kind: string; path?: string; times?: number; skip?: number } & Record<string, unknown>;

export interface AbortPlan {
  /** The flow whose invocation is killed (with sharedCron the tick runs both flows). */
  flow: ChaosFlowId;
  /** Target writes answered before the network dies. */
  afterWrites: number;
  /** "afterAnswer": the Nth answer arrives, then everything hangs; "beforeAnswer": write N+1 commits but its answer never arrives. */
  mode: "afterAnswer" | "beforeAnswer";
  /** The flow's invocation (0-based) that is killed; skipped if the flow settled before. */
  atRun: number;
  via: "cron" | "http";
}

export interface ChaosScenario {
  seed: number;
  profile: ChaosProfile;
  /** Fault classes in this run (the long suite counts runs and failures per class). */
  faults: string[];
  documents: { otherInOut: number; salesOut: number };
  days: number;
  /** Worker variables. */
  maxSubrequests: number;
  stateReserve?: number;
  leaseSeconds: number;
  requestTimeoutMs: number;
  /** Both flows on one cron (they share each tick's budget). */
  sharedCron: boolean;
  /** CONTINUE_WITH=queue: budget-stopped runs continue through the queue consumer. */
  continueWithQueue: boolean;
  /** Probability that a tick is an HTTP sync (POST /flows/:id/sync) instead of a cron tick. */
  httpShare: number;
  /** Tick at which a cron tick and an HTTP sync of the same flow are fired together (one must be skipped_locked). */
  overlapAtTick?: number;
  abort?: AbortPlan;
  faultSpecs: { jushuitan: FaultSpec[]; tplus: FaultSpec[]; kis: FaultSpec[] };
  /** Pre-create one T+ voucher with the ExternalCode (and content) the bridge will write. */
  duplicateVoucher: boolean;
  /** Remove one SKU from kis_materials: every KIS document with it must be dead-lettered (lookup_miss). */
  brokenMaterial: boolean;
  /** Random draws the runner needs later (which SKU, which group …), fixed by the seed. */
  pick: number;
  /**
   * Once both flows settled: the T+ flow's ledger is lost (reset, retention, a new namespace) and a late member of its
   * latest written day arrives; the flows are driven again. The rebuilt group answered "already exists" must not
   * swallow the late member (engine-review finding 3): it lands in a supplement or in a conflict dead letter.
   */
  ledgerLoss?: boolean;
  /** The KIS account accepts a repeated FBillNo (KIS_PRECHECK=always must keep bills single). */
  kisNoUniqueBillNo?: boolean;
  /** Jushuitan's clock minus the host's (jst.clockOffset). */
  jstClockOffsetMs?: number;
  /** Rows visible to queries only this long after their `modified` (jst.visibilityLag). */
  jstVisibilityLagMs?: number;
  /** One KIS bill answers HTTP 500 on every create (kis.poison): dead-lettered after MAX_FAILED_RUNS, the others flow. */
  kisPoison?: boolean;
  /** Worker reads of KV may answer a value up to 60 s old (state.staleKv, test/chaos/stale-kv.ts). */
  staleKv?: boolean;
  /** jst.editBetween: rounds of edits of posted documents once the flows settled, and documents per flow per round. */
  editRounds?: number;
  editsPerRound?: number;
}

interface Knobs {
  /** Probability of each transient fault class. */
  p: number;
  maxTimes: number;
  docs: { otherInOut: [number, number]; salesOut: [number, number] };
  /** The per-minute Jushuitan throttle costs a real 60 s backoff: only the long suite draws it. */
  perMinuteThrottle: number;
  /** Share of runs with a budget of 8…16 subrequests (many invocations, each about a second: KV's per-key write spacing). */
  tinyBudget: number;
  /** REQUEST_TIMEOUT_MS choices and RUN_LEASE_SECONDS choices: what timeouts and killed invocations cost in wall time. */
  timeoutsMs: number[];
  leaseSeconds: number[];
  /** jst.editBetween: share of runs and most rounds (the quick suite in npm test keeps its time: fewer, one round). */
  editBetween: { p: number; maxRounds: number };
}

const PROFILES: Record<ChaosProfile, Knobs> = {
  quick: {
    p: 0.18,
    maxTimes: 1,
    docs: { otherInOut: [200, 320], salesOut: [60, 140] },
    perMinuteThrottle: 0,
    tinyBudget: 0.3,
    timeoutsMs: [700, 900],
    leaseSeconds: [1],
    editBetween: { p: 0.6, maxRounds: 1 },
  },
  long: {
    p: 0.3,
    maxTimes: 2,
    docs: { otherInOut: [200, 480], salesOut: [60, 220] },
    perMinuteThrottle: 0.04,
    tinyBudget: 0.5,
    timeoutsMs: [800, 1000, 1200],
    leaseSeconds: [1, 2],
    editBetween: { p: 0.75, maxRounds: 2 },
  },
};

/** `{ [name]: true }` and the label `state.<name>` / `kis.<name>` in the scenario's faults when drawn. */
function withFlag(name: "ledgerLoss" | "kisNoUniqueBillNo", drawn: boolean, faults: string[]): Partial<ChaosScenario> {
  if (!drawn) return {};
  faults.push(name === "ledgerLoss" ? "state.ledgerLoss" : "kis.noUniqueBillNo");
  return { [name]: true };
}

export function drawScenario(seed: number, profile: ChaosProfile = "quick"): ChaosScenario {
  const random = seededRandom(seed);
  const knobs = PROFILES[profile];
  const chance = (p: number) => random() < p;
  const int = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
  const pickOf = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const times = () => int(1, knobs.maxTimes);

  const faults: string[] = [];
  const jushuitan: FaultSpec[] = [];
  const tplus: FaultSpec[] = [];
  const kis: FaultSpec[] = [];
  const requestTimeoutMs = pickOf(knobs.timeoutsMs);

  const add = (label: string, list: FaultSpec[], spec: FaultSpec) => {
    if (!faults.includes(label)) faults.push(label);
    list.push(spec);
  };
  const jstPath = () => pickOf([JST_PATHS.otherInOut, JST_PATHS.salesOut, undefined]);
  const withPath = (spec: FaultSpec, path: string | undefined): FaultSpec => (path === undefined ? spec : { ...spec, path });

  // ---- Jushuitan --------------------------------------------------------------------------------
  if (chance(knobs.p))
    add("jst.5xx", jushuitan, withPath({ kind: "http5xx", status: pickOf([500, 502, 503, 504]), skip: int(0, 8), times: times() }, jstPath()));
  // Query paths only: a refresh answer lost to a timeout after the server rotated the pair cannot be recovered by anyone.
  if (chance(knobs.p))
    add("jst.timeout", jushuitan, {
      kind: "timeout",
      path: pickOf([JST_PATHS.otherInOut, JST_PATHS.salesOut]),
      delayMs: requestTimeoutMs + 1500,
      skip: int(0, 8),
    });
  if (chance(knobs.p)) add("jst.html", jushuitan, withPath({ kind: "html", skip: int(0, 8), times: times() }, jstPath()));
  if (chance(knobs.p)) add("jst.throttle199", jushuitan, withPath({ kind: "throttle", code: 199, skip: int(0, 8), times: times() }, jstPath()));
  if (chance(knobs.perMinuteThrottle)) add("jst.throttle200", jushuitan, withPath({ kind: "throttle", code: 200, skip: int(0, 8) }, jstPath()));
  if (chance(knobs.p)) add("jst.tokenExpired", jushuitan, { kind: "tokenExpired", skip: int(0, 8) });
  if (chance(knobs.p))
    add("jst.pageDrift", jushuitan, { kind: "pageDrift", path: pickOf([JST_PATHS.otherInOut, JST_PATHS.salesOut]), count: int(2, 5), skip: int(0, 4) });

  // Issue 11: a row an answer already served is re-saved before a later request (mid-scan, or before the next
  // invocation resumes), which shifts offset pages. Drawn from its own stream so the draws above stay as they were.
  const more = seededRandom(seed ^ 0x2b1d_9e37);
  if (more() < knobs.p) {
    add("jst.editServed", jushuitan, {
      kind: "editServed",
      path: JST_PATHS.otherInOut,
      change: "edit",
      stamp: "afterWindow",
      afterLagMs: END_LAG_MS,
      count: 1 + Math.floor(more() * 2),
      skip: Math.floor(more() * 9),
      times: 1 + Math.floor(more() * 3),
    });
  }

  // ---- T+ ---------------------------------------------------------------------------------------
  if (chance(knobs.p)) add("tplus.5xx", tplus, { kind: "http5xx", path: TPLUS_CREATE, status: pickOf([500, 502, 503]), skip: int(0, 5), times: times() });
  if (chance(knobs.p)) add("tplus.throttle409", tplus, { kind: "throttle409", path: TPLUS_CREATE, skip: int(0, 5), times: times() });
  if (chance(knobs.p)) add("tplus.tokenExpired", tplus, { kind: "tokenExpired", path: TPLUS_CREATE, skip: int(0, 5), times: times() });
  if (chance(knobs.p))
    add("tplus.commitThenTimeout", tplus, { kind: "commitThenTimeout", path: TPLUS_CREATE, delayMs: requestTimeoutMs + 2000, skip: int(0, 5), times: times() });
  if (chance(knobs.p)) add("tplus.commitThen5xx", tplus, { kind: "commitThen5xx", path: TPLUS_CREATE, skip: int(0, 5), times: times() });
  const duplicateVoucher = chance(knobs.p);
  if (duplicateVoucher) faults.push("tplus.duplicate");

  // ---- KIS --------------------------------------------------------------------------------------
  if (chance(knobs.p)) add("kis.5xx", kis, { kind: "http5xx", path: KIS_CREATE, status: pickOf([500, 502]), skip: int(0, 8), times: times() });
  if (chance(knobs.p)) {
    // Session expiry is left out: a dead login session needs a person to authorize again (by design).
    add("kis.authExpired", kis, { kind: "authExpired", path: KIS_CREATE, credential: pickOf(["access_token", "auth_data"]), skip: int(0, 8) });
  }
  if (chance(knobs.p)) add("kis.throttle", kis, { kind: "throttle", path: KIS_CREATE, retryAfterS: 1, skip: int(0, 8), times: times() });
  if (chance(knobs.p))
    add("kis.commitThenTimeout", kis, { kind: "commitThenTimeout", path: KIS_CREATE, delayMs: requestTimeoutMs + 2000, skip: int(0, 8), times: times() });

  // ---- permanent faults -------------------------------------------------------------------------
  const brokenMaterial = chance(0.15);
  if (brokenMaterial) faults.push("permanent.lookupMiss");
  if (chance(0.15)) {
    add("permanent.tplusBizError", tplus, {
      kind: "bizError",
      path: TPLUS_CREATE,
      code: TPLUS_BIZ_CODE,
      message: "存货已停用，不能保存其他出库单",
      skip: int(0, 4),
    });
  }

  // ---- conditions -------------------------------------------------------------------------------
  const maxSubrequests = chance(knobs.tinyBudget) ? int(8, 16) : int(17, 60);
  faults.push(maxSubrequests <= 16 ? "budget.tiny" : "budget.small");
  const sharedCron = chance(0.2);
  if (sharedCron) faults.push("sharedCron");
  const continueWithQueue = chance(0.2);
  if (continueWithQueue) faults.push("queue");
  const httpShare = chance(0.3) ? 0.4 : 0;
  if (httpShare > 0) faults.push("http");
  let overlapAtTick: number | undefined;
  if (!sharedCron && chance(0.2)) {
    overlapAtTick = int(0, 1);
    faults.push("overlap");
  }
  let abort: AbortPlan | undefined;
  if (chance(0.25)) {
    abort = {
      flow: pickOf([CHAOS_FLOWS.kis, CHAOS_FLOWS.tplus]),
      afterWrites: int(0, 3),
      mode: pickOf(["afterAnswer", "beforeAnswer"] as const),
      atRun: int(0, 1),
      via: pickOf(["cron", "http"] as const),
    };
    faults.push("abort");
  }

  const [oMin, oMax] = knobs.docs.otherInOut;
  const [sMin, sMax] = knobs.docs.salesOut;
  return {
    seed,
    profile,
    faults,
    documents: { otherInOut: int(oMin, oMax), salesOut: int(sMin, sMax) },
    days: 2,
    maxSubrequests,
    leaseSeconds: pickOf(knobs.leaseSeconds),
    requestTimeoutMs,
    sharedCron,
    continueWithQueue,
    httpShare,
    ...(overlapAtTick !== undefined ? { overlapAtTick } : {}),
    ...(abort ? { abort } : {}),
    faultSpecs: { jushuitan, tplus, kis },
    duplicateVoucher,
    brokenMaterial,
    pick: random(),
    // Drawn after everything else so the scenarios of earlier seeds stay as they were.
    ...withFlag("ledgerLoss", chance(0.2), faults),
    ...withFlag("kisNoUniqueBillNo", chance(0.2), faults),
    ...drawHostile(seed, knobs, faults, jushuitan),
  };
}

/**
 * Issue 11 item 7 and issue 12 item 12: the hostile source and platform. Drawn from their own random stream, after
 * everything else, so every earlier seed keeps its scenario and only gains these classes.
 *
 * - jst.clockOffset: Jushuitan's clock is 20 s … 5 min ahead of or behind the host (stamps `modified` of every
 *   re-save and the answers' Date header). Bounded by the 10-minute timestamp check Jushuitan applies to every request
 *   (a larger offset fails every call, loudly: not a silent-loss case).
 * - jst.visibilityLag: a row is visible to queries L = 20 … 90 s after its `modified`. Promised bound: a row visible
 *   within the end lag (5 min) of its `modified` is read by the first run whose window passes it; within lookback +
 *   end lag (KIS flow 15 min, T+ flow 24 h 5 min) by the next run; later than that only by the re-sweep
 *   (test/core/engine-read-boundaries.test.ts, with a simulated clock). Chaos runs in real time and stops once the
 *   flows settle, so it draws L inside the first bound. Both seed paths (run.ts): the T+ seed reads by modified
 *   now, so the io_date-window miss of seed 9001 is gone.
 * - jst.cancelServed: a Jushuitan user cancels other-inout documents an answer already served, mid-scan or between
 *   invocations (the emulator re-stamps them, so the rest of the window shifts up, like an edit). The verdict judges
 *   against the source's final truth: a cancelled document need not be in the target; if it is, it must hold exactly
 *   the content it had while confirmed (written before the cancellation; reversing it is issue 16's correction).
 *   A document cancelled before it was ever read is never written (it was never confirmed when read).
 * - kis.poison: one KIS bill whose create answers HTTP 500 every time: it must be dead-lettered (with its rows) after
 *   MAX_FAILED_RUNS counted runs while every other bill is written.
 * - state.staleKv: a third of the Worker's KV reads answer what the key held up to 60 s earlier (stale-kv.ts).
 */
function drawHostile(seed: number, knobs: Knobs, faults: string[], jushuitan: FaultSpec[]): Partial<ChaosScenario> {
  const r = seededRandom((seed ^ 0x7f4a_7c15) >>> 0);
  const out: Partial<ChaosScenario> = {};
  if (r() < knobs.p * 0.7) {
    const magnitude = 20_000 + Math.floor(r() * 280_000);
    out.jstClockOffsetMs = r() < 0.5 ? -magnitude : magnitude;
    faults.push("jst.clockOffset");
  }
  if (r() < knobs.p * 0.7) {
    out.jstVisibilityLagMs = 20_000 + Math.floor(r() * 70_000);
    faults.push("jst.visibilityLag");
  }
  if (r() < knobs.p * 0.7) {
    faults.push("jst.cancelServed");
    jushuitan.push({
      kind: "editServed",
      path: JST_PATHS.otherInOut,
      change: "cancel",
      stamp: "afterWindow",
      afterLagMs: END_LAG_MS,
      count: 1 + Math.floor(r() * 2),
      skip: Math.floor(r() * 9),
      times: 1 + Math.floor(r() * 2),
    });
  }
  if (r() < knobs.p * 0.5) {
    out.kisPoison = true;
    faults.push("kis.poison");
  }
  if (r() < knobs.p * 0.5) {
    out.staleKv = true;
    faults.push("state.staleKv");
  }
  // Issue 16 item 4: a Jushuitan user changes a served document's quantity (first line +1) and re-saves it, mid-scan
  // or between invocations; read again by a later window, a posted one is corrected (<id>-R<n> + <id>-B<n>), and
  // the signed sum per document must equal the source's current Confirmed quantities. Own stream: earlier draws stay.
  const q = seededRandom((seed ^ 0x3c6e_f372) >>> 0);
  if (q() < knobs.p * 0.7) {
    faults.push("jst.editQuantity");
    jushuitan.push({
      kind: "editServed",
      path: JST_PATHS.otherInOut,
      change: "quantity",
      stamp: "afterWindow",
      afterLagMs: END_LAG_MS,
      count: 1 + Math.floor(q() * 2),
      skip: Math.floor(q() * 9),
      times: 1 + Math.floor(q() * 2),
    });
  }
  return { ...out, ...drawEdits(seed, knobs, faults, jushuitan) };
}

/**
 * Issue 16 item 4: edits and cancellations of posted documents, between runs and while a scan pages, on both flows.
 * Own stream: earlier draws stay. Stamps land where the next run reads them (test/chaos/edits.ts explains why).
 * - jst.editBetween: once both flows settled, 1–2 rounds; each changes 2–6 posted documents of each flow (quantity,
 *   line added or removed, cancelled, re-saved unchanged); the flows then run again.
 * - jst.editLines: while other-inout pages, served documents gain or lose a line (the next run reads them).
 * - jst.editSales: while sales-out pages, served documents change or are cancelled (re-stamped to the window's last
 *   second: the merged flow reads only closed days, so the same scan reads them again at its end).
 */
function drawEdits(seed: number, knobs: Knobs, faults: string[], jushuitan: FaultSpec[]): Partial<ChaosScenario> {
  const r = seededRandom((seed ^ 0x5851_f42d) >>> 0);
  const int = (min: number, max: number) => min + Math.floor(r() * (max - min + 1));
  const out: Partial<ChaosScenario> = {};
  if (r() < knobs.editBetween.p) {
    const rounds = int(1, 2);
    out.editRounds = Math.min(rounds, knobs.editBetween.maxRounds);
    out.editsPerRound = int(2, 6);
    faults.push("jst.editBetween");
  }
  if (r() < knobs.p * 1.5) {
    faults.push("jst.editLines");
    jushuitan.push({
      kind: "editServed",
      path: JST_PATHS.otherInOut,
      change: r() < 0.5 ? "addLine" : "removeLine",
      stamp: "afterWindow",
      afterLagMs: END_LAG_MS,
      count: int(1, 2),
      skip: int(0, 8),
      times: int(1, 2),
    });
  }
  if (r() < knobs.p * 1.5) {
    faults.push("jst.editSales");
    const change = (["quantity", "addLine", "removeLine", "cancel"] as const)[int(0, 3)];
    jushuitan.push({ kind: "editServed", path: JST_PATHS.salesOut, change, stamp: "windowEnd", count: int(1, 3), skip: int(0, 6), times: int(1, 3) });
  }
  return out;
}
