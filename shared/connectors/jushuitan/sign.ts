/**
 * Jushuitan open-platform request signing ("v2", openapi.jushuitan.com):
 *   sign = lower_hex(md5_utf8(app_secret + k1 + v1 + k2 + v2 + …))
 * over every form parameter except `sign` whose value is not empty, keys in ascending code-point order,
 * no separators, no suffix. `biz` is signed exactly as it is sent, so the caller must serialise it once
 * and send that very string (re-serialising after signing breaks the sign).
 */
import { md5Hex } from "../../util/md5.ts";

export type FormParams = Record<string, string | undefined | null>;

/** Code-point order (what Java TreeMap / PHP ksort / Python sorted do), never locale order. */
function compareCodePoints(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The text that is hashed. Exported for diagnostics in tests only: it starts with the secret, never log it. */
export function signingText(appSecret: string, params: FormParams): string {
  const keys = Object.keys(params)
    .filter((k) => k !== "sign")
    .filter((k) => {
      const v = params[k];
      return v !== undefined && v !== null && v !== "";
    })
    .sort(compareCodePoints);
  let text = appSecret;
  for (const k of keys) text += k + params[k];
  return text;
}

export function signParams(appSecret: string, params: FormParams): string {
  return md5Hex(signingText(appSecret, params));
}

/** Drops empty values (never sent, never signed) and adds `sign`. */
export function signedForm(appSecret: string, params: FormParams): Record<string, string> {
  const form: Record<string, string> = {};
  for (const [k, v] of Object.entries(params)) {
    if (k !== "sign" && v !== undefined && v !== null && v !== "") form[k] = v;
  }
  form.sign = signParams(appSecret, form);
  return form;
}
