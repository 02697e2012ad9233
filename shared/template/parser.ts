/**
 * Pratt parser for the MySQL-flavoured expression language. Precedence, loosest first:
 *   OR ||  <  XOR  <  AND &&  <  NOT  <  = <> != < <= > >= IS LIKE IN BETWEEN  <  + -  <  * / % DIV MOD  <  unary - ! +
 * Keywords and function names are case-insensitive; a name followed by `(` (spaces allowed, as in
 * seed 000's `REPLACE ('…')`) is a function call, any other name is a record field.
 */
import { MAX_DEPTH, MAX_HEIGHT, syntaxError, type CompileCtx } from "./context.ts";
import { INTERVAL_UNITS, type IntervalUnit } from "./dates.ts";
import { FUNCTIONS, functionNames } from "./functions.ts";
import { tokenize, type Token } from "./lexer.ts";
import type { LookupSpec } from "./lookup.ts";
import type { FieldPath } from "./paths.ts";
import type { PlaceholderPart, TemplatePart } from "./template.ts";
import { suggest, type Placeholder } from "./variables.ts";

export type CastType = "CHAR" | "SIGNED" | "UNSIGNED" | "DECIMAL" | "DATE" | "DATETIME";

export type Node = { pos: number; h: number } & (
  | { t: "lit"; v: null | number | string | boolean }
  | { t: "field"; path: FieldPath }
  | { t: "ph"; ph: Placeholder; text: string }
  | { t: "str"; parts: TemplatePart[] }
  | { t: "neg" | "pos" | "not"; arg: Node }
  | { t: "bin"; op: string; l: Node; r: Node }
  | { t: "is"; arg: Node; not: boolean; what: "NULL" | "TRUE" | "FALSE" }
  | { t: "in"; arg: Node; list: Node[]; not: boolean }
  | { t: "between"; arg: Node; lo: Node; hi: Node; not: boolean }
  | { t: "like"; arg: Node; pattern: Node; not: boolean }
  | { t: "case"; subject: Node | null; whens: [Node, Node][]; otherwise: Node | null }
  | { t: "call"; name: string; args: Node[] }
  | { t: "cast"; arg: Node; to: CastType; scale: number }
  | { t: "interval"; amount: Node; unit: IntervalUnit }
  | { t: "lookup"; spec: LookupSpec }
);

type NodeBody = Node extends infer N ? (N extends Node ? Omit<N, "pos" | "h"> : never) : never;

const RESERVED = new Set([
  "AND",
  "OR",
  "XOR",
  "NOT",
  "IS",
  "IN",
  "LIKE",
  "BETWEEN",
  "CASE",
  "WHEN",
  "THEN",
  "ELSE",
  "END",
  "NULL",
  "TRUE",
  "FALSE",
  "DIV",
  "INTERVAL",
  "AS",
]);

const COMPARISONS = new Set(["=", "<>", "!=", "<", "<=", ">", ">="]);

const BP = { OR: 10, XOR: 20, AND: 30, NOT: 40, CMP: 50, ADD: 60, MUL: 70, UNARY: 80 };

const CAST_TYPES = new Set<string>(["CHAR", "SIGNED", "UNSIGNED", "DECIMAL", "DATE", "DATETIME"]);

export function parseExpression(ctx: CompileCtx, start: number, end: number): Node {
  return new Parser(ctx, tokenize(ctx, start, end)).parseAll();
}

class Parser {
  private readonly ctx: CompileCtx;
  private readonly tokens: Token[];
  private at = 0;
  private depth = 0;

  constructor(ctx: CompileCtx, tokens: Token[]) {
    this.ctx = ctx;
    this.tokens = tokens;
  }

  parseAll(): Node {
    const first = this.peek();
    if (first.k === "eof")
      throw this.error(first, "empty expression", "an expression", "Write an expression after _function, e.g. _function CONCAT(io_id, '-', so_id).");
    const node = this.expr(0);
    const rest = this.peek();
    if (rest.k !== "eof")
      throw this.error(rest, `unexpected ${describe(rest)}`, "an operator or the end of the expression", "Check for a missing operator, comma or parenthesis.");
    return node;
  }

  // ---- token helpers ----

  private peek(): Token {
    return this.tokens[this.at]!;
  }

  private next(): Token {
    const t = this.tokens[this.at]!;
    if (t.k !== "eof") this.at++;
    return t;
  }

  private keyword(t: Token): string | null {
    return t.k === "id" && t.simple ? t.name.toUpperCase() : null;
  }

  private isKeyword(t: Token, word: string): boolean {
    return this.keyword(t) === word;
  }

  private isOp(t: Token, op: string): boolean {
    return t.k === "op" && t.v === op;
  }

  private expectOp(op: string, what: string): Token {
    const t = this.next();
    if (!this.isOp(t, op)) throw this.error(t, `expected "${op}" ${what}, found ${describe(t)}`, op, `Add "${op}" ${what}, or check the operators before it.`);
    return t;
  }

  private expectKeyword(word: string, what: string): Token {
    const t = this.next();
    if (!this.isKeyword(t, word)) throw this.error(t, `expected ${word} ${what}, found ${describe(t)}`, word, `Add ${word} ${what}.`);
    return t;
  }

  private error(t: Token, message: string, expected: string, hint: string) {
    return syntaxError(this.ctx.site, t.pos, message, expected, hint);
  }

  private node(pos: number, body: NodeBody, ...children: (Node | null | undefined)[]): Node {
    let h = 0;
    for (const c of children) if (c && c.h > h) h = c.h;
    if (h + 1 > MAX_HEIGHT)
      throw syntaxError(
        this.ctx.site,
        pos,
        `expression too deep (more than ${MAX_HEIGHT} levels)`,
        "a shorter expression",
        "Split the expression or aggregate with SUM(items, expr).",
      );
    return { ...body, pos, h: h + 1 } as Node;
  }

  // ---- expressions ----

  private expr(minBp: number): Node {
    if (++this.depth > MAX_DEPTH) {
      throw this.error(this.peek(), `nesting deeper than ${MAX_DEPTH} levels`, "a flatter expression", "Reduce the nesting of parentheses, functions and NOT.");
    }
    let left = this.prefix();
    for (;;) {
      const t = this.peek();
      const bp = this.infixPower(t);
      if (bp <= minBp) break;
      left = this.infix(left, bp);
    }
    this.depth--;
    return left;
  }

  private infixPower(t: Token): number {
    if (t.k === "op") {
      switch (t.v) {
        case "||":
          return BP.OR;
        case "&&":
          return BP.AND;
        case "+":
        case "-":
          return BP.ADD;
        case "*":
        case "/":
        case "%":
          return BP.MUL;
        default:
          return COMPARISONS.has(t.v) ? BP.CMP : 0;
      }
    }
    switch (this.keyword(t)) {
      case "OR":
        return BP.OR;
      case "XOR":
        return BP.XOR;
      case "AND":
        return BP.AND;
      case "IS":
      case "IN":
      case "LIKE":
      case "BETWEEN":
        return BP.CMP;
      case "NOT": {
        const after = this.tokens[this.at + 1];
        const k = after ? this.keyword(after) : null;
        return k === "IN" || k === "LIKE" || k === "BETWEEN" ? BP.CMP : 0;
      }
      case "DIV":
      case "MOD":
        return BP.MUL;
      default:
        return 0;
    }
  }

  private infix(left: Node, bp: number): Node {
    const t = this.next();
    const pos = t.pos;
    if (t.k === "op") {
      const op = t.v === "||" ? "OR" : t.v === "&&" ? "AND" : t.v === "!=" ? "<>" : t.v;
      const right = this.expr(bp);
      if (right.t === "interval" && op !== "+" && op !== "-")
        throw this.error(
          t,
          "INTERVAL can only be added to or subtracted from a date",
          "+ or -",
          "Write date + INTERVAL n DAY or DATE_ADD(date, INTERVAL n DAY).",
        );
      return this.node(pos, { t: "bin", op, l: left, r: right }, left, right);
    }
    const word = this.keyword(t)!;
    switch (word) {
      case "OR":
      case "XOR":
      case "AND":
      case "DIV":
      case "MOD": {
        const right = this.expr(bp);
        return this.node(pos, { t: "bin", op: word === "MOD" ? "%" : word, l: left, r: right }, left, right);
      }
      case "IS": {
        const not = this.isKeyword(this.peek(), "NOT");
        if (not) this.next();
        const what = this.next();
        const k = this.keyword(what);
        if (k !== "NULL" && k !== "TRUE" && k !== "FALSE")
          throw this.error(
            what,
            `expected NULL, TRUE or FALSE after IS${not ? " NOT" : ""}`,
            "NULL",
            "Write x IS NULL, x IS NOT NULL, x IS TRUE or x IS FALSE; compare values with =.",
          );
        return this.node(pos, { t: "is", arg: left, not, what: k }, left);
      }
      case "NOT": {
        const op = this.keyword(this.next())!;
        return this.comparisonKeyword(op, left, true, pos);
      }
      default:
        return this.comparisonKeyword(word, left, false, pos);
    }
  }

  private comparisonKeyword(word: string, left: Node, not: boolean, pos: number): Node {
    if (word === "IN") {
      this.expectOp("(", "after IN");
      const list = this.list(")");
      if (list.length === 0) throw this.error(this.tokens[this.at - 1]!, "IN needs at least one value", "a value", "Write x IN (a, b, …).");
      return this.node(pos, { t: "in", arg: left, list, not }, left, ...list);
    }
    if (word === "LIKE") {
      const pattern = this.expr(BP.CMP);
      return this.node(pos, { t: "like", arg: left, pattern, not }, left, pattern);
    }
    // BETWEEN lo AND hi: the bounds bind tighter than AND.
    const lo = this.expr(BP.CMP);
    this.expectKeyword("AND", "in BETWEEN … AND …");
    const hi = this.expr(BP.CMP);
    return this.node(pos, { t: "between", arg: left, lo, hi, not }, left, lo, hi);
  }

  /** Comma-separated expressions up to `close` (consumed). */
  private list(close: string): Node[] {
    const items: Node[] = [];
    if (this.isOp(this.peek(), close)) {
      this.next();
      return items;
    }
    for (;;) {
      items.push(this.expr(0));
      const t = this.next();
      if (this.isOp(t, close)) return items;
      if (!this.isOp(t, ","))
        throw this.error(t, `expected "," or "${close}", found ${describe(t)}`, `, or ${close}`, "Separate arguments with commas and close the parenthesis.");
    }
  }

  private prefix(): Node {
    const t = this.next();
    const pos = t.pos;
    switch (t.k) {
      case "num":
        return this.node(pos, { t: "lit", v: t.v });
      case "str":
        return this.node(pos, { t: "str", parts: t.parts });
      case "ph":
        return this.node(pos, { t: "ph", ph: t.ph, text: t.text });
      case "lookup":
        return this.node(pos, { t: "lookup", spec: t.spec });
      case "eof":
        throw this.error(t, "unexpected end of expression", "a value", "The expression stops too early: complete the last operand or close the parenthesis.");
      case "op":
        switch (t.v) {
          case "(": {
            const inner = this.expr(0);
            this.expectOp(")", "to close the parenthesis");
            return inner;
          }
          case "-": {
            const arg = this.expr(BP.UNARY);
            if (arg.t === "lit" && typeof arg.v === "number") return this.node(pos, { t: "lit", v: arg.v === 0 ? 0 : -arg.v });
            return this.node(pos, { t: "neg", arg }, arg);
          }
          case "+": {
            const arg = this.expr(BP.UNARY);
            return this.node(pos, { t: "pos", arg }, arg);
          }
          case "!": {
            const arg = this.expr(BP.UNARY);
            return this.node(pos, { t: "not", arg }, arg);
          }
          default:
            throw this.error(t, `unexpected "${t.v}"`, "a value", "An operand is missing before this operator.");
        }
      case "id":
        return this.name(t);
    }
  }

  private name(t: Extract<Token, { k: "id" }>): Node {
    const pos = t.pos;
    const word = this.keyword(t);
    if (word !== null) {
      switch (word) {
        case "NULL":
          return this.node(pos, { t: "lit", v: null });
        case "TRUE":
          return this.node(pos, { t: "lit", v: true });
        case "FALSE":
          return this.node(pos, { t: "lit", v: false });
        case "NOT": {
          const arg = this.expr(BP.NOT);
          return this.node(pos, { t: "not", arg }, arg);
        }
        case "CASE":
          return this.caseExpr(pos);
        case "INTERVAL":
          return this.interval(pos);
        default:
          break;
      }
      if (this.isOp(this.peek(), "(")) return this.call(t, word);
      if (RESERVED.has(word))
        throw this.error(t, `unexpected keyword ${word}`, "a value", "An operand is missing, or quote the word as text '…' / `name` for a field.");
    }
    return this.node(pos, { t: "field", path: t.path });
  }

  private caseExpr(pos: number): Node {
    let subject: Node | null = null;
    if (!this.isKeyword(this.peek(), "WHEN")) subject = this.expr(0);
    const whens: [Node, Node][] = [];
    const children: Node[] = subject ? [subject] : [];
    while (this.isKeyword(this.peek(), "WHEN")) {
      this.next();
      const when = this.expr(0);
      this.expectKeyword("THEN", "after WHEN …");
      const then = this.expr(0);
      whens.push([when, then]);
      children.push(when, then);
    }
    if (whens.length === 0)
      throw this.error(this.peek(), "CASE needs at least one WHEN … THEN …", "WHEN", "Write CASE WHEN condition THEN value [ELSE value] END.");
    let otherwise: Node | null = null;
    if (this.isKeyword(this.peek(), "ELSE")) {
      this.next();
      otherwise = this.expr(0);
      children.push(otherwise);
    }
    this.expectKeyword("END", "to close CASE");
    return this.node(pos, { t: "case", subject, whens, otherwise }, ...children);
  }

  private interval(pos: number): Node {
    const amount = this.expr(0);
    const unitTok = this.next();
    const unit = this.keyword(unitTok);
    if (!unit || !INTERVAL_UNITS.has(unit)) {
      throw this.error(
        unitTok,
        `expected an interval unit, found ${describe(unitTok)}`,
        [...INTERVAL_UNITS].join(" | "),
        "Write INTERVAL n DAY (or SECOND, MINUTE, HOUR, WEEK, MONTH, QUARTER, YEAR).",
      );
    }
    return this.node(pos, { t: "interval", amount, unit: unit as IntervalUnit }, amount);
  }

  private call(t: Extract<Token, { k: "id" }>, name: string): Node {
    const pos = t.pos;
    this.next(); // (
    if (name === "CAST") return this.cast(pos);
    const spec = Object.hasOwn(FUNCTIONS, name) ? FUNCTIONS[name] : undefined;
    if (!spec) {
      const guess = suggest(name, functionNames()).trim();
      throw this.error(t, `unknown function ${t.name}`, "a known function", `${guess ? `${guess} ` : ""}Known functions: ${functionNames().join(", ")}.`);
    }
    if (++this.depth > MAX_DEPTH)
      throw this.error(t, `nesting deeper than ${MAX_DEPTH} levels`, "a flatter expression", "Reduce the nesting of parentheses, functions and NOT.");
    const args = this.list(")");
    this.depth--;
    if (args.length < spec.min || args.length > spec.max) {
      const arity = spec.min === spec.max ? `${spec.min}` : spec.max === Infinity ? `at least ${spec.min}` : `${spec.min} to ${spec.max}`;
      throw this.error(
        t,
        `${name} takes ${arity} argument${spec.min === 1 && spec.max === 1 ? "" : "s"}, got ${args.length}`,
        `${arity} arguments`,
        `Usage: ${spec.usage ?? usage(name, spec.min, spec.max)}`,
      );
    }
    args.forEach((a, i) => {
      if (a.t === "interval" && !(spec.interval && i === 1))
        throw syntaxError(
          this.ctx.site,
          a.pos,
          `INTERVAL is not allowed as argument ${i + 1} of ${name}`,
          "a value",
          "Use INTERVAL in DATE_ADD / DATE_SUB or as date + INTERVAL n DAY.",
        );
    });
    return this.node(pos, { t: "call", name, args }, ...args);
  }

  private cast(pos: number): Node {
    const arg = this.expr(0);
    this.expectKeyword("AS", "in CAST(x AS type)");
    const typeTok = this.next();
    const type = this.keyword(typeTok);
    if (!type || !CAST_TYPES.has(type))
      throw this.error(
        typeTok,
        `unknown CAST type ${describe(typeTok)}`,
        [...CAST_TYPES].join(" | "),
        "Cast to CHAR, SIGNED, UNSIGNED, DECIMAL(p,s), DATE or DATETIME.",
      );
    let scale = 0;
    if ((type === "SIGNED" || type === "UNSIGNED") && this.isKeyword(this.peek(), "INTEGER")) this.next();
    if ((type === "DECIMAL" || type === "CHAR") && this.isOp(this.peek(), "(")) {
      this.next();
      const p = this.next();
      if (p.k !== "num" || !Number.isInteger(p.v))
        throw this.error(p, "expected a whole number", "a precision", "Write DECIMAL(precision, scale), e.g. DECIMAL(18, 2).");
      if (this.isOp(this.peek(), ",")) {
        this.next();
        const s = this.next();
        if (s.k !== "num" || !Number.isInteger(s.v) || s.v > 30)
          throw this.error(s, "expected a scale from 0 to 30", "a scale", "Write DECIMAL(precision, scale), e.g. DECIMAL(18, 2).");
        scale = s.v;
      }
      this.expectOp(")", "to close the type");
    }
    this.expectOp(")", "to close CAST");
    return this.node(pos, { t: "cast", arg, to: type as CastType, scale }, arg);
  }
}

function usage(name: string, min: number, max: number): string {
  const names = ["x", "y", "z"];
  const args = Array.from({ length: Math.min(min, 3) }, (_, i) => names[i]!);
  if (max > min) args.push(max === Infinity ? "…" : `[${names.slice(min, max).join(", ")}]`);
  return `${name}(${args.join(", ")})`;
}

/** Leftmost source index of an expression (binary nodes sit at their operator). */
export function startOf(node: Node): number {
  let n = node;
  for (;;) {
    if (n.t === "bin") n = n.l;
    else if (n.t === "is" || n.t === "in" || n.t === "between" || n.t === "like") n = n.arg;
    else return n.pos;
  }
}

function describe(t: Token): string {
  switch (t.k) {
    case "eof":
      return "the end of the expression";
    case "num":
      return `number ${t.v}`;
    case "str":
      return "a string";
    case "ph":
      return t.text;
    case "id":
      return `"${t.name}"`;
    case "op":
      return `"${t.v}"`;
    case "lookup":
      return "_findCollection";
  }
}

export type { PlaceholderPart };
