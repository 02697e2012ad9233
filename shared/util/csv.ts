/**
 * RFC 4180 CSV → rows keyed by the header line (reference-table uploads). Quoted fields may hold commas,
 * quotes ("") and line breaks; a UTF-8 BOM (Excel) is dropped. Values stay text; numbers that look like
 * numbers are kept as numbers so lookups by an id column match either way.
 */
import { BridgeError } from "../errors.ts";
import { ownSet } from "./own.ts";

export function parseCsv(text: string): Record<string, unknown>[] {
  const records: string[][] = [];
  let field = "";
  let row: string[] = [];
  let quoted = false;
  let line = 1;
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  for (let i = 0; i < src.length; i++) {
    const ch = src[i]!;
    if (quoted) {
      if (ch === '"') {
        if (src[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (ch === "\n") line++;
        field += ch;
      }
      continue;
    }
    if (ch === '"' && field === "") quoted = true;
    else if (ch === ",") {
      row.push(field);
      field = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && src[i + 1] === "\n") i++;
      row.push(field);
      records.push(row);
      row = [];
      field = "";
      line++;
    } else field += ch;
  }
  if (quoted)
    throw new BridgeError("invalid_csv", `CSV has an unterminated quoted field (from line ${line})`, {
      hint: 'close the quote, or double quotes inside quoted fields ("")',
    });
  if (field !== "" || row.length) {
    row.push(field);
    records.push(row);
  }
  const nonEmpty = records.filter((r) => !(r.length === 1 && r[0] === ""));
  const header = nonEmpty.shift();
  if (!header || header.every((h) => h.trim() === ""))
    throw new BridgeError("invalid_csv", "CSV has no header line", { hint: "the first line names the columns, e.g. wms_co_id,tplus_code,kis_stock_id" });
  const names = header.map((h) => h.trim());
  return nonEmpty.map((cells, n) => {
    if (cells.length > names.length) {
      throw new BridgeError("invalid_csv", `CSV row ${n + 2} has ${cells.length} fields but the header has ${names.length}`, {
        hint: "quote values that contain commas",
      });
    }
    const out: Record<string, unknown> = {};
    names.forEach((name, i) => {
      const raw = (cells[i] ?? "").trim();
      ownSet(out, name, /^-?(0|[1-9]\d{0,14})(\.\d+)?$/.test(raw) ? Number(raw) : raw);
    });
    return out;
  });
}
