import { describe, expect, it } from "vitest";
import type { RunOutcome } from "../../shared/engine/types.ts";
import { type AlertEvent, type AlertState, decideAlert, INITIAL_ALERT_STATE, undeliveredState } from "../../shared/alerts/policy.ts";
import { seededRandom } from "../emulators/catalog.ts";
import { MINUTE, summary, T0 } from "./alerts-fixture.ts";

const config = { periodMs: 30 * MINUTE, consecutiveFailures: 3 };

/** Feeds runs through the policy, carrying the state; returns what each run sent and the final state. */
function replay(runs: Array<{ outcome: RunOutcome; at: number; deadLettered?: number }>, cfg = config, start: AlertState | null = null) {
  let state = start;
  const sent: Array<{ at: number; event: AlertEvent; grouped: number } | null> = [];
  const writes: number[] = [];
  for (const run of runs) {
    const d = decideAlert(state, summary(run.outcome, { at: run.at, deadLettered: run.deadLettered }), cfg);
    sent.push(d.send ? { at: run.at, event: d.send, grouped: d.grouped } : null);
    if (d.changed) writes.push(run.at);
    state = d.nextState;
  }
  return { sent, state: { ...INITIAL_ALERT_STATE, ...state }, writes };
}

describe("alert policy (pure)", () => {
  it("three failures within the period send one message, the N-th consecutive failure escalates inside the period, a success sends the recovery", () => {
    const cfg = { periodMs: 30 * MINUTE, consecutiveFailures: 5 };
    const runs = [0, 5, 10, 15, 20].map((m) => ({ outcome: "failed" as const, at: T0 + m * MINUTE }));
    const { sent, state } = replay([...runs, { outcome: "success", at: T0 + 25 * MINUTE }], cfg);
    expect(sent.slice(0, 3).filter(Boolean)).toHaveLength(1);
    expect(sent[0]).toMatchObject({ event: "run_failed", grouped: 0 });
    expect(sent[3]).toBeNull();
    // 5th failure, still inside the 30-minute period: escalation, announcing the 3 held back.
    expect(sent[4]).toMatchObject({ event: "consecutive_failures", grouped: 3 });
    expect(sent[5]).toMatchObject({ event: "recovered", grouped: 0 });
    expect(state).toEqual({ lastSentAt: T0 + 25 * MINUTE, lastEvent: "recovered", consecutiveFailures: 0, openIncident: false, suppressed: 0 });
  });

  it("with the default N = 3 the third failure is the escalation; later failures group per period", () => {
    const at = (m: number) => T0 + m * MINUTE;
    const { sent, state } = replay([
      { outcome: "failed", at: at(0) },
      { outcome: "failed", at: at(10) },
      { outcome: "failed", at: at(20) },
      { outcome: "failed", at: at(30) },
      { outcome: "failed", at: at(40) },
      { outcome: "failed", at: at(55) },
    ]);
    expect(sent.map((s) => s?.event ?? null)).toEqual(["run_failed", null, "consecutive_failures", null, null, "run_failed"]);
    // The 6th failure comes 35 minutes after the escalation and announces the two held since.
    expect(sent[5]?.grouped).toBe(2);
    expect(state.consecutiveFailures).toBe(6);
    expect(state.openIncident).toBe(true);
  });

  it("a healthy flow never changes its state: no KV write for success after success", () => {
    const runs = Array.from({ length: 20 }, (_, i) => ({ outcome: "success" as const, at: T0 + i * 30 * MINUTE }));
    const { sent, writes, state } = replay(runs);
    expect(sent.every((s) => s === null)).toBe(true);
    expect(writes).toEqual([]);
    expect(state).toEqual(INITIAL_ALERT_STATE);
  });

  it("incomplete and skipped_locked runs are not failures: no alert, no streak change, no write", () => {
    const start: AlertState = { lastSentAt: T0, lastEvent: "run_failed", consecutiveFailures: 1, openIncident: true, suppressed: 0 };
    for (const outcome of ["incomplete", "skipped_locked"] as const) {
      const d = decideAlert(start, summary(outcome, { at: T0 + 60 * MINUTE }), config);
      expect(d.send).toBeUndefined();
      expect(d.changed).toBe(false);
      expect(d.nextState).toEqual(start);
    }
    // …and they do not break the streak: two more failures still reach N = 3.
    const { sent } = replay(
      [
        { outcome: "incomplete", at: T0 + 5 * MINUTE },
        { outcome: "failed", at: T0 + 10 * MINUTE },
        { outcome: "skipped_locked", at: T0 + 12 * MINUTE },
        { outcome: "failed", at: T0 + 15 * MINUTE },
      ],
      config,
      start,
    );
    expect(sent.map((s) => s?.event ?? null)).toEqual([null, null, null, "consecutive_failures"]);
  });

  it("dry runs never alert, even failed ones", () => {
    const d = decideAlert(null, summary("failed", { dryRun: true }), config);
    expect(d).toEqual({ grouped: 0, nextState: INITIAL_ALERT_STATE, changed: false });
  });

  it("dead letters alert once per period and are grouped; an incomplete run's dead letters count too", () => {
    const at = (m: number) => T0 + m * MINUTE;
    const { sent, state } = replay([
      { outcome: "partial", at: at(0), deadLettered: 2 },
      { outcome: "incomplete", at: at(5), deadLettered: 1 },
      { outcome: "partial", at: at(10), deadLettered: 4 },
      { outcome: "success", at: at(20) },
      { outcome: "partial", at: at(31), deadLettered: 1 },
    ]);
    expect(sent.map((s) => s?.event ?? null)).toEqual(["dead_letters", null, null, null, "dead_letters"]);
    expect(sent[4]?.grouped).toBe(2);
    // Dead letters are not an incident: the clean success in between sent no recovery.
    expect(state.openIncident).toBe(false);
  });

  it("a partial run after an alerted failure is the recovery (its dead letters ride along in the message)", () => {
    const { sent } = replay([
      { outcome: "failed", at: T0 },
      { outcome: "partial", at: T0 + MINUTE, deadLettered: 3 },
    ]);
    expect(sent.map((s) => s?.event ?? null)).toEqual(["run_failed", "recovered"]);
  });

  it("a failure held back by grouping opens no incident: the success after it sends no recovery", () => {
    const at = (m: number) => T0 + m * MINUTE;
    const { sent, state } = replay([
      { outcome: "partial", at: at(0), deadLettered: 1 },
      { outcome: "failed", at: at(5) },
      { outcome: "success", at: at(10) },
    ]);
    expect(sent.map((s) => s?.event ?? null)).toEqual(["dead_letters", null, null]);
    // The held failure is still counted and will be announced by the next message.
    expect(state.suppressed).toBe(1);
    expect(state.consecutiveFailures).toBe(0);
  });

  it("period 0 sends every event; N = 1 makes the first failure the escalation", () => {
    const { sent } = replay(
      [
        { outcome: "failed", at: T0 },
        { outcome: "failed", at: T0 + 1 },
        { outcome: "success", at: T0 + 2 },
      ],
      { periodMs: 0, consecutiveFailures: 1 },
    );
    expect(sent.map((s) => s?.event ?? null)).toEqual(["consecutive_failures", "run_failed", "recovered"]);
  });

  it("an undelivered message is kept as grouped, and a pending recovery stays pending", () => {
    const prev: AlertState = { lastSentAt: T0, lastEvent: "run_failed", consecutiveFailures: 2, openIncident: true, suppressed: 1 };
    const d = decideAlert(prev, summary("success", { at: T0 + 40 * MINUTE }), config);
    expect(d.send).toBe("recovered");
    const kept = undeliveredState(prev, d);
    expect(kept).toEqual({ lastSentAt: T0, lastEvent: "run_failed", consecutiveFailures: 0, openIncident: true, suppressed: 2 });
    const again = decideAlert(kept, summary("success", { at: T0 + 70 * MINUTE }), config);
    expect(again.send).toBe("recovered");
    expect(again.grouped).toBe(2);
  });

  it("random run sequences keep the guarantees: ≤ 1 grouped message per period, one escalation per streak, recovery only after a sent failure, writes only on change", () => {
    const random = seededRandom(20240620);
    const outcomes: RunOutcome[] = ["success", "partial", "incomplete", "failed", "failed", "skipped_locked"];
    for (let trial = 0; trial < 200; trial++) {
      const cfg = { periodMs: Math.floor(random() * 60) * MINUTE, consecutiveFailures: 1 + Math.floor(random() * 5) };
      let state: AlertState | null = null;
      let t = T0;
      let lastGroupedSend = -Infinity;
      let streak = 0;
      let escalations = 0;
      let failureSentSinceRecovery = false;
      for (let i = 0; i < 60; i++) {
        t += Math.floor(random() * 20) * MINUTE;
        const outcome = outcomes[Math.floor(random() * outcomes.length)]!;
        const deadLettered = outcome === "partial" || (outcome === "incomplete" && random() < 0.3) ? 1 + Math.floor(random() * 3) : 0;
        const before: AlertState = { ...INITIAL_ALERT_STATE, ...state };
        const d = decideAlert(state, summary(outcome, { at: t, deadLettered }), cfg);
        expect(d.changed).toBe(JSON.stringify(before) !== JSON.stringify(d.nextState));
        if (outcome === "failed") streak++;
        if (outcome === "success" || outcome === "partial") {
          streak = 0;
          escalations = 0;
        }
        expect(d.nextState.consecutiveFailures).toBe(streak);
        if (d.send === "run_failed" || d.send === "dead_letters") {
          expect(t - lastGroupedSend).toBeGreaterThanOrEqual(cfg.periodMs);
        }
        if (d.send === "consecutive_failures") {
          escalations++;
          expect(escalations).toBe(1);
          expect(streak).toBe(cfg.consecutiveFailures);
        }
        if (d.send === "recovered") {
          expect(failureSentSinceRecovery).toBe(true);
          failureSentSinceRecovery = false;
        }
        if (d.send === "run_failed" || d.send === "consecutive_failures") failureSentSinceRecovery = true;
        if (d.send) {
          lastGroupedSend = t;
          expect(d.nextState.suppressed).toBe(0);
          expect(d.grouped).toBe(before.suppressed);
        } else if (d.held) {
          expect(d.nextState.suppressed).toBe(before.suppressed + 1);
        }
        state = d.nextState;
      }
    }
  });
});
