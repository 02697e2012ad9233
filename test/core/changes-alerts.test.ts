/** Issue 16: alerts name the dead-letter classes (period_closed …) and the corrections of a run. */
import { describe, expect, it } from "vitest";
import { alertLines, type AlertMessage } from "../../shared/alerts/formats.ts";
import { alertMessage } from "../../shared/alerts/notify.ts";
import type { RunSummary } from "../../shared/engine/types.ts";

const summary = {
  runId: "r1",
  flowId: "jst-other-in-to-kis",
  trigger: "cron",
  dryRun: false,
  startedAt: 0,
  finishedAt: 1,
  durationMs: 1,
  outcome: "partial",
  counts: { read: 3, written: 1, alreadyExisted: 0, skipped: 0, deadLettered: 2, dropped: 0 },
  windows: [],
  api: [],
  subrequests: 0,
  watermarkBefore: 0,
  watermarkAfter: 0,
  continues: false,
  deadLetterCodes: { period_closed: 2 },
  corrections: [{ externalKey: "2100019-R1", of: "2100019", sourceId: "2100019", kind: "red", cause: "no_longer_passes", status: "written" }],
} satisfies RunSummary;

describe("alerts for corrections and closed periods", () => {
  it("name the dead-letter classes and the correcting documents", () => {
    const message: AlertMessage = alertMessage(
      summary,
      {
        grouped: 0,
        nextState: { lastSentAt: 1, lastEvent: "dead_letters", consecutiveFailures: 0, openIncident: false, suppressed: 0 },
        changed: true,
        send: "dead_letters",
      },
      null,
      { timezone: "Asia/Shanghai" } as never,
    );
    const text = alertLines(message).join("\n");
    expect(text).toContain("period_closed 2");
    expect(text).toContain("2100019-R1 (2100019, written)");
  });
});
