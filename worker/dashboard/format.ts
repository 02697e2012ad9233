/** Small display helpers for the dashboard: Shanghai times, outcome colours and labels, truncation. */
import { formatInZone } from "../../shared/util/time.ts";

export const DISPLAY_ZONE = "Asia/Shanghai";

/** `2024-05-01 13:20:00` in Asia/Shanghai, or an em dash when there is no time. */
export function shanghaiTime(ms: number | null | undefined): string {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return "—";
  return formatInZone(ms, "YYYY-MM-DD HH:mm:ss", DISPLAY_ZONE);
}

/** `05-01 13:20` for chart axes. */
export function shortTime(ms: number): string {
  return formatInZone(ms, "MM-DD HH:mm", DISPLAY_ZONE);
}

export function duration(ms: number | undefined): string {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

const OUTCOMES: Record<string, { colour: string; label: string }> = {
  success: { colour: "#2e7d32", label: "成功 / success" },
  partial: { colour: "#ef6c00", label: "部分失败 / partial" },
  incomplete: { colour: "#1565c0", label: "未完成 / incomplete" },
  failed: { colour: "#c62828", label: "失败 / failed" },
  skipped_locked: { colour: "#757575", label: "跳过(锁定) / skipped: locked" },
  resolved: { colour: "#6a1b9a", label: "人工处理 / resolved by hand" },
};

/** CSS class suffix for an outcome (only known outcomes get a colour; anything else is neutral). */
export function outcomeClass(outcome: string | undefined): string {
  return outcome && OUTCOMES[outcome] ? `o-${outcome.replace(/_/g, "-")}` : "o-none";
}

export function outcomeLabel(outcome: string | undefined): string {
  if (!outcome) return "尚未运行 / never ran";
  return OUTCOMES[outcome]?.label ?? outcome;
}

export function outcomeColour(outcome: string | undefined): string {
  return (outcome && OUTCOMES[outcome]?.colour) || "#757575";
}

/** All outcome classes and colours, for the stylesheet. */
export function outcomeStyles(): string {
  return Object.entries(OUTCOMES)
    .map(([k, v]) => `.o-${k.replace(/_/g, "-")}{background:${v.colour};color:#fff}`)
    .join("");
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(1, max - 1))}…`;
}

/** JSON for display, cut to a readable size (the full document stays in the API). */
export function previewJson(value: unknown, max = 4000): string {
  let text: string;
  try {
    text = JSON.stringify(value, null, 2) ?? "";
  } catch {
    text = String(value);
  }
  return truncate(text, max);
}
