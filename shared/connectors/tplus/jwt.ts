/**
 * The on-prem `authInfo` JWT: PS256 (RSASSA-PSS, SHA-256, salt 32) over the ISV private key, through WebCrypto.
 * WebCrypto only imports PKCS#8, while Chanjet hands out `cjet_pri.pem` as PKCS#1 ("BEGIN RSA PRIVATE KEY"),
 * so a PKCS#1 key is wrapped into a PKCS#8 envelope here (a fixed DER prefix plus lengths).
 */
import { ConfigError } from "../../errors.ts";
import { base64Bytes, base64ToBytes } from "./transport.ts";

/** PS256 is what Chanjet's own code uses; RS256 appears in two third-party clients (UNCERTAIN whether accepted). */
export type JwtAlgorithm = "PS256" | "RS256";

const KEY_HINT =
  "Set TPLUS_PRIVATE_KEY to the ISV private key (cjet_pri.pem) in PEM, either PKCS#8 (-----BEGIN PRIVATE KEY-----) or PKCS#1 " +
  "(-----BEGIN RSA PRIVATE KEY-----). Newlines may be written as \\n. To convert by hand: " +
  "openssl pkcs8 -topk8 -nocrypt -in cjet_pri.pem -out cjet_pri_pkcs8.pem";

export function base64UrlBytes(bytes: Uint8Array): string {
  return base64Bytes(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function base64UrlText(text: string): string {
  return base64UrlBytes(new TextEncoder().encode(text));
}

/** DER length octets. */
function derLength(length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(length);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

function derTag(tag: number, content: Uint8Array): Uint8Array {
  return concat(Uint8Array.of(tag), derLength(content.length), content);
}

/** PrivateKeyInfo ::= SEQUENCE { version 0, AlgorithmIdentifier rsaEncryption NULL, OCTET STRING RSAPrivateKey }. */
export function pkcs1ToPkcs8(pkcs1: Uint8Array): Uint8Array {
  const version = Uint8Array.of(0x02, 0x01, 0x00);
  const rsaAlgorithm = Uint8Array.of(0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00);
  return derTag(0x30, concat(version, rsaAlgorithm, derTag(0x04, pkcs1)));
}

interface PemKey {
  kind: "pkcs8" | "pkcs1";
  der: Uint8Array;
}

/** Reads a PEM (or bare base64 PKCS#8) private key; never echoes the key in errors. */
export function parsePrivateKeyPem(raw: string): PemKey {
  const text = raw.replace(/\\n/g, "\n").replace(/\r/g, "").trim();
  if (text === "") throw new ConfigError("TPLUS_PRIVATE_KEY is empty", { hint: KEY_HINT });
  if (/BEGIN ENCRYPTED PRIVATE KEY/.test(text)) {
    throw new ConfigError("TPLUS_PRIVATE_KEY is encrypted with a passphrase", {
      hint: "Decrypt it first: openssl pkcs8 -topk8 -nocrypt -in encrypted.pem -out cjet_pri_pkcs8.pem",
    });
  }
  const match = /-----BEGIN ([A-Z ]+)-----([\s\S]*?)-----END \1-----/.exec(text);
  let kind: PemKey["kind"];
  let body: string;
  if (match) {
    const label = match[1]!;
    if (label === "PRIVATE KEY") kind = "pkcs8";
    else if (label === "RSA PRIVATE KEY") kind = "pkcs1";
    else throw new ConfigError(`TPLUS_PRIVATE_KEY holds a "${label}" block, not a private key`, { hint: KEY_HINT });
    body = match[2]!;
  } else if (/^[A-Za-z0-9+/=\s]+$/.test(text)) {
    kind = "pkcs8";
    body = text;
  } else {
    throw new ConfigError("TPLUS_PRIVATE_KEY is not a PEM private key", { hint: KEY_HINT });
  }
  try {
    return { kind, der: base64ToBytes(body) };
  } catch {
    throw new ConfigError("TPLUS_PRIVATE_KEY is not valid base64 inside the PEM armour", { hint: KEY_HINT });
  }
}

function webCryptoAlgorithm(alg: JwtAlgorithm) {
  return alg === "PS256" ? { name: "RSA-PSS", hash: "SHA-256" } : { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
}

export async function importSigningKey(pem: string, alg: JwtAlgorithm = "PS256"): Promise<CryptoKey> {
  const key = parsePrivateKeyPem(pem);
  const pkcs8 = key.kind === "pkcs1" ? pkcs1ToPkcs8(key.der) : key.der;
  try {
    return await crypto.subtle.importKey("pkcs8", pkcs8 as BufferSource, webCryptoAlgorithm(alg), false, ["sign"]);
  } catch {
    throw new ConfigError("TPLUS_PRIVATE_KEY could not be imported as an RSA private key", { hint: KEY_HINT });
  }
}

/** Compact JWS: base64url(header).base64url(payload).base64url(signature). */
export async function signJwt(payload: Record<string, unknown>, key: CryptoKey, alg: JwtAlgorithm = "PS256"): Promise<string> {
  const signingInput = `${base64UrlText(JSON.stringify({ alg, typ: "JWT" }))}.${base64UrlText(JSON.stringify(payload))}`;
  const params = alg === "PS256" ? { name: "RSA-PSS", saltLength: 32 } : { name: "RSASSA-PKCS1-v1_5" };
  const signature = await crypto.subtle.sign(params, key, new TextEncoder().encode(signingInput));
  return `${signingInput}.${base64UrlBytes(new Uint8Array(signature))}`;
}
