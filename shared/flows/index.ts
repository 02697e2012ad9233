/**
 * The two seed flows shipped with jst-bridge, as JSON documents (what users copy and edit) and, on
 * demand, as validated flows. JSON import attributes work in Node 24, Vitest, esbuild and wrangler;
 * validation is lazy so importing this module costs no CPU at Worker start-up.
 */
import { ConfigError } from "../errors.ts";
import { loadFlow, type Flow } from "../flow/schema.ts";
import otherInToKis from "./jst-other-in-to-kis.json" with { type: "json" };
import salesOutToTplus from "./jst-sales-out-to-tplus.json" with { type: "json" };

/** The raw flow documents by id. */
export const SEED_FLOW_DOCUMENTS: Readonly<Record<string, unknown>> = {
  "jst-other-in-to-kis": otherInToKis,
  "jst-sales-out-to-tplus": salesOutToTplus,
};

export const SEED_FLOW_IDS = Object.keys(SEED_FLOW_DOCUMENTS);

const loaded = new Map<string, Flow>();

/** A seed flow, validated (throws ConfigError for an unknown id). */
export function seedFlow(id: string): Flow {
  let flow = loaded.get(id);
  if (!flow) {
    const doc = SEED_FLOW_DOCUMENTS[id];
    if (doc === undefined) {
      throw new ConfigError(`No seed flow "${id}"`, { hint: `Seed flows: ${SEED_FLOW_IDS.join(", ")}.`, details: { id } });
    }
    // structuredClone: loadFlow's defaults must never write into the shared JSON module object.
    flow = loadFlow(structuredClone(doc));
    loaded.set(id, flow);
  }
  return flow;
}

/** Both seed flows, validated. */
export function seedFlows(): Flow[] {
  return SEED_FLOW_IDS.map(seedFlow);
}
