/**
 * Kernel IR: a small, target-neutral description of one GPU kernel. Expressions are pure
 * trees over scalars; statements add named values, mutable locals, loops, branches, memory
 * and barriers. Nothing here is WGSL or CUDA: renderers (codegen/render/) print it, and
 * target quirks (no erf in WGSL, bool stored as a word) are rewrites (codegen/rewrite.ts)
 * applied before rendering.
 */
import type { DType } from "../ir/dtype.js";
import { type Doc, block, render } from "../ir/pretty.js";

/** Scalar types inside a kernel. */
export type Scalar = "f32" | "i32" | "u32" | "bool";

export type BinOp =
  | "add" | "sub" | "mul" | "div" | "rem" | "min" | "max"
  | "eq" | "ne" | "lt" | "le" | "gt" | "ge"
  | "and" | "or" | "shl" | "shr";
export type UnOp = "neg" | "not";
/** Math functions by neutral name; a target without one gets a rewrite. */
export type MathFn =
  | "exp" | "exp2" | "expm1" | "log" | "sin" | "cos" | "tanh" | "sqrt" | "rsqrt" | "erf" | "atan2"
  | "floor" | "ceil" | "round_even" | "abs" | "sign" | "pow" | "isnan"
  /** fma(a, b, c) = a·b + c with one rounding (f32 only). */
  | "fma";
/** Built-in ids, one u32 per axis; `subgroup_lane` (axis 0 only) is the invocation's index in its subgroup. */
export type IdKind = "local" | "group" | "num_groups" | "subgroup_lane";
/** Memory spaces: bound buffers, workgroup (shared) arrays, per-invocation arrays. */
export type Space = "global" | "workgroup" | "private";

export type Expr =
  | { readonly k: "const"; readonly t: Scalar; readonly v: number }
  | { readonly k: "ref"; readonly t: Scalar; readonly name: string }
  | { readonly k: "id"; readonly t: "u32"; readonly id: IdKind; readonly axis: 0 | 1 | 2 }
  | { readonly k: "load"; readonly t: Scalar; readonly space: Space; readonly name: string; readonly index: Expr }
  | { readonly k: "un"; readonly t: Scalar; readonly op: UnOp; readonly a: Expr }
  | { readonly k: "bin"; readonly t: Scalar; readonly op: BinOp; readonly a: Expr; readonly b: Expr }
  | { readonly k: "call"; readonly t: Scalar; readonly fn: MathFn; readonly args: readonly Expr[] }
  | { readonly k: "select"; readonly t: Scalar; readonly cond: Expr; readonly a: Expr; readonly b: Expr }
  | { readonly k: "cast"; readonly t: Scalar; readonly a: Expr }
  /** Reinterpret the 32 bits of `a` as type t (used by rewrites, e.g. NaN tests). */
  | { readonly k: "bitcast"; readonly t: Scalar; readonly a: Expr }
  /** Component c (0..3) of a 4-vector named by a `load4` statement. */
  | { readonly k: "component"; readonly t: Scalar; readonly vec: string; readonly c: 0 | 1 | 2 | 3 }
  /**
   * `a` as evaluated by lane `lane` of this subgroup (a constant), for every lane: a register
   * exchange, no memory. Only in kernels that declare `subgroupSize`.
   */
  | { readonly k: "broadcast"; readonly t: Scalar; readonly a: Expr; readonly lane: number }
  /**
   * `a` as evaluated by lane `lane` of this subgroup, `lane` a u32 expression that may differ
   * by lane or iteration (a rolled loop over lanes): WGSL's subgroupShuffle, CUDA's __shfl_sync.
   */
  | { readonly k: "shuffle"; readonly t: Scalar; readonly a: Expr; readonly lane: Expr };

export type Stmt =
  | { readonly k: "let"; readonly name: string; readonly value: Expr }
  | { readonly k: "var"; readonly name: string; readonly t: Scalar; readonly init: Expr }
  | { readonly k: "assign"; readonly name: string; readonly value: Expr }
  | { readonly k: "array"; readonly name: string; readonly t: Scalar; readonly size: number }
  /**
   * `element`: a scalar store into a shared array of 4-vectors (`width: 4`), `index`
   * counting elements (entry index / 4, component index % 4).
   */
  | { readonly k: "store"; readonly space: Space; readonly name: string; readonly index: Expr; readonly value: Expr; readonly element?: true }
  /**
   * One 16-byte load of four consecutive elements from a binding or shared array declared
   * with `width: 4`; `index` counts 4-vectors. Its components are read with `component`
   * expressions.
   */
  | { readonly k: "load4"; readonly name: string; readonly t: Scalar; readonly buffer: string; readonly index: Expr }
  /** One 16-byte store of four values to a binding or shared array declared with `width: 4`; `index` counts 4-vectors. */
  | { readonly k: "store4"; readonly buffer: string; readonly index: Expr; readonly values: readonly [Expr, Expr, Expr, Expr] }
  /**
   * An asynchronous copy from binding `src` into shared array `dst` that passes through no
   * register (CUDA's cp.async, sm_80+): 16 bytes, one 4-vector (both arrays declared with
   * width 4, indices counting 4-vectors), or 4 bytes, one element (indices counting elements,
   * of a 4-vector shared array as element stores count them). Where `pred` is false nothing
   * is read and zeros are written. The copy is complete after a `copy_wait` that leaves its
   * group no longer pending, and visible to other invocations after a barrier that follows.
   */
  | {
    readonly k: "copy_async"; readonly t: Scalar; readonly bytes: 4 | 16;
    readonly dst: string; readonly dstIndex: Expr; readonly src: string; readonly srcIndex: Expr; readonly pred?: Expr;
  }
  /** Closes the group of this invocation's async copies issued since the last commit. */
  | { readonly k: "copy_commit" }
  /** Waits until at most `pending` of this invocation's committed copy groups are incomplete. */
  | { readonly k: "copy_wait"; readonly pending: number }
  /**
   * for (v = start; v < end; v += step), v: u32. `rolled`: the driver's compiler must not
   * unroll it, because its body is large and its trip count a small constant (a matmul
   * epilogue over 32 rows): fully unrolled, such a loop cost LLVM (lavapipe) 20 s (issue 13).
   */
  | { readonly k: "for"; readonly v: string; readonly start: Expr; readonly end: Expr; readonly step: number; readonly body: readonly Stmt[]; readonly rolled?: true }
  | { readonly k: "if"; readonly cond: Expr; readonly then: readonly Stmt[]; readonly else: readonly Stmt[] }
  | { readonly k: "barrier" }
  | { readonly k: "return" }
  | { readonly k: "comment"; readonly text: string };

export type Access = "read" | "read_write";

export interface Binding {
  readonly name: string;
  readonly dtype: DType;
  readonly access: Access;
  /**
   * Elements per array entry: 4 binds the buffer as an array of 4-vectors (WGSL
   * `array<vec4<f32>>`, CUDA `float4*`), read and written only by load4/store4. Vector
   * loads are what make a CPU adapter fast: lavapipe pays per invocation per load, not per byte.
   */
  readonly width?: 1 | 4;
}

export interface SharedArray {
  readonly name: string;
  readonly t: Scalar;
  /** Entries: elements, or 4-vectors when `width` is 4. */
  readonly size: number;
  /** 4: an array of 4-vectors, read by load4 (one 128-bit shared load) and written by store4 or component stores. */
  readonly width?: 1 | 4;
}

export interface Kernel {
  readonly name: string;
  /** The IR node text the kernel came from (printed as a comment). */
  readonly source: string;
  readonly bindings: readonly Binding[];
  readonly workgroupSize: readonly [number, number, number];
  /** Workgroups per dimension of the launch. */
  readonly grid: readonly [number, number, number];
  readonly shared: readonly SharedArray[];
  readonly body: readonly Stmt[];
  /**
   * The subgroup size the kernel was written for, when it uses subgroup operations
   * (`broadcast`, the `subgroup_lane` id). Its workgroup must then be exactly one subgroup
   * or a whole number of them; renderers enable the language feature it needs.
   */
  readonly subgroupSize?: number;
  /**
   * The kernel's contraction work in FLOPs, 2 per multiply-add of its matrix or attention
   * products (what matmul benchmarks count; elementwise work is not counted), where it has
   * any: only the rows a grouped matmul's tokens use, not its padding.
   */
  readonly flops?: number;
  /**
   * Workgroups the kernel is written to keep resident on one multiprocessor. CUDA passes it
   * to __launch_bounds__, which then caps each invocation's registers so that many fit
   * (ptxas otherwise may take a few registers more and halve them); WGSL has no such hint.
   */
  readonly minResidentWorkgroups?: number;
  /**
   * Forms of this kernel an autotuner may time in its place (runtime/autotune.ts), set only
   * when lowering for a target with `autotune`: the same bindings and result, another tiling
   * (grids and binding widths may differ). The first is the kernel itself, as lowered
   * without autotuning.
   */
  readonly candidates?: readonly KernelCandidate[];
  /** What the autotuner chose for this kernel (`smelt kernels` prints it). */
  readonly tuned?: TunedChoice;
}

/** One tiling of a tunable kernel, named for listings ("32×32 tile"). */
export interface KernelCandidate {
  readonly label: string;
  readonly kernel: Kernel;
}

/** An autotuner's choice for one kernel: the winner, each candidate's median time, and whether it was measured now or read from the store. */
export interface TunedChoice {
  readonly winner: string;
  readonly times: readonly { readonly label: string; readonly ms: number }[];
  readonly from: "measured" | "stored";
}

// ---------------------------------------------------------------------------
// expression constructors (type-checked, so a lowering bug fails at build time)

export class KernelIRError extends Error {
  override name = "KernelIRError";
}

function check(cond: boolean, msg: () => string): void {
  if (!cond) throw new KernelIRError(msg());
}

export const lit = (t: Scalar, v: number | boolean): Expr => ({ k: "const", t, v: typeof v === "boolean" ? Number(v) : v });
export const u32 = (v: number): Expr => {
  check(Number.isInteger(v) && v >= 0 && v < 2 ** 32, () => `u32 literal ${v} is out of range`);
  return lit("u32", v);
};
export const i32 = (v: number): Expr => {
  check(Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31, () => `i32 literal ${v} is out of range`);
  return lit("i32", v);
};
export const f32 = (v: number): Expr => lit("f32", Math.fround(v));
export const bool = (v: boolean): Expr => lit("bool", v);
export const ref = (t: Scalar, name: string): Expr => ({ k: "ref", t, name });
export const id = (kind: IdKind, axis: 0 | 1 | 2 = 0): Expr => ({ k: "id", t: "u32", id: kind, axis });

const COMPARES: ReadonlySet<BinOp> = new Set(["eq", "ne", "lt", "le", "gt", "ge"]);

export function bin(op: BinOp, a: Expr, b: Expr): Expr {
  if (op === "shl" || op === "shr") {
    check(b.t === "u32", () => `${op} needs a u32 shift amount, got ${b.t}`);
    return { k: "bin", t: a.t, op, a, b };
  }
  check(a.t === b.t, () => `${op} on mismatched types ${a.t} and ${b.t}`);
  if (op === "and" || op === "or") check(a.t !== "f32", () => `${op} is not defined on f32`);
  return { k: "bin", t: COMPARES.has(op) ? "bool" : a.t, op, a, b };
}

export const add = (a: Expr, b: Expr) => bin("add", a, b);
export const sub = (a: Expr, b: Expr) => bin("sub", a, b);
export const mul = (a: Expr, b: Expr) => bin("mul", a, b);
export const div = (a: Expr, b: Expr) => bin("div", a, b);
export const rem = (a: Expr, b: Expr) => bin("rem", a, b);
export const lt = (a: Expr, b: Expr) => bin("lt", a, b);
export const ge = (a: Expr, b: Expr) => bin("ge", a, b);
export const eq = (a: Expr, b: Expr) => bin("eq", a, b);
export const and = (a: Expr, b: Expr) => bin("and", a, b);

export function un(op: UnOp, a: Expr): Expr {
  return { k: "un", t: a.t, op, a };
}

export function call(fn: MathFn, ...args: Expr[]): Expr {
  check(args.length > 0, () => `${fn} needs arguments`);
  for (const x of args) check(x.t === args[0]!.t, () => `${fn} on mismatched types`);
  return { k: "call", t: fn === "isnan" ? "bool" : args[0]!.t, fn, args };
}

export function select(cond: Expr, a: Expr, b: Expr): Expr {
  check(cond.t === "bool", () => `select condition must be bool, got ${cond.t}`);
  check(a.t === b.t, () => `select arms differ: ${a.t} vs ${b.t}`);
  return { k: "select", t: a.t, cond, a, b };
}

export function cast(t: Scalar, a: Expr): Expr {
  if (a.t === t) return a;
  if (a.k === "const" && t !== "bool" && a.t !== "bool" && t !== "f32" && Number.isInteger(a.v) && a.v >= 0 && a.v < 2 ** 31)
    return lit(t, a.v);
  return { k: "cast", t, a };
}

export const component = (t: Scalar, vec: string, c: 0 | 1 | 2 | 3): Expr => ({ k: "component", t, vec, c });

export function broadcast(a: Expr, lane: number): Expr {
  check(Number.isInteger(lane) && lane >= 0, () => `subgroup broadcast needs a constant lane, got ${lane}`);
  return { k: "broadcast", t: a.t, a, lane };
}

export function shuffle(a: Expr, lane: Expr): Expr {
  check(lane.t === "u32", () => `subgroup shuffle needs a u32 lane, got ${lane.t}`);
  return { k: "shuffle", t: a.t, a, lane };
}

export const load = (t: Scalar, name: string, index: Expr, space: Space = "global"): Expr => {
  check(index.t === "u32", () => `index into ${name} must be u32, got ${index.t}`);
  return { k: "load", t, space, name, index };
};

/**
 * u32 arithmetic folded on constants, so index math stays readable: `i * 1u`, `x + 0u` and
 * `i / 1u` disappear, and products of constants are computed here.
 */
export function iadd(a: Expr, b: Expr): Expr {
  if (isConst(a, 0)) return b;
  if (isConst(b, 0)) return a;
  if (a.k === "const" && b.k === "const") return u32(a.v + b.v);
  return add(a, b);
}
export function isub(a: Expr, b: Expr): Expr {
  if (isConst(b, 0)) return a;
  if (a.k === "const" && b.k === "const") return u32(a.v - b.v);
  return sub(a, b);
}
export function imul(a: Expr, b: Expr): Expr {
  if (isConst(a, 0) || isConst(b, 0)) return u32(0);
  if (isConst(a, 1)) return b;
  if (isConst(b, 1)) return a;
  if (a.k === "const" && b.k === "const") return u32(a.v * b.v);
  return mul(a, b);
}
export function idiv(a: Expr, b: Expr): Expr {
  if (isConst(b, 1)) return a;
  if (a.k === "const" && b.k === "const") return u32(Math.floor(a.v / b.v));
  return div(a, b);
}
export function irem(a: Expr, b: Expr): Expr {
  if (isConst(b, 1)) return u32(0);
  if (a.k === "const" && b.k === "const") return u32(a.v % b.v);
  return rem(a, b);
}

export function isConst(e: Expr, v?: number): boolean {
  return e.k === "const" && (v === undefined || e.v === v);
}

// ---------------------------------------------------------------------------
// building kernel bodies

/**
 * Builds a statement list with unique, readable names. Nested blocks (loops, branches)
 * share the name table, so a value's name is unique in the whole kernel.
 */
export class BodyBuilder {
  readonly stmts: Stmt[] = [];
  constructor(private readonly names: Map<string, number> = new Map()) {}

  fresh(hint: string): string {
    const n = this.names.get(hint) ?? 0;
    this.names.set(hint, n + 1);
    return n === 0 ? hint : `${hint}_${n}`;
  }

  /** Names an expression; constants and plain references are returned as they are. */
  let(hint: string, value: Expr): Expr {
    if (value.k === "const" || value.k === "ref") return value;
    const name = this.fresh(hint);
    this.stmts.push({ k: "let", name, value });
    return ref(value.t, name);
  }

  var(hint: string, init: Expr): Expr & { k: "ref" } {
    const name = this.fresh(hint);
    this.stmts.push({ k: "var", name, t: init.t, init });
    return ref(init.t, name) as Expr & { k: "ref" };
  }

  assign(target: Expr, value: Expr): void {
    check(target.k === "ref", () => `assignment target must be a variable`);
    check(target.t === value.t, () => `assigning ${value.t} to ${target.t} variable`);
    this.stmts.push({ k: "assign", name: (target as { name: string }).name, value });
  }

  array(hint: string, t: Scalar, size: number): string {
    const name = this.fresh(hint);
    this.stmts.push({ k: "array", name, t, size });
    return name;
  }

  store(name: string, index: Expr, value: Expr, space: Space = "global"): void {
    check(index.t === "u32", () => `index into ${name} must be u32, got ${index.t}`);
    this.stmts.push({ k: "store", space, name, index, value });
  }

  /** Stores one element into a shared array of 4-vectors; `index` counts elements. */
  storeElement(name: string, index: Expr, value: Expr): void {
    check(index.t === "u32", () => `index into ${name} must be u32, got ${index.t}`);
    this.stmts.push({ k: "store", space: "workgroup", name, index, value, element: true });
  }

  /** Loads four consecutive elements (one 4-vector) and returns their components. */
  load4(hint: string, t: Scalar, buffer: string, index: Expr): [Expr, Expr, Expr, Expr] {
    check(index.t === "u32", () => `index into ${buffer} must be u32, got ${index.t}`);
    const name = this.fresh(hint);
    this.stmts.push({ k: "load4", name, t, buffer, index });
    return [0, 1, 2, 3].map((c) => component(t, name, c as 0 | 1 | 2 | 3)) as [Expr, Expr, Expr, Expr];
  }

  store4(buffer: string, index: Expr, values: readonly [Expr, Expr, Expr, Expr]): void {
    check(index.t === "u32", () => `index into ${buffer} must be u32, got ${index.t}`);
    check(values.every((v) => v.t === values[0].t), () => `store4 into ${buffer} mixes types`);
    this.stmts.push({ k: "store4", buffer, index, values });
  }

  /** An asynchronous copy of one element (4 bytes) or one 4-vector (16) into workgroup memory; zeros where `pred` is false. */
  copyAsync(t: Scalar, bytes: 4 | 16, dst: string, dstIndex: Expr, src: string, srcIndex: Expr, pred?: Expr): void {
    check(dstIndex.t === "u32" && srcIndex.t === "u32", () => `indices of the copy ${src} → ${dst} must be u32`);
    check(!pred || pred.t === "bool", () => `the predicate of the copy ${src} → ${dst} must be bool, got ${pred?.t}`);
    this.stmts.push({ k: "copy_async", t, bytes, dst, dstIndex, src, srcIndex, ...(pred ? { pred } : {}) });
  }

  copyCommit(): void {
    this.stmts.push({ k: "copy_commit" });
  }

  copyWait(pending: number): void {
    check(Number.isInteger(pending) && pending >= 0, () => `copy_wait needs a count of groups, got ${pending}`);
    this.stmts.push({ k: "copy_wait", pending });
  }

  /** Appends statements built elsewhere (an epilogue's), as they are. */
  push(...stmts: Stmt[]): void {
    this.stmts.push(...stmts);
  }

  for(hint: string, start: Expr, end: Expr, body: (i: Expr, b: BodyBuilder) => void, step = 1): void {
    this.stmts.push(this.loop(hint, start, end, body, step));
  }

  /** A loop of step 1 that the driver's compiler must keep rolled (the `rolled` of a "for"). */
  rolledFor(hint: string, start: Expr, end: Expr, body: (i: Expr, b: BodyBuilder) => void): void {
    this.stmts.push({ ...this.loop(hint, start, end, body, 1), rolled: true });
  }

  private loop(hint: string, start: Expr, end: Expr, body: (i: Expr, b: BodyBuilder) => void, step: number): Stmt & { k: "for" } {
    const v = this.fresh(hint);
    const inner = new BodyBuilder(this.names);
    body(ref("u32", v), inner);
    return { k: "for", v, start, end, step, body: inner.stmts };
  }

  if(cond: Expr, then: (b: BodyBuilder) => void, otherwise?: (b: BodyBuilder) => void): void {
    const t = new BodyBuilder(this.names);
    then(t);
    const e = new BodyBuilder(this.names);
    otherwise?.(e);
    this.stmts.push({ k: "if", cond, then: t.stmts, else: e.stmts });
  }

  barrier(): void {
    this.stmts.push({ k: "barrier" });
  }

  return(): void {
    this.stmts.push({ k: "return" });
  }

  comment(text: string): void {
    this.stmts.push({ k: "comment", text });
  }
}

// ---------------------------------------------------------------------------
// printing kernel IR (SMELT_DEBUG=3)

const BIN_SYM: Record<BinOp, string> = {
  add: "+", sub: "-", mul: "*", div: "/", rem: "%", min: "min", max: "max",
  eq: "==", ne: "!=", lt: "<", le: "<=", gt: ">", ge: ">=", and: "&", or: "|", shl: "<<", shr: ">>",
};

export function exprText(e: Expr): string {
  switch (e.k) {
    case "const": return `${e.v}:${e.t}`;
    case "ref": return e.name;
    case "id": return e.id === "subgroup_lane" ? "subgroup_lane" : `${e.id}_id.${"xyz"[e.axis]}`;
    case "load": return `${e.space === "global" ? "" : e.space + " "}${e.name}[${exprText(e.index)}]`;
    case "un": return `${e.op}(${exprText(e.a)})`;
    case "bin":
      return e.op === "min" || e.op === "max"
        ? `${e.op}(${exprText(e.a)}, ${exprText(e.b)})`
        : `(${exprText(e.a)} ${BIN_SYM[e.op]} ${exprText(e.b)})`;
    case "call": return `${e.fn}(${e.args.map(exprText).join(", ")})`;
    case "select": return `select(${exprText(e.cond)}, ${exprText(e.a)}, ${exprText(e.b)})`;
    case "cast": return `${e.t}(${exprText(e.a)})`;
    case "bitcast": return `bitcast<${e.t}>(${exprText(e.a)})`;
    case "component": return `${e.vec}.${"xyzw"[e.c]}`;
    case "broadcast": return `broadcast(${exprText(e.a)}, lane ${e.lane})`;
    case "shuffle": return `shuffle(${exprText(e.a)}, lane ${exprText(e.lane)})`;
    default: return e satisfies never;
  }
}

function stmtDoc(s: Stmt): Doc {
  switch (s.k) {
    case "let": return `let ${s.name} = ${exprText(s.value)}`;
    case "var": return `var ${s.name}: ${s.t} = ${exprText(s.init)}`;
    case "assign": return `${s.name} = ${exprText(s.value)}`;
    case "array": return `var ${s.name}: ${s.t}[${s.size}]`;
    case "store":
      return `${s.space === "global" ? "" : s.space + " "}${s.name}${s.element ? ".elements" : ""}[${exprText(s.index)}] = ${exprText(s.value)}`;
    case "load4": return `let ${s.name} = ${s.buffer}[${exprText(s.index)}]: ${s.t}x4`;
    case "store4": return `${s.buffer}[${exprText(s.index)}]: ${s.values[0].t}x4 = (${s.values.map(exprText).join(", ")})`;
    case "copy_async":
      return `copy_async ${s.dst}[${exprText(s.dstIndex)}] <- ${s.src}[${exprText(s.srcIndex)}]: ${s.bytes} bytes${s.pred ? ` if ${exprText(s.pred)}` : ""}`;
    case "copy_commit": return "copy_commit";
    case "copy_wait": return `copy_wait ${s.pending}`;
    case "for":
      return block(`for ${s.v} in ${exprText(s.start)}..${exprText(s.end)}${s.step !== 1 ? ` step ${s.step}` : ""}${s.rolled ? " rolled" : ""} {`, s.body.map(stmtDoc), "}");
    case "if":
      return s.else.length
        ? block(`if ${exprText(s.cond)} {`, [...s.then.map(stmtDoc), block("} else {", s.else.map(stmtDoc))], "}")
        : block(`if ${exprText(s.cond)} {`, s.then.map(stmtDoc), "}");
    case "barrier": return "barrier";
    case "return": return "return";
    case "comment": return `// ${s.text}`;
    default: return s satisfies never;
  }
}

/** The kernel IR as text (one line per statement), for SMELT_DEBUG=3 and tests. */
export function kernelText(k: Kernel): string {
  const head = [
    `// ${k.source}`,
    ...k.bindings.map((b, i) => `binding ${i} ${b.name}: ${b.dtype}${b.width === 4 ? "x4" : ""}[] ${b.access}`),
    ...k.shared.map((s) => `workgroup ${s.name}: ${s.t}${s.width === 4 ? "x4" : ""}[${s.size}]`),
  ];
  return render([
    ...head,
    block(`kernel ${k.name} workgroup_size=[${k.workgroupSize}] grid=[${k.grid}]${k.subgroupSize ? ` subgroup=${k.subgroupSize}` : ""}${k.minResidentWorkgroups ? ` resident=${k.minResidentWorkgroups}` : ""} {`, k.body.map(stmtDoc), "}"),
  ]);
}
