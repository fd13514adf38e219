/**
 * Pointwise primitives as expression builders: every primitive whose output element is a
 * function of a few operand elements (elementwise math, select, cast, the layout ops,
 * iota, splat constants, gather) is one entry of POINTWISE, which builds the element's
 * expression from *readers* of its operands. A standalone kernel binds each reader to a
 * buffer load; a fusion pass composes readers so one kernel body evaluates a chain.
 * Semantics follow the interpreter (runtime/interp): integer x/0 = 0, saturating f32→int
 * casts with NaN → 0, gather clamps its indices.
 */
import { type DType, type Shape, stridesOf } from "../ir/dtype.js";
import {
  type BinaryOp, type CompareOp, type Primitive, type PrimitiveParams, type UnaryOp, BINARY_OPS, COMPARE_OPS, UNARY_OPS,
} from "../ir/primitives.js";
import { ravel, unravel } from "./indexing.js";
import {
  type BinOp, type BodyBuilder, type Expr, type MathFn, type Scalar,
  add, bin, bool, call, cast, div, eq, f32, ge, iadd, imul, isub, lit, lt, select, u32, un,
} from "./kernel.js";

/**
 * An element position, as a multi-index or a row-major linear index, each computed on
 * demand (and once) from the other.
 */
export class Index {
  private idxCache: Expr[] | undefined;
  private linCache: Expr | undefined;
  constructor(
    private readonly b: BodyBuilder,
    readonly shape: Shape,
    at: { idx?: Expr[]; linear?: Expr },
  ) {
    this.idxCache = at.idx;
    this.linCache = at.linear;
  }
  idx(): Expr[] {
    return (this.idxCache ??= unravel(this.b, this.linCache!, this.shape));
  }
  linear(): Expr {
    return (this.linCache ??= this.b.let("lin", ravel(this.idxCache!, stridesOf(this.shape))));
  }
}

/** Reads an operand's element at a position of the operand's own shape. */
export type Reader = (b: BodyBuilder, at: Index) => Expr;

export interface PointwiseNode<P extends Primitive = Primitive> {
  readonly prim: P;
  readonly params: PrimitiveParams[P];
  readonly inputs: readonly { readonly dtype: DType; readonly shape: Shape }[];
  readonly output: { readonly dtype: DType; readonly shape: Shape };
}

type PointwiseRule<P extends Primitive> = (node: PointwiseNode<P>, operands: readonly Reader[], b: BodyBuilder, at: Index) => Expr;

// ---------------------------------------------------------------------------
// elementwise math on expressions (what a fusion pass composes)

type ElementwiseOp = UnaryOp | BinaryOp | CompareOp;

/** A host number cast to `dtype` the way the interpreter casts constants (saturating, NaN → 0). */
export function hostValue(dtype: DType, x: number): number {
  switch (dtype) {
    case "f32": return Math.fround(x);
    case "i32": return x !== x ? 0 : Math.min(Math.max(Math.trunc(x), -2147483648), 2147483647);
    case "u32": return x !== x || x <= 0 ? 0 : Math.min(Math.trunc(x), 4294967295);
    case "bool": return x !== 0 ? 1 : 0;
    default: return dtype satisfies never;
  }
}

/** The literal a host number becomes in `dtype`. */
export function literalOf(dtype: DType, x: number): Expr {
  return lit(dtype, hostValue(dtype, x));
}

const zero = (t: Scalar) => lit(t, 0);

/** An op that is one kernel-IR math function or operator of its operands. */
const mathFn = (fn: MathFn) => (args: Expr[]): Expr => call(fn, ...args);
const binOp = (op: BinOp) => ([a, c]: Expr[]): Expr => bin(op, a!, c!);

const ELEMENTWISE: { readonly [K in ElementwiseOp]: (a: Expr[], b: BodyBuilder) => Expr } = {
  neg: ([x]) => un("neg", x!),
  not: ([x]) => un("not", x!),
  abs: ([x]) => (x!.t === "u32" ? x! : call("abs", x!)),
  sign: ([x]) => (x!.t === "u32" ? bin("min", x!, u32(1)) : call("sign", x!)),
  exp: mathFn("exp"), expm1: mathFn("expm1"), log: mathFn("log"), sin: mathFn("sin"), cos: mathFn("cos"), tanh: mathFn("tanh"),
  sqrt: mathFn("sqrt"), rsqrt: mathFn("rsqrt"), erf: mathFn("erf"), floor: mathFn("floor"), ceil: mathFn("ceil"),
  round: mathFn("round_even"), pow: mathFn("pow"), atan2: mathFn("atan2"),
  logistic: ([x]) => div(f32(1), add(f32(1), call("exp", un("neg", x!)))),
  add: binOp("add"), sub: binOp("sub"), mul: binOp("mul"), max: binOp("max"), min: binOp("min"), and: binOp("and"), or: binOp("or"),
  div: ([a, c], b) => {
    if (a!.t === "f32") return div(a!, c!);
    // Integer x / 0 is 0 (the interpreter's rule; WGSL would give x, CUDA traps).
    const d = b.let("divisor", c!);
    return select(eq(d, zero(d.t)), zero(d.t), div(a!, select(eq(d, zero(d.t)), lit(d.t, 1), d)));
  },
  eq: binOp("eq"), lt: binOp("lt"), le: binOp("le"), gt: binOp("gt"), ge: binOp("ge"),
  // IEEE a != b is !(a == b), true for NaN; some shader compilers emit an ordered != instead.
  ne: ([a, c]) => (a!.t === "f32" ? un("not", bin("eq", a!, c!)) : bin("ne", a!, c!)),
};

/** An elementwise primitive applied to operand expressions: the unit a fusion pass composes. */
export function elementwiseExpr(op: ElementwiseOp, args: Expr[], b: BodyBuilder): Expr {
  return ELEMENTWISE[op](args, b);
}

/** `cast` as the interpreter defines it: saturating f32→int with NaN → 0, modular int↔int, x != 0 → bool. */
export function castExpr(x: Expr, to: DType, b: BodyBuilder): Expr {
  const from = x.t;
  if (from === to) return x;
  if (to === "bool") return from === "f32" ? un("not", eq(x, zero(from))) : bin("ne", x, zero(from));
  if (from === "bool") return select(x, lit(to, 1), zero(to));
  if (from === "f32" && to !== "f32") {
    const v = b.let("from_f32", x);
    const hi = to === "i32" ? 2147483648 : 4294967296;
    const lo = to === "i32" ? -2147483648 : 0;
    const max = to === "i32" ? 2147483647 : 4294967295;
    const clamped = cast(to, bin("max", v, f32(lo)));
    return select(call("isnan", v), zero(to), select(ge(v, f32(hi)), lit(to, max), clamped));
  }
  return cast(to, x);
}

// ---------------------------------------------------------------------------
// the pointwise table

function elementwiseRule<P extends ElementwiseOp>(op: P): PointwiseRule<P> {
  return (_node, operands, b, at) => elementwiseExpr(op, operands.map((r) => r(b, at)), b);
}

/** Every elementwise primitive of the registry (ir/primitives.ts): a new one is a type error in ELEMENTWISE until it has an entry. */
const ELEMENTWISE_OPS: readonly ElementwiseOp[] = [...UNARY_OPS, ...BINARY_OPS, ...COMPARE_OPS];

export type PointwisePrim =
  | ElementwiseOp | "select" | "cast" | "iota" | "constant" | "broadcast_in_dim" | "reshape"
  | "transpose" | "slice" | "pad" | "concatenate" | "gather";

const at = (b: BodyBuilder, shape: Shape, idx: Expr[]) => new Index(b, shape, { idx });

export const POINTWISE: { readonly [P in PointwisePrim]: PointwiseRule<P> } = {
  ...(Object.fromEntries(ELEMENTWISE_OPS.map((op) => [op, elementwiseRule(op)])) as { [K in ElementwiseOp]: PointwiseRule<K> }),
  select: (_n, [p, x, y], b, i) => {
    const pred = b.let("pred", p!(b, i));
    return select(pred, x!(b, i), y!(b, i));
  },
  cast: (n, [x], b, i) => castExpr(x!(b, i), n.params.dtype, b),
  iota: (n, _ops, _b, i) => castExpr(i.idx()[n.params.dim]!, n.params.dtype, _b),
  constant: (n) => {
    if (n.params.value.length !== 1) throw new Error("a dense constant is a program buffer, not a pointwise expression");
    return literalOf(n.params.dtype, n.params.value[0]!);
  },
  broadcast_in_dim: (n, [x], b, i) => {
    const src = n.inputs[0]!.shape;
    const idx = i.idx();
    return x!(b, at(b, src, src.map((d, k) => (d === 1 ? u32(0) : idx[n.params.dims[k]!]!))));
  },
  // Same element order, new shape: the linear position carries over.
  reshape: (n, [x], b, i) => x!(b, new Index(b, n.inputs[0]!.shape, { linear: i.linear() })),
  transpose: (n, [x], b, i) => {
    const idx = i.idx();
    const src: Expr[] = new Array(idx.length);
    n.params.perm.forEach((p, k) => (src[p] = idx[k]!));
    return x!(b, at(b, n.inputs[0]!.shape, src));
  },
  slice: (n, [x], b, i) => {
    const { start, strides } = n.params;
    return x!(b, at(b, n.inputs[0]!.shape, i.idx().map((e, k) => iadd(u32(start[k]!), imul(e, u32(strides[k]!))))));
  },
  pad: (n, [x], b, i) => {
    const src = n.inputs[0]!.shape;
    const { low } = n.params;
    const idx = i.idx();
    // A coordinate known at compile time to fall in the padding (a unit axis padded) reads no operand.
    if (idx.some((e, k) => e.k === "const" && (e.v < low[k]! || e.v >= low[k]! + src[k]!))) return literalOf(n.output.dtype, n.params.value);
    let inside: Expr | undefined;
    const both = (c: Expr) => (inside = inside ? bin("and", inside, c) : c);
    idx.forEach((e, k) => {
      if (low[k]! > 0) both(ge(e, u32(low[k]!)));
      if (n.params.high[k]! > 0) both(lt(e, u32(low[k]! + src[k]!)));
    });
    const v = b.var("padded", literalOf(n.output.dtype, n.params.value));
    b.if(inside ?? bool(true), (t) => t.assign(v, x!(t, at(t, src, idx.map((e, k) => isub(e, u32(low[k]!)))))));
    return v;
  },
  concatenate: (n, operands, b, i) => {
    const axis = n.params.axis;
    const idx = i.idx();
    const along = idx[axis]!;
    if (along.k === "const") {
      // The operand is known at compile time (a unit axis, an unrolled position): read it alone.
      let offset = 0, j = 0;
      while (along.v >= offset + n.inputs[j]!.shape[axis]!) offset += n.inputs[j++]!.shape[axis]!;
      return operands[j]!(b, at(b, n.inputs[j]!.shape, idx.map((e, k) => (k === axis ? u32(along.v - offset) : e))));
    }
    const v = b.var("part", zero(n.output.dtype));
    // An if/else chain over the operands' ranges along `axis`, so only one operand is read.
    const branch = (j: number, offset: number, blk: BodyBuilder) => {
      const shape = n.inputs[j]!.shape;
      const read = (t: BodyBuilder) =>
        t.assign(v, operands[j]!(t, at(t, shape, idx.map((e, k) => (k === axis ? isub(e, u32(offset)) : e)))));
      if (j === operands.length - 1) return read(blk);
      blk.if(lt(idx[axis]!, u32(offset + shape[axis]!)), read, (e) => branch(j + 1, offset + shape[axis]!, e));
    };
    branch(0, 0, b);
    return v;
  },
  gather: (n, [x, indices], b, i) => {
    const { axis } = n.params;
    const [src, idxShape] = [n.inputs[0]!.shape, n.inputs[1]!.shape];
    const size = src[axis]!;
    if (size === 0) return zero(n.output.dtype);
    const idx = i.idx();
    const raw = b.let("index", indices!(b, at(b, idxShape, idx.slice(axis, axis + idxShape.length))));
    // Clamp into [0, size) like lax.gather's default mode.
    const k = raw.t === "i32"
      ? cast("u32", bin("min", bin("max", raw, lit("i32", 0)), lit("i32", size - 1)))
      : bin("min", raw, u32(size - 1));
    const row = b.let("row", k);
    return x!(b, at(b, src, [...idx.slice(0, axis), row, ...idx.slice(axis + idxShape.length)]));
  },
};

/** The primitives with a pointwise form, in table order. */
export const POINTWISE_PRIMS = Object.keys(POINTWISE) as readonly PointwisePrim[];

function isPointwise(p: Primitive): p is PointwisePrim {
  return Object.hasOwn(POINTWISE, p);
}

/** The expression of one output element of a pointwise node; a primitive without a pointwise form is an error naming it. */
export function pointwiseExpr<P extends Primitive>(node: PointwiseNode<P>, operands: readonly Reader[], b: BodyBuilder, at: Index): Expr {
  if (!isPointwise(node.prim)) throw new Error(`'${node.prim}' has no pointwise form: it cannot be evaluated per element (codegen/elementwise.ts)`);
  return (POINTWISE[node.prim] as unknown as PointwiseRule<P>)(node, operands, b, at);
}
