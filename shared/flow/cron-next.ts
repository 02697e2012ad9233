/**
 * The next instant a 5-field cron expression fires (UTC, as Cloudflare Cron Triggers run), for the
 * dashboard's "next run". Quartz extras (L, W, #) are not expanded: such schedules report null.
 */
const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

function expand(field: string, min: number, max: number, names?: string[], nameBase = 0): Set<number> | null {
  const out = new Set<number>();
  for (const part of field.split(",")) {
    const [range = "", stepText] = part.split("/");
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) return null;
    let lo = min;
    let hi = max;
    if (range !== "*" && range !== "?") {
      const bounds = range.split("-").map((b) => {
        if (/^\d+$/.test(b)) return Number(b);
        const i = names?.indexOf(b.toUpperCase()) ?? -1;
        return i < 0 ? NaN : i + nameBase;
      });
      if (bounds.some((b) => Number.isNaN(b))) return null;
      lo = bounds[0]!;
      hi = bounds.length > 1 ? bounds[1]! : stepText === undefined ? lo : max;
    }
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

export function nextCronTime(expression: string, after: number): number | null {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 5) return null;
  const minutes = expand(parts[0]!, 0, 59);
  const hours = expand(parts[1]!, 0, 23);
  const doms = expand(parts[2]!, 1, 31);
  const months = expand(parts[3]!, 1, 12, MONTHS, 1);
  const dowsRaw = expand(parts[4]!, 0, 7, DAYS);
  if (!minutes || !hours || !doms || !months || !dowsRaw) return null;
  const dows = new Set([...dowsRaw].map((d) => d % 7));
  const domStar = parts[2] === "*" || parts[2] === "?";
  const dowStar = parts[4] === "*" || parts[4] === "?";
  const start = new Date(Math.floor(after / 60_000) * 60_000 + 60_000);
  for (let day = 0; day < 366 * 2; day++) {
    const d = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate() + day));
    if (!months.has(d.getUTCMonth() + 1)) continue;
    const domOk = doms.has(d.getUTCDate());
    const dowOk = dows.has(d.getUTCDay());
    // Standard cron: when both day fields are restricted, either may match.
    if (!(domStar && dowStar) && !(domStar ? dowOk : dowStar ? domOk : domOk || dowOk)) continue;
    for (const h of [...hours].sort((a, b) => a - b)) {
      for (const m of [...minutes].sort((a, b) => a - b)) {
        const t = d.getTime() + h * 3_600_000 + m * 60_000;
        if (t >= start.getTime()) return t;
      }
    }
  }
  return null;
}
