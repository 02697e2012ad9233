/**
 * The HTTP API (every route requires the bearer token or a dashboard session; see worker/http.ts).
 * Bodies and queries are validated with zod; every error uses the one envelope { error: { code, message, hint } }.
 */
import { Hono } from "hono/tiny";
import * as z from "zod/mini";
import { sourceDocuments } from "../shared/flow/source-documents.ts";
import { parseCsv } from "../shared/util/csv.ts";
import { parseRange } from "../shared/util/range.ts";
import { type AppEnv, jsonBody, parseWith } from "./http.ts";
import type { Services } from "./services.ts";

/** A bound as given: wall-clock text in the flow's zone or epoch ms; read by the one range parser (shared/util/range.ts). */
const bound = z.union([z.number().check(z.int(), z.nonnegative()), z.string().check(z.minLength(1))]);

const syncBody = z
  .strictObject({ from: z.optional(bound), to: z.optional(bound), dryRun: z.optional(z.boolean()) })
  .check(z.refine((b) => (b.from === undefined) === (b.to === undefined), { message: "give both from and to, or neither" }));

const previewBody = z.strictObject({
  /** Source documents: an array of rows, a Jushuitan response envelope, or an array of envelopes. */
  documents: z.unknown(),
  tables: z.optional(z.record(z.string(), z.array(z.record(z.string(), z.unknown())))),
});
const previewDocuments = z.array(z.record(z.string(), z.unknown())).check(z.minLength(1, { message: "send at least one source document" }), z.maxLength(500));

const runsQuery = z.object({ flow: z.optional(z.string()), limit: z._default(z.coerce.number().check(z.int(), z.gte(1), z.lte(200)), 20) });
const deadLettersQuery = z.object({ flow: z.optional(z.string()), status: z._default(z.enum(["open", "resolved", "all"]), "open") });
const resolveBody = z.strictObject({
  reason: z.string().check(z.trim(), z.minLength(3, { message: "say why (at least 3 characters)" }), z.maxLength(500)),
});
const tableName = z.string().check(z.regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, { message: "letters, digits, _ . - (max 128)" }));

export function apiRoutes(services: (c: { env: AppEnv["Bindings"] }) => Services) {
  const api = new Hono<AppEnv>();

  api.get("/flows", async (c) => c.json({ flows: await services(c).flows() }));
  api.get("/flows/:id", async (c) => c.json(await services(c).flow(c.req.param("id"))));

  api.post("/flows/:id/sync", async (c) => {
    const { from, to, dryRun } = parseWith(syncBody, await jsonBody(c), "body");
    // The CLI's reading: wall-clock in the flow's zone, a date-only `to` includes that whole day.
    const range = parseRange(from, to, services(c).flowZone(c.req.param("id")), "http");
    const result = await services(c).sync(c.req.param("id"), { ...range, dryRun });
    if (result.status === 202) return c.json({ accepted: result.accepted }, 202);
    return c.json({ run: result.run, ...(result.planned ? { planned: result.planned } : {}) });
  });

  api.post("/flows/:id/preview", async (c) => {
    const body = parseWith(previewBody, await jsonBody(c), "body");
    const documents = parseWith(previewDocuments, sourceDocuments(body.documents), "documents");
    return c.json(await services(c).preview(c.req.param("id"), documents, body.tables));
  });

  api.get("/runs", async (c) => {
    const q = parseWith(runsQuery, c.req.query(), "query");
    return c.json({ runs: await services(c).runs(q.flow, q.limit) });
  });
  api.get("/runs/:id", async (c) => c.json(await services(c).run(c.req.param("id"))));

  api.get("/dead-letters", async (c) => {
    const q = parseWith(deadLettersQuery, c.req.query(), "query");
    return c.json({ deadLetters: await services(c).deadLetters(q.flow, q.status) });
  });
  api.post("/dead-letters/:id/replay", async (c) => {
    const result = await services(c).replay(c.req.param("id"), c.get("authBy") === "session" ? "dashboard" : "api");
    return c.json(result, result.replayed ? 200 : 422);
  });
  api.delete("/dead-letters/:id", async (c) => {
    const raw = c.req.query("reason") !== undefined ? { reason: c.req.query("reason") } : await jsonBody(c);
    const body = parseWith(resolveBody, raw, "body");
    const letter = await services(c).resolve(c.req.param("id"), body.reason, c.get("authBy") === "session" ? "dashboard" : "api");
    return c.json({ deadLetter: letter });
  });

  api.get("/apis", async (c) => c.json({ apis: await services(c).apiCatalog() }));
  api.get("/doctor", async (c) => c.json(await services(c).doctor()));

  api.get("/reference", async (c) => c.json({ tables: await services(c).references() }));
  api.post("/reference/:table", async (c) => {
    const table = parseWith(tableName, c.req.param("table"), "table");
    const type = c.req.header("Content-Type") ?? "";
    let rows: unknown;
    if (type.includes("text/csv")) rows = parseCsv(await c.req.text());
    else {
      const body = await jsonBody(c);
      rows = Array.isArray(body) ? body : (body as { rows?: unknown }).rows;
    }
    const parsed = parseWith(z.array(z.record(z.string(), z.unknown())).check(z.minLength(1, { message: "no rows" })), rows, "rows");
    return c.json(await services(c).uploadReference(table, parsed));
  });
  api.post("/reference/:table/refresh", async (c) => {
    const table = parseWith(tableName, c.req.param("table"), "table");
    return c.json(await services(c).refreshReference(table));
  });

  return api;
}
