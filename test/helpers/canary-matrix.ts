/**
 * The canary matrix (issue 15): for each connector, an upstream that echoes every credential it was sent
 * (test/helpers/echo-upstream.ts) in front of the real emulators; the real engine runs behind the ports
 * boundary the hosts use (shared/security/secret-ports.ts); then every output is searched for every secret:
 * env secrets, stored and rotated tokens (`tok:*`), and each credential value the upstream echoed.
 * Used by test/core/security-canary.test.ts and `npm run security` (scripts/security.ts).
 */
import { notifyRun } from "../../shared/alerts/notify.ts";
import { runFlowById } from "../../shared/engine/runner.ts";
import type { Logger } from "../../shared/ports.ts";
import { Redactor } from "../../shared/security/redact.ts";
import { securePorts } from "../../shared/security/secret-ports.ts";
import { startE2E } from "./e2e.ts";
import { echoedSecrets, echoingFetch, type EchoRule } from "./echo-upstream.ts";
import { searchForms } from "./secret-forms.ts";

export interface CanaryScenario {
  name: string;
  flowId: string;
  rules: EchoRule[];
  /** Faults to set first (e.g. an expired T+ token, so a refresh issues a sid). */
  prepare?: (e2e: Awaited<ReturnType<typeof startE2E>>) => void;
}

export const CANARY_SCENARIOS: CanaryScenario[] = [
  { name: "jushuitan: error envelope echoes the request", flowId: "jst-other-in-to-kis", rules: [{ path: "/open/other/inout/query", shape: "jst" }] },
  { name: "jushuitan: HTML page echoes the request", flowId: "jst-other-in-to-kis", rules: [{ path: "/open/other/inout/query", shape: "jst-html" }] },
  { name: "kis: business error echoes the request", flowId: "jst-other-in-to-kis", rules: [{ path: "/create", shape: "kis", times: 3 }] },
  { name: "kis: non-JSON body echoes the request past the cut", flowId: "jst-other-in-to-kis", rules: [{ path: "/create", shape: "kis-html", times: 3 }] },
  {
    name: "tplus cloud: business error echoes openToken, appSecret and the sid cookie",
    flowId: "jst-sales-out-to-tplus",
    rules: [{ path: "Create", shape: "tplus", skip: 1, times: 3 }],
    prepare: (e2e) => e2e.stack.tplus.addFaults([{ kind: "tokenExpired", path: "Create", times: 1 }]),
  },
];

export const OUTPUTS = ["logs", "run records", "dead letters", "other state", "alert body"] as const;
export type Output = (typeof OUTPUTS)[number];

export interface CanaryResult {
  scenario: string;
  outcome: string;
  secrets: number;
  echoed: number;
  leaks: Array<{ output: Output; secret: string }>;
  checked: Record<Output, number>;
}

function capturingLogger(lines: string[]): Logger {
  const write = (level: string) => (message: string, fields?: Record<string, unknown>) => void lines.push(JSON.stringify({ level, message, ...fields }));
  return { debug: write("debug"), info: write("info"), warn: write("warn"), error: write("error") };
}

/**
 * A secret leaks when it is in the output, or the 8-character prefix of a long one (a cut that kept part of
 * it), unless that prefix also starts a value that is no secret (an app key sharing the emulator's prefix).
 */
export function findLeaks(text: string, secrets: string[], plain: string[] = []): string[] {
  return secrets.filter((secret) =>
    // Every encoded form an upstream or output layer gives it (test/helpers/secret-forms.ts).
    searchForms(secret).some((s) => {
      if (text.includes(s)) return true;
      const prefix = s.slice(0, 8);
      return s.length >= 16 && !plain.some((p) => p.includes(prefix)) && text.includes(prefix);
    }),
  );
}

export async function runCanaryScenario(scenario: CanaryScenario): Promise<CanaryResult> {
  const e2e = await startE2E({ otherInOut: 30, salesOut: 30, days: 2 });
  try {
    scenario.prepare?.(e2e);
    const lines: string[] = [];
    const upstream = echoingFetch(e2e.ports.fetch, scenario.rules);
    const redactor = Redactor.fromEnv(e2e.env);
    const ports = securePorts({ ...e2e.ports, fetch: upstream.fetch, logger: capturingLogger(lines) }, redactor);
    const { summary } = await runFlowById(ports, { flowId: scenario.flowId, runId: "canary-1", trigger: "cli", budget: { maxSubrequests: 400 } });

    const alertBodies: string[] = [];
    const alertEnv = { ...e2e.env, ALERT_WEBHOOK_URL: "https://robots.example/hooks/canary-webhook-path-0123456789", ALERT_KIND: "json" };
    await notifyRun(summary, {
      env: alertEnv,
      kv: ports.kv,
      fetch: async (_input, init) => {
        alertBodies.push(String(init?.body ?? ""));
        return Response.json({ ok: true });
      },
      redactor,
      clock: e2e.clock,
    });

    const keys = await e2e.kv.list("");
    const stored: Record<string, string[]> = { "run records": [], "dead letters": [], "other state": [] };
    const tokens: unknown[] = [];
    for (const key of keys) {
      const value = (await e2e.kv.get(key)) ?? "";
      if (key.startsWith("tok:")) tokens.push(JSON.parse(value));
      else if (key.startsWith("run:")) stored["run records"]!.push(value);
      else if (key.startsWith("dl:")) stored["dead letters"]!.push(value);
      else stored["other state"]!.push(`${key}=${value}`);
    }
    // Every secret the deployment knows: env secrets, every stored (rotated) token, everything the upstream echoed.
    const secrets = new Set<string>();
    const known = new Redactor().addEnv(e2e.env).addAll(tokens);
    for (const s of [...known.known(), ...echoedSecrets(upstream.echoed)]) if (s.length >= 8) secrets.add(s);
    const list = [...secrets];
    const plain = Object.entries(e2e.env)
      .filter(([name]) => !known.known().includes(e2e.env[name]!))
      .map(([, v]) => v);

    const outputs: Record<Output, string> = {
      logs: lines.join("\n"),
      "run records": stored["run records"]!.join("\n"),
      "dead letters": stored["dead letters"]!.join("\n"),
      "other state": stored["other state"]!.join("\n"),
      "alert body": alertBodies.join("\n"),
    };
    const leaks: CanaryResult["leaks"] = [];
    const checked = {} as Record<Output, number>;
    for (const output of OUTPUTS) {
      checked[output] = outputs[output].length;
      for (const secret of findLeaks(outputs[output], list, plain)) leaks.push({ output, secret });
    }
    return { scenario: scenario.name, outcome: summary.outcome, secrets: list.length, echoed: upstream.echoed.length, leaks, checked };
  } finally {
    await e2e.close();
  }
}
