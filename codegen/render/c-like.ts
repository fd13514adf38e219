/**
 * The C-like renderer base (tinygrad's CStyleLanguage): statement structure, operators,
 * indentation and naming are shared; a target subclass supplies only what differs (types,
 * literals, built-ins, barriers, declarations, the kernel signature) and its per-op
 * spellings, as tables. Target quirks are not handled here: they are kernel rewrites
 * (codegen/rewrite.ts) applied before rendering, and a construct a target cannot print fails
 * loudly instead of printing something wrong.
 */
import type { TargetName } from "../target.js";
import type { BinOp, Expr, IdKind, Kernel, MathFn, Scalar, Stmt, UnOp } from "../kernel.js";

export class RenderError extends Error {
  override name = "RenderError";
}

/** How a binary operator is written: an infix symbol, or a call (parenthesised by its own syntax). */
export type BinarySpelling = { readonly infix: string } | { readonly call: (a: string, b: string) => string };

/** Binary operator spellings by operand type. */
export type BinaryTable = { readonly [op in BinOp]: (operandType: Scalar) => BinarySpelling };
/** Unary operator spellings by operand type; the operand comes parenthesised unless atomic. */
export type UnaryTable = { readonly [op in UnOp]: (t: Scalar, x: string) => string };
/** Math function spellings by argument type (a target without a function throws: rewrite first). */
export type MathTable = { readonly [fn in MathFn]: (t: Scalar, args: readonly string[]) => string };

const infix = (symbol: string) => (): BinarySpelling => ({ infix: symbol });

/** C's operators; `&&`/`||` on bool, bitwise on integers. min/max are functions in every C-like language. */
export const C_BINARY: BinaryTable = {
  add: infix("+"), sub: infix("-"), mul: infix("*"), div: infix("/"), rem: infix("%"),
  eq: infix("=="), ne: infix("!="), lt: infix("<"), le: infix("<="), gt: infix(">"), ge: infix(">="),
  shl: infix("<<"), shr: infix(">>"),
  and: (t) => ({ infix: t === "bool" ? "&&" : "&" }),
  or: (t) => ({ infix: t === "bool" ? "||" : "|" }),
  min: () => ({ call: (a, b) => `min(${a}, ${b})` }),
  max: () => ({ call: (a, b) => `max(${a}, ${b})` }),
};

export const C_UNARY: UnaryTable = {
  neg: (_t, x) => `-${x}`,
  not: (t, x) => (t === "bool" ? `!${x}` : `~${x}`),
};

/** A math table entry that calls `name` with the arguments as they are. */
export const callNamed = (name: string) => (_t: Scalar, args: readonly string[]): string => `${name}(${args.join(", ")})`;

/** Shortest decimal that reads back as the same f32 (so literals are exact and short). */
export function f32Decimal(v: number): string {
  const f = Math.fround(v);
  for (let p = 1; p <= 9; p++) {
    const s = f.toPrecision(p);
    if (Math.fround(Number(s)) === f) return normalizeDecimal(s);
  }
  return normalizeDecimal(f.toPrecision(9));
}

function normalizeDecimal(s: string): string {
  const n = Number(s);
  if (Number.isInteger(n) && Math.abs(n) < 1e7) return `${n}.0`;
  // toPrecision may give "1.00e-7": trim trailing zeros in the mantissa.
  const [m, e] = s.split("e") as [string, string | undefined];
  const mant = m.includes(".") ? m.replace(/0+$/, "").replace(/\.$/, ".0") : `${m}.0`;
  return e === undefined ? mant : `${mant}e${Number(e)}`;
}

export abstract class CRenderer {
  abstract readonly target: TargetName;
  protected readonly indentUnit = "  ";
  /** Identifiers a kernel name must not take in this language (renamed with a trailing `_`). */
  protected abstract readonly reserved: ReadonlySet<string>;

  protected abstract type(t: Scalar): string;
  protected abstract literal(t: Scalar, v: number): string;
  protected abstract castExpr(t: Scalar, x: string): string;
  protected abstract bitcastExpr(from: Scalar, t: Scalar, x: string): string;
  protected abstract selectExpr(cond: string, a: string, b: string): string;
  protected abstract readonly binary: BinaryTable;
  protected readonly unary: UnaryTable = C_UNARY;
  protected abstract readonly math: MathTable;
  protected abstract builtinId(kind: IdKind, axis: 0 | 1 | 2): string;
  protected abstract letDecl(name: string, t: Scalar, value: string): string;
  protected abstract varDecl(name: string, t: Scalar, init: string): string;
  protected abstract arrayDecl(name: string, t: Scalar, size: number): string;
  /** A loop's opening line(s); `rolled`: keep the driver's compiler from unrolling it (Stmt "for"). */
  protected abstract forHeader(v: string, start: string, end: string, step: number, rolled: boolean): string;
  protected abstract barrier(): string;
  /** Declaration of a 4-vector loaded by `load4`. */
  protected abstract vec4Decl(name: string, t: Scalar, value: string): string;
  /** A 4-vector built from four values (for `store4`). */
  protected abstract vec4Value(t: Scalar, values: string[]): string;
  /** Element `index` of a shared array of 4-vectors, as an assignable place. */
  protected abstract vec4Element(array: string, t: Scalar, index: string): string;
  /** `x` as evaluated by lane `lane` of the subgroup (kernels with `subgroupSize` only). */
  protected abstract subgroupBroadcast(t: Scalar, x: string, lane: number, subgroupSize: number): string;
  /** `x` from lane `lane`, an expression. */
  protected abstract subgroupShuffle(t: Scalar, x: string, lane: string, subgroupSize: number): string;
  /**
   * An asynchronous copy of `src` (a binding's element or 4-vector) into `dst` (a place in
   * workgroup memory), zeros where `pred` is false; both come rendered as places.
   */
  protected abstract copyAsync(t: Scalar, bytes: 4 | 16, dst: string, src: string, pred: string | undefined): string;
  /** A copy group's commit or wait, or nothing where the target's copies complete at once. */
  protected abstract copyFence(s: Extract<Stmt, { k: "copy_commit" | "copy_wait" }>): string | undefined;
  /** Everything before the body: bindings, shared arrays, the entry-point signature ending in `{`. */
  protected abstract kernelHeader(k: Kernel): string[];

  /** The kernel being rendered (for hooks that depend on it, e.g. its subgroup size). */
  protected kernel: Kernel | undefined;

  render(k: Kernel): string {
    // The body first: rendering it may tell the header what to declare (see `prelude`).
    this.kernel = k;
    this.beginKernel();
    const body: string[] = [];
    this.stmts(k.body, 1, body);
    const lines = [`// ${k.name}: ${k.source}`, ...this.prelude(), ...this.kernelHeader(k), ...body, "}"];
    return lines.join("\n") + "\n";
  }

  /** Resets per-kernel state before rendering a kernel. */
  protected beginKernel(): void {}

  /** Module-scope declarations the body turned out to need. */
  protected prelude(): string[] {
    return [];
  }

  protected ident(name: string): string {
    return this.reserved.has(name) ? `${name}_` : name;
  }

  expr(e: Expr): string {
    switch (e.k) {
      case "const": return this.literal(e.t, e.v);
      case "ref": return this.ident(e.name);
      case "id": return this.builtinId(e.id, e.axis);
      case "load": return `${this.ident(e.name)}[${this.expr(e.index)}]`;
      case "un": return this.unary[e.op](e.t, this.operand(e.a));
      case "bin": {
        const spelling = this.binary[e.op](e.a.t);
        return "infix" in spelling
          ? `${this.operand(e.a)} ${spelling.infix} ${this.operand(e.b)}`
          : spelling.call(this.expr(e.a), this.expr(e.b));
      }
      case "call": return this.math[e.fn](e.args[0]!.t, e.args.map((a) => this.expr(a)));
      case "select": return this.selectExpr(this.expr(e.cond), this.expr(e.a), this.expr(e.b));
      case "cast": return this.castExpr(e.t, this.expr(e.a));
      case "bitcast": return this.bitcastExpr(e.a.t, e.t, this.expr(e.a));
      case "component": return `${this.ident(e.vec)}.${"xyzw"[e.c]}`;
      case "broadcast": {
        const sg = this.kernel?.subgroupSize;
        if (!sg) throw new RenderError(`kernel ${this.kernel?.name} broadcasts across a subgroup but declares no subgroupSize`);
        return this.subgroupBroadcast(e.t, this.expr(e.a), e.lane, sg);
      }
      case "shuffle": {
        const sg = this.kernel?.subgroupSize;
        if (!sg) throw new RenderError(`kernel ${this.kernel?.name} shuffles across a subgroup but declares no subgroupSize`);
        return this.subgroupShuffle(e.t, this.expr(e.a), this.expr(e.lane), sg);
      }
      default: return e satisfies never;
    }
  }

  /** An operand of an operator: parenthesised unless it is atomic. */
  private operand(e: Expr): string {
    const s = this.expr(e);
    const compound = e.k === "un" || (e.k === "bin" && "infix" in this.binary[e.op](e.a.t));
    return compound ? `(${s})` : s;
  }

  /** Where an async copy writes, after checking that its arrays have the width its size needs. */
  private copyDestination(s: Extract<Stmt, { k: "copy_async" }>): string {
    const k = this.kernel!;
    const dst = k.shared.find((a) => a.name === s.dst), src = k.bindings.find((b) => b.name === s.src);
    const vector = s.bytes === 16;
    const fits = dst && src && (vector ? dst.width === 4 && src.width === 4 : src.width !== 4);
    if (!fits)
      throw new RenderError(`kernel ${k.name} copies ${s.bytes} bytes from '${s.src}' to '${s.dst}': a 16-byte copy needs a 4-vector binding and shared array, a 4-byte one a scalar binding`);
    const index = this.expr(s.dstIndex), name = this.ident(s.dst);
    return !vector && dst!.width === 4 ? this.vec4Element(name, s.t, index) : `${name}[${index}]`;
  }

  protected stmts(ss: readonly Stmt[], depth: number, out: string[]): void {
    for (const s of ss) this.stmt(s, depth, out);
  }

  protected stmt(s: Stmt, depth: number, out: string[]): void {
    const pad = this.indentUnit.repeat(depth);
    switch (s.k) {
      case "let": out.push(pad + this.letDecl(this.ident(s.name), s.value.t, this.expr(s.value))); return;
      case "var": out.push(pad + this.varDecl(this.ident(s.name), s.t, this.expr(s.init))); return;
      case "assign": out.push(`${pad}${this.ident(s.name)} = ${this.expr(s.value)};`); return;
      case "array": out.push(pad + this.arrayDecl(this.ident(s.name), s.t, s.size)); return;
      case "store": {
        const at = s.element ? this.vec4Element(this.ident(s.name), s.value.t, this.expr(s.index)) : `${this.ident(s.name)}[${this.expr(s.index)}]`;
        out.push(`${pad}${at} = ${this.expr(s.value)};`);
        return;
      }
      case "load4": out.push(pad + this.vec4Decl(this.ident(s.name), s.t, `${this.ident(s.buffer)}[${this.expr(s.index)}]`)); return;
      case "store4":
        out.push(`${pad}${this.ident(s.buffer)}[${this.expr(s.index)}] = ${this.vec4Value(s.values[0].t, s.values.map((v) => this.expr(v)))};`);
        return;
      case "copy_async": out.push(pad + this.copyAsync(s.t, s.bytes, this.copyDestination(s), `${this.ident(s.src)}[${this.expr(s.srcIndex)}]`, s.pred && this.expr(s.pred))); return;
      case "copy_commit": case "copy_wait": {
        const line = this.copyFence(s);
        if (line) out.push(pad + line);
        return;
      }
      case "for":
        for (const line of this.forHeader(this.ident(s.v), this.expr(s.start), this.expr(s.end), s.step, !!s.rolled).split("\n")) out.push(pad + line);
        this.stmts(s.body, depth + 1, out);
        out.push(pad + "}");
        return;
      case "if":
        out.push(`${pad}if (${this.expr(s.cond)}) {`);
        this.stmts(s.then, depth + 1, out);
        if (s.else.length) {
          out.push(`${pad}} else {`);
          this.stmts(s.else, depth + 1, out);
        }
        out.push(pad + "}");
        return;
      case "barrier": out.push(pad + this.barrier()); return;
      case "return": out.push(pad + "return;"); return;
      case "comment": out.push(`${pad}// ${s.text}`); return;
      default: s satisfies never;
    }
  }
}
