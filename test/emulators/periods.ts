/**
 * Closed accounting periods and enable dates in the target emulators (issue 16). The real refusal texts of KIS
 * and T+ are not public (../shared/docs/reversals-and-periods.md §3): each profile is one plausible reading, and
 * the bridge's default matchers (shared/engine/periods.ts) must recognise every one of them.
 */
export type PeriodProfile = "jiezhang" | "current-period" | "yuejie";

export interface PeriodOptions {
  /** Documents dated before this day (yyyy-MM-dd) fall in a closed period. */
  closedBefore?: string;
  /** Documents dated before this day (yyyy-MM-dd) predate the account (启用日期). */
  enableDate?: string;
  /** Which wording the refusal uses. Default "jiezhang". */
  profile?: PeriodProfile;
}

/** The refusal text for a document dated `date` (yyyy-MM-dd…), or null when its period is open. */
export function periodRefusal(date: string, options: PeriodOptions | undefined): string | null {
  if (!options) return null;
  const day = date.slice(0, 10);
  if (options.enableDate && day < options.enableDate) return `单据日期${day}不能早于系统启用日期${options.enableDate}`;
  if (options.closedBefore && day < options.closedBefore) {
    switch (options.profile ?? "jiezhang") {
      case "jiezhang":
        return `单据日期${day}所在会计期间已结账，不允许保存单据`;
      case "current-period":
        return `单据日期不能小于当前会计期间的开始日期${options.closedBefore}`;
      case "yuejie":
        return `${day.slice(0, 7)}期间已月结，不能新增或修改单据`;
    }
  }
  return null;
}

/** Reopens (反结账) or closes periods at run time. */
export function setPeriods(target: PeriodOptions, next: PeriodOptions): void {
  delete target.closedBefore;
  delete target.enableDate;
  Object.assign(target, next);
}
