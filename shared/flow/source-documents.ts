/** Source documents from what a user pastes: an array of rows, a Jushuitan response envelope, or an array of envelopes (pages). */
import { BridgeError } from "../errors.ts";

export function sourceDocuments(input: unknown): Record<string, unknown>[] {
  const rowsOf = (envelope: unknown): Record<string, unknown>[] | null => {
    const data = (envelope as { data?: unknown } | null)?.data;
    if (!data || typeof data !== "object") return null;
    const list = Object.values(data).find(Array.isArray);
    return (list as Record<string, unknown>[] | undefined) ?? [];
  };
  const isEnvelope = (x: unknown) => x !== null && typeof x === "object" && "data" in x && "code" in x;
  if (Array.isArray(input)) {
    if (input.length > 0 && input.every(isEnvelope)) return input.flatMap((e) => rowsOf(e)!);
    return input as Record<string, unknown>[];
  }
  const rows = rowsOf(input);
  if (!rows) {
    throw new BridgeError("invalid_request", "source documents must be an array of documents, a Jushuitan response envelope or an array of envelopes", {
      hint: 'paste the rows (e.g. data.datas) or the whole {"code":0,"data":{…}} answer',
    });
  }
  return rows;
}
