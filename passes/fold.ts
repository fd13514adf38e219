/**
 * Constant folding for canonicalise: evaluates a node whose operands are all constants.
 *
 * The semantics are the interpreter's (ir/scalar.ts computes each element in float64;
 * the result is stored through the dtype: round to f32, wrap integers modulo 2³², bool
 * as 0/1). Splat operands give a splat result whatever its shape, so
 * `broadcast_in_dim` of a scalar constant becomes one splat constant; a dense result is
 * folded only up to FOLD_LIMIT elements, so IR text never grows a big literal.
 */
import { type DType, type Shape, isInteger, sizeOf, stridesOf } from "../ir/dtype.js";
import {
  BINARY_OPS, type BinaryOp, COMPARE_OPS, type CompareOp, type Primitive, type PrimitiveParams, REDUCE_OPS,
  type ReduceOp, UNARY_OPS, type UnaryOp,
} from "../ir/primitives.js";
import { BINARY_FNS, COMPARE_FNS, INTEGER_BINARY_FNS, UNARY_FNS } from "../ir/scalar.js";

/** Largest dense constant folding may create (a splat may have any shape). */
export const FOLD_LIMIT = 64;

export type ConstantParams = PrimitiveParams["constant"];

/** What folding reads of a node: its primitive and attributes. */
export interface FoldInput {
  readonly prim: Primitive;
  readonly params: PrimitiveParams[Primitive];
}

/** A number as the dtype stores it, as `cast` from f32 does: round, truncate and saturate, or test != 0. */
export function fromFloat(dtype: DType, x: number): number {
  switch (dtype) {
    case "f32":
      return Math.fround(x);
    case "i32":
      return x !== x ? 0 : x <= -2147483648 ? -2147483648 : x >= 2147483647 ? 2147483647 : Math.trunc(x);
    case "u32":
      return x !== x || x <= 0 ? 0 : x >= 4294967295 ? 4294967295 : Math.trunc(x);
    case "bool":
      return x !== 0 ? 1 : 0;
    default:
      return dtype satisfies never;
  }
}

/** A float64 result stored into the dtype's typed array (integers wrap, as in the interpreter). */
function store(dtype: DType, x: number): number {
  switch (dtype) {
    case "f32":
      return Math.fround(x);
    case "i32":
      return x | 0;
    case "u32":
      return x >>> 0;
    case "bool":
      return x & 0xff ? 1 : 0;
    default:
      return dtype satisfies never;
  }
}

/** The constant's elements as its dtype holds them (one element for a splat). */
export function constantValues(c: ConstantParams): number[] {
  return c.value.map((x) => fromFloat(c.dtype, x));
}

/** The splat value of a constant (also a dense one whose elements are all equal), else undefined. */
export function splatValue(c: ConstantParams): number | undefined {
  const vs = constantValues(c);
  const first = vs[0];
  if (first === undefined) return undefined;
  return vs.every((v) => Object.is(v, first)) ? first : undefined;
}

const isUnary = (p: Primitive): p is UnaryOp => (UNARY_OPS as readonly string[]).includes(p);
const isBinary = (p: Primitive): p is BinaryOp => (BINARY_OPS as readonly string[]).includes(p);
const isCompare = (p: Primitive): p is CompareOp => (COMPARE_OPS as readonly string[]).includes(p);
const isReduce = (p: Primitive): p is ReduceOp => (REDUCE_OPS as readonly string[]).includes(p);

/** Per-element function of an elementwise primitive on stored values, or undefined if not foldable. */
function elementwiseFn(n: FoldInput, operandDtype: DType): ((xs: number[]) => number) | undefined {
  const p = n.prim;
  if (isUnary(p)) {
    const f = UNARY_FNS[p];
    return (xs) => f(xs[0]!);
  }
  if (isBinary(p)) {
    const f = (isInteger(operandDtype) && INTEGER_BINARY_FNS[p]) || BINARY_FNS[p];
    return (xs) => f(xs[0]!, xs[1]!);
  }
  if (isCompare(p)) {
    const f = COMPARE_FNS[p];
    return (xs) => (f(xs[0]!, xs[1]!) ? 1 : 0);
  }
  if (p === "select") return (xs) => (xs[0] ? xs[1]! : xs[2]!);
  if (p === "cast") {
    const to = (n.params as PrimitiveParams["cast"]).dtype;
    // Like the interpreter's cast: from f32, or to bool, convert; integer to integer wraps.
    return operandDtype === "f32" || to === "bool" ? (xs) => fromFloat(to, xs[0]!) : (xs) => xs[0]!;
  }
  return undefined;
}

/** Element `i` of a constant, by row-major index. */
const at = (vals: number[], i: number) => (vals.length === 1 ? vals[0]! : vals[i]!);

/** For each output element, the operand element it reads under broadcast_in_dim. */
function broadcastIndex(from: Shape, to: Shape, dims: readonly number[]): (i: number) => number {
  const outStrides = stridesOf(to), inStrides = stridesOf(from);
  return (i) => {
    let j = 0;
    dims.forEach((d, k) => {
      if (from[k] !== 1) j += (Math.floor(i / outStrides[d]!) % to[d]!) * inStrides[k]!;
    });
    return j;
  };
}

function transposeIndex(from: Shape, perm: readonly number[]): (i: number) => number {
  const to = perm.map((p) => from[p]!);
  const outStrides = stridesOf(to), inStrides = stridesOf(from);
  return (i) => perm.reduce((j, p, k) => j + (Math.floor(i / outStrides[k]!) % to[k]!) * inStrides[p]!, 0);
}

/**
 * The constant that `n` computes from constant operands, or undefined when the node
 * is not foldable here (a primitive without a folding rule, a dense result over FOLD_LIMIT).
 */
export function foldNode(n: FoldInput, operands: readonly ConstantParams[], outShape: Shape, outDtype: DType): ConstantParams | undefined {
  const allSplat = operands.every((c) => c.value.length === 1);
  const size = sizeOf(outShape);
  if (!allSplat && size > FOLD_LIMIT) return undefined;
  const vals = operands.map(constantValues);
  const result = (value: number[]): ConstantParams => ({
    value: value.map((x) => store(outDtype, x)),
    shape: [...outShape],
    dtype: outDtype,
  });
  const fn = elementwiseFn(n, operands[0]?.dtype ?? outDtype);
  if (fn) {
    const count = allSplat ? 1 : size;
    return result(Array.from({ length: count }, (_, i) => fn(vals.map((v) => at(v, i)))));
  }
  const x = operands[0];
  const xv = vals[0];
  if (!x || !xv) return undefined;
  // Relayouts move elements without arithmetic: keep the literal as written (1e-5, not its f32 rounding).
  const raw = x.value;
  const relayout = (value: number[]): ConstantParams => ({ value, shape: [...outShape], dtype: outDtype });
  if (n.prim === "reshape") return relayout(raw);
  if (n.prim === "broadcast_in_dim") {
    if (raw.length === 1) return relayout(raw);
    const { dims } = n.params as PrimitiveParams["broadcast_in_dim"];
    const src = broadcastIndex(x.shape, outShape, dims);
    return relayout(Array.from({ length: size }, (_, i) => raw[src(i)]!));
  }
  if (n.prim === "transpose") {
    if (raw.length === 1) return relayout(raw);
    const src = transposeIndex(x.shape, (n.params as PrimitiveParams["transpose"]).perm);
    return relayout(Array.from({ length: size }, (_, i) => raw[src(i)]!));
  }
  if (isReduce(n.prim)) {
    const { axes } = n.params as PrimitiveParams[ReduceOp];
    const count = axes.reduce((k, a) => k * x.shape[a]!, 1);
    if (xv.length === 1 && count > 0) {
      const v = xv[0]!;
      return result([n.prim === "reduce_sum" ? v * count : v]);
    }
    return undefined;
  }
  return undefined;
}
