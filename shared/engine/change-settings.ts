/**
 * The correction and closed-period settings of a flow (docs/changes.md): the flow's target.onChange and
 * target.closedPeriod, and per target system how red documents look (KIS_RED_QTY_SIGN, KIS_CHANGE_MODE,
 * TPLUS_RED_QTY_SIGN, TPLUS_RED_BUSI_TYPE, TPLUS_CHANGE_MODE) and which refusals mean a closed period
 * (KIS_/TPLUS_PERIOD_CLOSED_PATTERN, KIS_/TPLUS_ENABLE_DATE_PATTERN).
 */
import type { CorrectionShape } from "../connectors/correction.ts";
import { kisCorrectionSettings, kisCorrectionShape } from "../connectors/kis/reversal.ts";
import { tplusCorrectionSettings, tplusCorrectionShape } from "../connectors/tplus/reversal.ts";
import type { Flow } from "../flow/schema.ts";
import type { Clock } from "../ports.ts";
import { DEFAULT_ZONE } from "../util/time.ts";
import type { ChangeSettings } from "./changes.ts";
import { mapsPlacementPerLine } from "./line-placement-mapping.ts";
import { periodMatchers, type PeriodPolicy } from "./periods.ts";

/** `operation`: the flow's target operation; a T+ voucher kind keeps its lines in its own field (tplus/line-shapes.ts). */
export function correctionShape(system: "kis" | "tplus", env: Record<string, string | undefined>, operation?: string): CorrectionShape {
  return system === "kis" ? kisCorrectionShape(kisCorrectionSettings(env)) : tplusCorrectionShape(tplusCorrectionSettings(env), operation);
}

export function changeSettingsFor(flow: Flow, env: Record<string, string | undefined>, clock: Clock): { changes?: ChangeSettings; periods: PeriodPolicy } {
  const shape = correctionShape(flow.target.type, env, flow.target.operation);
  const periods: PeriodPolicy = {
    policy: flow.target.closedPeriod ?? "hold",
    matchers: periodMatchers(flow.target.type, env),
    shape,
    timezone: flow.timezone ?? DEFAULT_ZONE,
    now: () => clock.now(),
  };
  if (!flow.target.onChange) return { periods };
  return { changes: { policy: flow.target.onChange, shape, linePlacement: mapsPlacementPerLine(flow.target.fields) }, periods };
}
