/**
 * The live progress line on a terminal: windows done, pages, documents read and written, documents per
 * second and an ETA, redrawn in place (carriage return + erase line) at most every 100 ms. Log lines
 * step around it. Off the terminal (CI logs, pipes) it prints nothing: the final summary says it all.
 */
import { label } from "./dates.ts";
import type { OutputStream } from "./io.ts";
import type { SyncProgress } from "./sync-runner.ts";

const CLEAR = "\r\x1b[2K";

export class ProgressLine {
  private readonly stream: OutputStream;
  private readonly wallNow: () => number;
  private readonly zone: string | undefined;
  readonly enabled: boolean;
  private readonly startedAt: number;
  private last: SyncProgress | undefined;
  private windowsDone = 0;
  private windowCount: number | undefined;
  private drawnAt = -Infinity;
  private visible = false;

  constructor(stream: OutputStream, wallNow: () => number, options: { enabled: boolean; zone?: string }) {
    this.stream = stream;
    this.wallNow = wallNow;
    this.zone = options.zone;
    this.enabled = options.enabled;
    this.startedAt = wallNow();
  }

  plan(windowCount: number): void {
    this.windowCount = windowCount;
    this.draw(true);
  }

  update(progress: SyncProgress): void {
    this.last = progress;
    this.windowCount = progress.windowCount ?? this.windowCount;
    this.draw(false);
  }

  windowDone(): void {
    this.windowsDone++;
    this.draw(true);
  }

  /** Writes a line above the progress line. */
  log(line: string): void {
    if (this.visible) this.stream.write(CLEAR);
    this.stream.write(line.endsWith("\n") ? line : `${line}\n`);
    this.visible = false;
    if (this.enabled && this.last) this.draw(true);
  }

  done(): void {
    if (this.visible) this.stream.write(CLEAR);
    this.visible = false;
  }

  /** The text of the line (exported for tests through render()). */
  render(): string {
    const p = this.last;
    const elapsedS = Math.max(0.001, (this.wallNow() - this.startedAt) / 1000);
    const parts: string[] = [];
    parts.push(this.windowCount !== undefined ? `windows ${this.windowsDone}/${this.windowCount}` : `windows ${this.windowsDone}`);
    if (p) parts.push(label(p.window.from, this.zone));
    parts.push(`pages ${p?.pages ?? 0}`);
    parts.push(`docs ${fmt(p?.read ?? 0)} read / ${fmt(p?.written ?? 0)} written`);
    parts.push(`${fmt(Math.round((p?.read ?? 0) / elapsedS))} docs/s`);
    if (this.windowCount && this.windowsDone > 0 && this.windowsDone < this.windowCount) {
      parts.push(`ETA ${duration((elapsedS / this.windowsDone) * (this.windowCount - this.windowsDone))}`);
    }
    return parts.join(" · ");
  }

  private draw(force: boolean): void {
    if (!this.enabled) return;
    const now = this.wallNow();
    if (!force && now - this.drawnAt < 100) return;
    this.drawnAt = now;
    const width = Math.max(20, (this.stream.columns ?? 120) - 1);
    const text = this.render();
    this.stream.write(`${CLEAR}${text.length > width ? text.slice(0, width - 1) + "…" : text}`);
    this.visible = true;
  }
}

function fmt(n: number): string {
  return n.toLocaleString("en-US");
}

export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${String(sec).padStart(2, "0")}` : `${m}:${String(sec).padStart(2, "0")}`;
}
