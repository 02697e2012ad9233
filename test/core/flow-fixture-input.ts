/** Reads fixture input files: source documents as the Jushuitan API returns them. */

/** Source documents from an array of rows, a response envelope or an array of envelopes (pages). */
export function sourceDocuments(input: unknown): Record<string, unknown>[] {
  const rowsOf = (envelope: any): Record<string, unknown>[] | null => {
    const data = envelope?.data;
    if (!data || typeof data !== "object") return null;
    const list = Object.values(data).find(Array.isArray);
    return (list as Record<string, unknown>[] | undefined) ?? [];
  };
  if (Array.isArray(input)) {
    if (input.length > 0 && input.every((x) => x && typeof x === "object" && "data" in x && "code" in x)) return input.flatMap((e) => rowsOf(e)!);
    return input as Record<string, unknown>[];
  }
  const rows = rowsOf(input);
  if (!rows) throw new Error("input.json must be an array of documents, a Jushuitan response envelope or an array of envelopes");
  return rows;
}
