import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { VERSION } from "../../shared/version.ts";

describe("GET /health (inside workerd)", () => {
  it("answers status and version", async () => {
    const res = await exports.default.fetch("http://bridge.local/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok", version: VERSION });
  });

  it("answers unknown routes with the JSON error envelope", async () => {
    const res = await exports.default.fetch("http://bridge.local/nope");
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: { code: string } };
    expect(body.error.code).toBe("not_found");
  });
});
