/**
 * Adversary (issue 18, one time module / one construction path): the same range text gives different instants on
 * the Worker's POST /flows/:id/sync and on the CLI / Action (`sync --from --to`, inputs from/to).
 *
 * - CLI/Action (action/cli/dates.ts parseRange): wall-clock in the FLOW's timezone; a date-only `to` includes that
 *   whole day (the range ends at the next day's start).
 * - HTTP (worker/api.ts `instant`, parseInZone(v) with no zone): always Asia/Shanghai, and a date-only `to` is that
 *   day's start, so {from: "2026-03-01", to: "2026-03-01"} is an empty range instead of the day.
 * (And HTTP reconcile, worker/observe/reconcile-service.ts:43, reads `to` as an inclusive day: a third reading.)
 *
 * Expected: the route hands the sync the range the CLI computes. Was: to = from for the one-day range, and
 * Shanghai instants for a Europe/Berlin flow. Fixed: one parser (shared/util/range.ts) for all hosts, the route asks
 * services.flowZone for the flow's zone.
 * The route is driven through Hono's app.request; the services object only records what the route passes on.
 */
import { describe, expect, it } from "vitest";
import { parseRange } from "../../action/cli/dates.ts";
import { apiRoutes } from "../../worker/api.ts";
import type { Services } from "../../worker/services.ts";

async function httpRange(from: string, to: string, zone = "Asia/Shanghai"): Promise<{ from?: number; to?: number }> {
  let seen: { from?: number; to?: number } = {};
  const services = {
    // The flow's zone as the Worker's configuration gives it (the seed flows are Asia/Shanghai; a user's flow may not be).
    flowZone: () => zone,
    sync: async (_flowId: string, request: { from?: number; to?: number }) => {
      seen = request;
      return { status: 200, run: {} };
    },
  } as unknown as Services;
  const res = await apiRoutes(() => services).request("/flows/jst-other-in-to-kis/sync", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ from, to }),
  });
  expect(res.status).toBe(200);
  return { from: seen.from, to: seen.to };
}

describe("a sync range reads the same over HTTP as on the CLI", () => {
  it("a one-day range (to = from, date only) is that whole day on both", async () => {
    const cli = parseRange("2026-03-01", "2026-03-01", "Asia/Shanghai")!;
    expect(cli.to - cli.from).toBe(86_400_000);
    expect(await httpRange("2026-03-01", "2026-03-01")).toEqual(cli);
  });

  it("a flow in another zone: HTTP reads the range in that zone like the CLI", async () => {
    const cli = parseRange("2026-03-01 08:00:00", "2026-03-01 20:00:00", "Europe/Berlin")!;
    // The old route did not know the flow's zone: it read Asia/Shanghai (7 h earlier in winter).
    expect(await httpRange("2026-03-01 08:00:00", "2026-03-01 20:00:00", "Europe/Berlin")).toEqual(cli);
  });
});
