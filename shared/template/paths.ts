/**
 * Safe reads of dotted paths (`a.b.c`, `items[0].sku_id`) from records. Only own properties of plain
 * objects and indices of arrays are followed: prototype members are never reached, and the names
 * `__proto__`, `constructor` and `prototype` always read as undefined (JSON.parse can create an own
 * `__proto__` key, so own-property checks alone are not enough).
 */

export type Segment = string | number;

export interface FieldPath {
  /** Normalised text (`a.b[0].c`), used in traces and `fields`. */
  readonly text: string;
  readonly segments: readonly Segment[];
  /** `../x`: always the parent record. */
  readonly parent: boolean;
  /** `parent.x`: the parent record when the scope has one, otherwise the record's own `parent` field. */
  readonly maybeParent: boolean;
}

const BLOCKED = new Set(["__proto__", "constructor", "prototype"]);
const SEGMENT = /[\p{L}\p{N}_$]+/uy;
const INDEX = /\[(\d{1,9})\]/y;
const DIGITS = /^\d{1,9}$/;

/** Parses a path; null when `text` is not one. */
export function parsePath(text: string): FieldPath | null {
  let rest = text;
  let parent = false;
  if (rest.startsWith("../")) {
    parent = true;
    rest = rest.slice(3);
  }
  const segments: Segment[] = [];
  let i = 0;
  while (true) {
    SEGMENT.lastIndex = i;
    const m = SEGMENT.exec(rest);
    if (!m) return null;
    segments.push(DIGITS.test(m[0]) && segments.length > 0 ? Number(m[0]) : m[0]);
    i = SEGMENT.lastIndex;
    for (;;) {
      INDEX.lastIndex = i;
      const idx = INDEX.exec(rest);
      if (!idx) break;
      segments.push(Number(idx[1]));
      i = INDEX.lastIndex;
    }
    if (i === rest.length) break;
    if (rest[i] !== ".") return null;
    i++;
  }
  const maybeParent = !parent && segments.length > 1 && segments[0] === "parent";
  return { text: (parent ? "../" : "") + segmentsToText(segments), segments, parent, maybeParent };
}

export function segmentsToText(segments: readonly Segment[]): string {
  let out = "";
  for (const s of segments) out += typeof s === "number" ? `[${s}]` : out === "" ? s : `.${s}`;
  return out;
}

/** One step: own property of a plain object, or an index of an array. */
export function step(value: unknown, key: Segment): unknown {
  if (value === null || typeof value !== "object") return undefined;
  if (Array.isArray(value)) {
    const index = typeof key === "number" ? key : DIGITS.test(key) ? Number(key) : -1;
    return index >= 0 && index < value.length ? value[index] : undefined;
  }
  if (typeof key === "number") key = String(key);
  return Object.hasOwn(value, key) && !BLOCKED.has(key) ? (value as Record<string, unknown>)[key] : undefined;
}

/** `step` for a name compileGetter has already checked against BLOCKED (the per-field read of every mapping). */
function stepName(value: unknown, key: string): unknown {
  if (value === null || typeof value !== "object") return undefined;
  if (Array.isArray(value)) return step(value, key);
  return Object.hasOwn(value, key) ? (value as Record<string, unknown>)[key] : undefined;
}

export type Getter = (root: unknown) => unknown;

const none: Getter = () => undefined;

/** A reader specialised for the path length (the hot path of every mapping). */
export function compileGetter(segments: readonly Segment[]): Getter {
  if (segments.some((s) => typeof s === "string" && BLOCKED.has(s))) return none;
  const [a, b, c] = segments;
  switch (segments.length) {
    case 0:
      return (root) => root;
    case 1:
      return typeof a === "string" ? (root) => stepName(root, a) : (root) => step(root, a!);
    case 2:
      return typeof a === "string" && typeof b === "string" ? (root) => stepName(stepName(root, a), b) : (root) => step(step(root, a!), b!);
    case 3:
      return (root) => step(step(step(root, a!), b!), c!);
    default:
      return (root) => {
        let v = root;
        for (let i = 0; i < segments.length && v !== undefined; i++) v = step(v, segments[i]!);
        return v;
      };
  }
}

/**
 * Reads a path and projects through arrays met on the way: `items.qty` over `{items:[{qty:1},{qty:2}]}`
 * gives [1, 2]. A final array value is spread too. Used by aggregates (`SUM(items.qty)`).
 */
export function collect(root: unknown, segments: readonly Segment[], from: number, out: unknown[]): void {
  let v = root;
  for (let i = from; i < segments.length; i++) {
    if (v === undefined || v === null) return;
    const key = segments[i]!;
    if (Array.isArray(v) && typeof key === "string" && !DIGITS.test(key)) {
      for (const item of v) collect(item, segments, i, out);
      return;
    }
    v = step(v, key);
  }
  if (Array.isArray(v)) for (const item of v) out.push(item);
  else if (v !== undefined) out.push(v);
}

const pathCache = new Map<string, Getter | null>();

/**
 * Reads `path` (`a.b[0].c`) from `root` with the same safety rules as templates; undefined when absent
 * or when `path` is not a path. For other modules (formatResponse, condition) that read record fields.
 */
export function readPath(root: unknown, path: string): unknown {
  let getter = pathCache.get(path);
  if (getter === undefined) {
    const parsed = parsePath(path);
    getter = parsed && !parsed.parent ? compileGetter(parsed.segments) : null;
    if (pathCache.size > 5000) pathCache.clear();
    pathCache.set(path, getter);
  }
  return getter ? getter(root) : undefined;
}
