/**
 * `jst-bridge doctor`: the go-live checklist (shared/doctor) against the systems in the environment / .env.
 * Read-only unless --write-probe, which needs --test-account or --probe-date.
 */
import { formatDoctorReport, runDoctor } from "../../../shared/doctor/index.ts";
import { ConfigError } from "../../../shared/errors.ts";
import { SEED_FLOW_IDS, seedFlow } from "../../../shared/flows/index.ts";
import type { Flow } from "../../../shared/flow/schema.ts";
import type { CommandContext } from "../context.ts";
import { EXIT } from "../errors.ts";
import { resolveFlow } from "../flows.ts";
import { parseStateKind } from "../state.ts";

export const DOCTOR_USAGE = `jst-bridge doctor [<flow>…] [--write-probe (--test-account | --probe-date YYYY-MM-DD)] [--sample-days N]

Read-only checks against Jushuitan, KIS and T+ with the configured credentials, printed as a go-live checklist
(✓ passed · ✗ failed, with the fix · ? needs a document or a real account to settle):
  credentials per system, and token refresh (really refreshed only with --state kv, the Worker's state; else ?); Jushuitan API permission per endpoint the flows use (190), whether
  rows carry ts, clock skew (HTTP Date); KIS AccountDB, the material custom field the flow keys on, bill list
  filters; T+ FindVoucherList reachable and filterable; documents sampled from the last days map, and the codes
  they need exist in the target. Reference tables with a source are filled as a first run would.
--write-probe   writes ONE marked document (JSTB-PROBE-…) twice per target to learn how it answers a duplicate
                key (KIS FBillNo, T+ ExternalCode); refused unless --test-account or --probe-date is given.
                It then writes ONE red document (…-R) reversing it, trying the red forms in turn (KIS: FROB -1 with
                negative, then positive quantities; T+: negative quantities, then a return business type with
                negative, then positive ones) and keeps the form accepted (state key doctor/red-form): the flows'
                corrections use it unless KIS_RED_QTY_SIGN / TPLUS_RED_QTY_SIGN / TPLUS_RED_BUSI_TYPE are set.
                Delete the probe documents afterwards (the checklist names them).
Default flows: all seed flows. The result is stored in the state (doctor/last) for the Worker and the engine.
Options: --state file|kv, --state-dir <dir>, --json. Exit codes: 0 no ✗ · 1 a ✗ or an error.`;

export const DOCTOR_OPTIONS = {
  "write-probe": { type: "boolean" },
  "test-account": { type: "boolean" },
  "probe-date": { type: "string" },
  "sample-days": { type: "string" },
} as const;

export async function doctorCommand(ctx: CommandContext, positionals: string[]): Promise<number> {
  const flows: Record<string, Flow> = {};
  if (positionals.length === 0) for (const id of SEED_FLOW_IDS) flows[id] = seedFlow(id);
  for (const ref of positionals) {
    const { flow } = await resolveFlow(ref, ctx.io.cwd);
    flows[flow.id] = flow;
  }
  const probeDate = ctx.string("probe-date");
  if (probeDate !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(probeDate)) {
    throw new ConfigError(`--probe-date must be YYYY-MM-DD (got "${probeDate}")`, {
      hint: "a date whose documents you can delete, e.g. in a closed test period",
    });
  }
  const days = ctx.string("sample-days");
  const sampleDays = days === undefined ? undefined : Number(days);
  if (sampleDays !== undefined && !(Number.isInteger(sampleDays) && sampleDays >= 1 && sampleDays <= 7)) {
    throw new ConfigError(`--sample-days must be 1 to 7 (got "${days}")`, { hint: "one Jushuitan query window is at most 7 days" });
  }
  const state = ctx.state();
  // Refresh the credentials for real only in the state the Worker uses: a rotation into a local file store
  // would leave a deployed Worker with a dead pair (T+ kills the old tokens on refresh).
  const exerciseRefresh = parseStateKind(typeof ctx.options.state === "string" ? ctx.options.state : undefined) === "kv";
  const report = await runDoctor(
    { env: ctx.env, fetch: ctx.io.fetch, kv: state.kv, clock: ctx.io.clock, logger: ctx.logger, flows },
    {
      ...(sampleDays !== undefined ? { sampleDays } : {}),
      exerciseRefresh,
      ...(ctx.flag("write-probe") ? { writeProbe: { testAccount: ctx.flag("test-account"), ...(probeDate ? { probeDate } : {}) } } : {}),
    },
  );
  ctx.out(ctx.json ? JSON.stringify(report, null, 2) : formatDoctorReport(report));
  return report.ok ? EXIT.ok : EXIT.failure;
}
