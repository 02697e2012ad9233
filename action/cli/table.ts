/** Plain-text tables for the terminal (CJK characters count two columns). */

const WIDE = /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/g;

export function displayWidth(text: string): number {
  return text.length + (text.match(WIDE)?.length ?? 0);
}

/** Right-aligns columns whose every body cell looks numeric. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(displayWidth(h), ...rows.map((r) => displayWidth(r[i] ?? ""))));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => /^-?[\d,.]+$|^n\/a$|^$/.test(r[i] ?? "")));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => {
        const pad = " ".repeat(Math.max(0, widths[i]! - displayWidth(c)));
        return numeric[i] ? pad + c : c + pad;
      })
      .join("  ")
      .trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n") + "\n";
}
