/**
 * Adversary 6 (poison counting, shared/engine/poison.ts): KIS's create endpoint starts answering HTTP 503 in the
 * middle of a run, right after it took one create, while its reads keep answering (a create-only outage), with five
 * healthy bills left to write; it lasts four scheduled runs (1.5 h). Real engine, real KIS client, KIS emulator over
 * loopback HTTP, a manual clock (runs 30 minutes apart, the default schedule); the outage is a network wrapper over
 * the real fetch.
 */
import { afterEach, describe, expect, it } from "vitest";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";

const KIS = "jst-other-in-to-kis";
const MIN = 60_000;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

/** A new confirmed KIS-bound document (a copy of a 其它退货 one), saved now. */
function arrive(env: E2E) {
  const jst = env.stack.jushuitan;
  const template = jst.documents(JST_PATHS.otherInOut).find((d) => d.type === "其它退货" && d.status === "Confirmed")!;
  const { io_id: _id, ts: _ts, modified: _m, ...rest } = template;
  return jst.upsertDocument(JST_PATHS.otherInOut, rest);
}

const urlOf = (input: RequestInfo | URL) => new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);

/** KIS takes the first create, then answers every create with HTTP 503; its reads keep answering. */
function createsDownAfterFirst() {
  let down = false;
  return async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const path = urlOf(input).pathname;
    if (!path.includes("/koas/") || !/create/i.test(path)) return fetch(input, init);
    if (down) return new Response("Service Unavailable", { status: 503 });
    down = true;
    return fetch(input, init);
  };
}

describe("adv6: a create-only KIS outage that starts right after a create, five bills left", () => {
  // FINDING adv6-outage-after-create. Expected (poison.ts header: "three or more with nothing taken look like a
  // target that takes no create at all (a create-only outage) and count for nobody"; poison-5xx-alone: "three bills
  // waiting: counts for nobody"): a 1.5 h create-only outage with five healthy bills waiting dead-letters nothing, and
  // once KIS takes creates again every bill is written.
  // Actual (observed): run 1 stops as an outage and counts nothing, but records `createsSeen: true` on every set-aside
  // bill (one create was taken before the outage); runs 2–4 count 1, 2, 3 for 2100120, 2100121, 2100122, which are
  // dead-lettered `write_failed_repeatedly` (letters 3; after KIS is back, inKis [1,0,0,0,1,1]: three healthy bills
  // are not written; the watermark moved past them; only an operator's replay writes them).
  // Fault: poison.ts PoisonBook.settle writes `createsSeen: this.createsSeenInRun` on the attempt entries of a run
  // that ended as an outage, and counts() counts any document tried before whose entry says createsSeen — a create
  // taken BEFORE the failures is read, in every later run, as proof the target takes creates; the known-good read that
  // answers (reads are up) does not tell a create-only outage apart. The header's limitation speaks of "one or two
  // documents waiting"; here any number of them is counted once a create preceded the outage.
  it("FINDING adv6-outage-after-create: a create-only outage starting after a create dead-letters nothing; every bill is written when KIS is back", async () => {
    e2e = await startE2E({ salesOut: 0, otherInOut: 40 });
    const store = new FlowStateStore(e2e.kv);
    expect((await e2e.runToCompletion(KIS)).at(-1)!.outcome).toBe("success");
    e2e.clock.advance(30 * MIN);
    const ids = Array.from({ length: 6 }, () => String(arrive(e2e!).io_id));
    const net = createsDownAfterFirst();
    for (let run = 0; run < 4; run++) {
      e2e.clock.advance(30 * MIN);
      for (let i = 0; i < 50; i++) if (!(await e2e.run(KIS, {}, { fetch: net })).summary.continues) break;
    }
    for (let run = 0; run < 2; run++) {
      e2e.clock.advance(30 * MIN);
      await e2e.runToCompletion(KIS);
    }
    const letters = (await store.listDeadLetters(KIS)).filter((l) => !l.resolved).map((l) => [l.externalKey, l.error.code]);
    const stored = e2e.stack.kis.bills().map((b) => String(b.FBillNo));
    expect({ letters, inKis: ids.map((id) => stored.filter((b) => b === id).length) }).toEqual({ letters: [], inKis: [1, 1, 1, 1, 1, 1] });
  }, 120_000);
});
