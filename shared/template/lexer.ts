/**
 * Lexer of `_function` expressions. Tokens carry absolute indices into the value's source so errors
 * point at the right column. Quoted strings keep their placeholders (`'{{io_date|datetime}}'`) as parts;
 * `_findCollection … _endFind` is lexed as one lookup token.
 */
import { syntaxError, type CompileCtx } from "./context.ts";
import { parseFindCollection, type LookupSpec } from "./lookup.ts";
import { parsePath, type FieldPath } from "./paths.ts";
import { matchAt, type TemplatePart } from "./template.ts";
import type { Placeholder } from "./variables.ts";

export type Token =
  | { k: "num"; v: number; pos: number; end: number }
  | { k: "str"; parts: TemplatePart[]; pos: number; end: number }
  | { k: "ph"; ph: Placeholder; text: string; pos: number; end: number }
  | { k: "id"; name: string; path: FieldPath; simple: boolean; pos: number; end: number }
  | { k: "op"; v: string; pos: number; end: number }
  | { k: "lookup"; spec: LookupSpec; pos: number; end: number }
  | { k: "eof"; pos: number; end: number };

const NUMBER = /(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/y;
const IDENT = /[\p{L}_$][\p{L}\p{N}_$]*(?:\.[\p{L}\p{N}_$]+|\[\d{1,9}\])*/uy;
const IDENT_CHAR = /[\p{L}\p{N}_$]/u;
const OPERATORS = ["<=>", "<=", ">=", "<>", "!=", "&&", "||", "<", ">", "=", "!", "+", "-", "*", "/", "%", "(", ")", ","];
const ESCAPES: Record<string, string> = { "0": "\0", b: "\b", n: "\n", r: "\r", t: "\t", Z: "\x1a", "%": "\\%", _: "\\_" };

/** The index after the white space and comments (`-- …` to the line end, slash-star blocks) at i. */
function skipBlank(ctx: CompileCtx, i: number, end: number): number {
  const src = ctx.site.source;
  while (i < end) {
    const ch = src.charCodeAt(i);
    if (ch === 32 || ch === 9 || ch === 10 || ch === 13 || ch === 0x3000 || ch === 0xa0) i++;
    else if (src.startsWith("-- ", i) || (src.startsWith("--", i) && (i + 2 === end || src[i + 2] === "\n"))) {
      const nl = src.indexOf("\n", i);
      i = nl < 0 || nl > end ? end : nl + 1;
    } else if (src.startsWith("/*", i)) {
      const close = src.indexOf("*/", i + 2);
      if (close < 0 || close + 2 > end) throw syntaxError(ctx.site, i, "unterminated /* comment", "*/", "Close the comment with */.");
      i = close + 2;
    } else break;
  }
  return i;
}

/** A number literal at i (a digit, or a dot before one). */
function lexNumber(ctx: CompileCtx, i: number, end: number): Token & { k: "num" } {
  const src = ctx.site.source;
  NUMBER.lastIndex = i;
  const m = NUMBER.exec(src)!;
  const stop = Math.min(end, NUMBER.lastIndex);
  const text = src.slice(i, stop);
  if (stop < end && IDENT_CHAR.test(src[stop]!))
    throw syntaxError(ctx.site, i, `bad token "${text}${src[stop]}"`, "a number or a name", "Names cannot start with a digit; quote text as '…'.");
  const v = Number(text);
  if (!Number.isFinite(v) || m[0].length > 400)
    throw syntaxError(ctx.site, i, "number out of range", "a finite number", "Numbers must fit a double (about 1.8e308).");
  return { k: "num", v, pos: i, end: stop };
}

export function tokenize(ctx: CompileCtx, start: number, end: number): Token[] {
  const src = ctx.site.source;
  const tokens: Token[] = [];
  let i = start;
  while (true) {
    i = skipBlank(ctx, i, end);
    if (i >= end) {
      tokens.push({ k: "eof", pos: end, end });
      return tokens;
    }
    const ch = src[i]!;
    if ((ch >= "0" && ch <= "9") || (ch === "." && i + 1 < end && src[i + 1]! >= "0" && src[i + 1]! <= "9")) {
      const tok = lexNumber(ctx, i, end);
      tokens.push(tok);
      i = tok.end;
      continue;
    }
    if (ch === "'" || ch === '"') {
      const tok = lexString(ctx, i, end);
      tokens.push(tok);
      i = tok.end;
      continue;
    }
    if (ch === "`") {
      const close = src.indexOf("`", i + 1);
      if (close < 0 || close >= end) throw syntaxError(ctx.site, i, "unterminated `name`", "`", "Close the quoted name with a backtick.");
      const name = src.slice(i + 1, close);
      if (!name) throw syntaxError(ctx.site, i, "empty `name`", "a field name", "Write the field name between the backticks.");
      tokens.push({ k: "id", name, path: { text: name, segments: [name], parent: false, maybeParent: false }, simple: false, pos: i, end: close + 1 });
      i = close + 1;
      continue;
    }
    if (ch === "{") {
      const match = matchAt(ctx, i, end);
      if (!match)
        throw syntaxError(
          ctx.site,
          i,
          'bad token "{"',
          "{field}, {{VARIABLE|filter}} or an expression",
          "Placeholders are {field.path} or {{VARIABLE|filter}}; quote literal text as '…'.",
        );
      tokens.push({ k: "ph", ph: match.placeholder, text: match.text, pos: i, end: match.end });
      i = match.end;
      continue;
    }
    IDENT.lastIndex = i;
    const id = IDENT.exec(src);
    if (id && IDENT.lastIndex <= end) {
      const text = id[0];
      const stop = i + text.length;
      if (text.toLowerCase() === "_findcollection") {
        const found = parseFindCollection(ctx, stop, end, true, i);
        tokens.push({ k: "lookup", spec: found.spec, pos: i, end: found.end });
        i = found.end;
        continue;
      }
      const path = parsePath(text);
      if (!path) throw syntaxError(ctx.site, i, `bad name "${text}"`, "a field path", "Field paths use letters, digits and _, joined by . and [n].");
      tokens.push({ k: "id", name: text, path, simple: path.segments.length === 1, pos: i, end: stop });
      i = stop;
      continue;
    }
    const op = OPERATORS.find((o) => src.startsWith(o, i) && i + o.length <= end);
    if (op && op !== "<=>") {
      tokens.push({ k: "op", v: op, pos: i, end: i + op.length });
      i += op.length;
      continue;
    }
    const shown = String.fromCodePoint(src.codePointAt(i)!);
    throw syntaxError(
      ctx.site,
      i,
      `bad token "${shown}"`,
      "an operator, a name, a number or a quoted string",
      op === "<=>" ? "<=> is not supported; use IS NULL / = instead." : "Quote text as '…'; operators are + - * / % = <> != < <= > >= AND OR NOT.",
    );
  }
}

/** A quoted string with backslash and doubled-quote escapes; placeholders inside become parts. */
function lexString(ctx: CompileCtx, start: number, end: number): Token {
  const src = ctx.site.source;
  const quote = src[start]!;
  // Find the closing quote first so placeholders are only searched inside the string.
  let close = -1;
  for (let j = start + 1; j < end; j++) {
    const c = src[j];
    if (c === "\\") j++;
    else if (c === quote) {
      if (src[j + 1] === quote && j + 1 < end) j++;
      else {
        close = j;
        break;
      }
    }
  }
  if (close < 0)
    throw syntaxError(
      ctx.site,
      start,
      "unterminated string",
      quote,
      `Close the string with ${quote}; write ${quote}${quote} or \\${quote} for a quote inside it.`,
    );
  const parts: TemplatePart[] = [];
  let text = "";
  for (let j = start + 1; j < close; j++) {
    const c = src[j]!;
    if (c === "\\") {
      const next = src[++j]!;
      text += Object.hasOwn(ESCAPES, next) ? ESCAPES[next] : next;
    } else if (c === quote) {
      text += quote;
      j++;
    } else if (c === "{") {
      const match = matchAt(ctx, j, close);
      if (!match) {
        text += c;
        continue;
      }
      if (text) parts.push(text);
      text = "";
      parts.push({ placeholder: match.placeholder, index: j, text: match.text });
      j = match.end - 1;
    } else text += c;
  }
  if (text || parts.length === 0) parts.push(text);
  return { k: "str", parts, pos: start, end: close + 1 };
}
