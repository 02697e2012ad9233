/**
 * Checks the on-prem `Authorization` header the way T+ does: base64(JSON{appKey, authInfo, orgId}) where
 * authInfo is a JWT signed with the ISV private key. PS256 is the official algorithm; RS256 (seen in two
 * third-party clients) is accepted only when configured. `exp` is in MILLISECONDS.
 */
import { md5Hex } from "../../../shared/util/md5.ts";

export interface OnpremClaims {
  sub?: unknown;
  exp?: unknown;
  datas?: unknown;
  access_token?: unknown;
}

export interface VerifiedAuth {
  appKey: string;
  orgId: string;
  alg: string;
  claims: OnpremClaims;
}

export type AuthCheck = { ok: true; auth: VerifiedAuth } | { ok: false; code: string; message: string };

function b64ToBytes(b64: string): Uint8Array {
  const normal = b64.replace(/-/g, "+").replace(/_/g, "/").replace(/\s+/g, "");
  const padded = normal + "=".repeat((4 - (normal.length % 4)) % 4);
  const binary = atob(padded);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

function decodeJson(b64: string): unknown {
  return JSON.parse(new TextDecoder().decode(b64ToBytes(b64)));
}

export type PublicKeyInput = string | JsonWebKey;

/** Imports the ISV public key (SPKI PEM or JWK) once per algorithm. */
export class PublicKeyRing {
  private readonly input: PublicKeyInput;
  private readonly cache = new Map<string, Promise<CryptoKey>>();

  constructor(input: PublicKeyInput) {
    this.input = input;
  }

  get(alg: "PS256" | "RS256"): Promise<CryptoKey> {
    let key = this.cache.get(alg);
    if (!key) {
      const algorithm = alg === "PS256" ? { name: "RSA-PSS", hash: "SHA-256" } : { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
      if (typeof this.input === "string") {
        const body = this.input.replace(/-----[A-Z ]+-----/g, "");
        key = crypto.subtle.importKey("spki", b64ToBytes(body) as BufferSource, algorithm, false, ["verify"]);
      } else {
        // A JWK tagged for one algorithm would refuse import under the other.
        const { alg: _alg, key_ops: _ops, use: _use, ...jwk } = this.input;
        key = crypto.subtle.importKey("jwk", jwk, algorithm, false, ["verify"]);
      }
      this.cache.set(alg, key);
    }
    return key;
  }
}

export interface OnpremAuthConfig {
  apps: Map<string, string>; // appKey → appSecret
  orgId: string;
  /** Accept an empty orgId too (user/password login, as Chanjet's demo sends it). */
  allowEmptyOrgId?: boolean;
  keys: PublicKeyRing;
  acceptRs256: boolean;
  now: () => number;
}

const refuse = (code: string, message: string): AuthCheck => ({ ok: false, code, message });

export async function verifyOnpremAuthorization(header: string | undefined, config: OnpremAuthConfig): Promise<AuthCheck> {
  if (!header) return refuse("EXSM0001", "缺少 Authorization 授权信息");
  let outer: { appKey?: unknown; authInfo?: unknown; orgId?: unknown };
  try {
    outer = decodeJson(header.trim()) as typeof outer;
  } catch {
    return refuse("EXSM0001", "Authorization 不是 base64 编码的 JSON");
  }
  if (typeof outer.appKey !== "string" || typeof outer.authInfo !== "string" || (typeof outer.orgId !== "string" && typeof outer.orgId !== "number")) {
    return refuse("EXSM0001", "Authorization 缺少 appKey / authInfo / orgId");
  }
  const appSecret = config.apps.get(outer.appKey);
  if (appSecret === undefined) return refuse("EXSM0001", "appKey 不正确");
  const orgId = String(outer.orgId);
  if (orgId !== config.orgId && !(orgId === "" && config.allowEmptyOrgId)) return refuse("EXSM0001", "orgId 不正确");

  const parts = outer.authInfo.split(".");
  if (parts.length !== 3) return refuse("EXSM0002", "authInfo 不是 JWT");
  const [h, p, s] = parts as [string, string, string];
  let header_: { alg?: unknown };
  let claims: OnpremClaims;
  try {
    header_ = decodeJson(h) as { alg?: unknown };
    claims = decodeJson(p) as OnpremClaims;
  } catch {
    return refuse("EXSM0002", "authInfo 无法解析");
  }
  const alg = header_.alg;
  if (alg !== "PS256" && !(alg === "RS256" && config.acceptRs256)) return refuse("EXSM0002", `不支持的签名算法 ${String(alg)}`);
  const key = await config.keys.get(alg);
  const params = alg === "PS256" ? { name: "RSA-PSS", saltLength: 32 } : { name: "RSASSA-PKCS1-v1_5" };
  let valid = false;
  try {
    valid = await crypto.subtle.verify(params, key, b64ToBytes(s) as BufferSource, new TextEncoder().encode(`${h}.${p}`));
  } catch {
    valid = false;
  }
  if (!valid) return refuse("EXSM0002", "authInfo 签名验证失败");
  if (typeof claims.exp !== "number") return refuse("EXSM0002", "authInfo 缺少 exp");
  // Milliseconds: a seconds value is decades in the past and fails here, as on the real server.
  if (claims.exp <= config.now()) return refuse("EXSM0002", "authInfo 已过期");
  const expected = md5Hex(JSON.stringify({ appkey: outer.appKey, orgid: orgId, appsecret: appSecret }));
  if (claims.datas !== expected) return refuse("EXSM0002", "authInfo datas 校验失败（appKey/orgId/appSecret 不匹配）");
  return { ok: true, auth: { appKey: outer.appKey, orgId, alg, claims } };
}
