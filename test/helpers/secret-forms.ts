/**
 * The encoded forms an upstream or an output layer gives a secret (issue 15 adversary finding 1), written
 * independently of the product's redactor so the canary matrix checks it rather than mirrors it:
 * `\uXXXX` escapes (.NET System.Text.Json: upper-case hex for + ' " < > &; Gson: lower-case, also =),
 * `\/` (PHP json_encode), %xx in both hex cases (.NET HttpUtility.UrlEncode: lower), HTML entities, and
 * base64 / base64url of the secret behind 0, 1 or 2 other bytes ("Basic user:secret").
 */

const unicodeEscape = (value: string, upper: boolean) =>
  value.replace(/[^A-Za-z0-9]/g, (c) => {
    const hex = c.charCodeAt(0).toString(16).padStart(4, "0");
    return `\\u${upper ? hex.toUpperCase() : hex}`;
  });

const b64 = (text: string) => {
  let bin = "";
  for (const b of new TextEncoder().encode(text)) bin += String.fromCharCode(b);
  return btoa(bin);
};

const LEADS = ["", "u", "ab"] as const; // 0, 1 and 2 bytes before the secret: the three base64 alignments

function textForms(value: string): string[] {
  return [
    value,
    unicodeEscape(value, true),
    unicodeEscape(value, false),
    JSON.stringify(value).slice(1, -1).replace(/\//g, "\\/"),
    encodeURIComponent(value),
    encodeURIComponent(value).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()),
    value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#x27;"),
  ];
}

/** What an echoing upstream sends back: each form whole (base64 with its 0–2 leading bytes). */
export function echoForms(value: string): string[] {
  const forms = new Set<string>(textForms(value));
  for (const lead of LEADS) {
    forms.add(b64(lead + value));
    forms.add(
      b64(lead + value)
        .replace(/\+/g, "-")
        .replace(/\//g, "_")
        .replace(/=+$/, ""),
    );
  }
  return [...forms];
}

/** What to search outputs for: each form, base64 ones cut to the characters that depend on the secret only. */
export function searchForms(value: string): string[] {
  const forms = new Set<string>(textForms(value));
  for (const lead of LEADS) {
    const head = [0, 2, 3][lead.length]!;
    const full = Math.floor((new TextEncoder().encode(lead + value).length * 8) / 6);
    const core = b64(lead + value).slice(head, full);
    forms.add(core);
    forms.add(core.replace(/\+/g, "-").replace(/\//g, "_"));
  }
  return [...forms].filter((f) => f.length >= 8);
}
