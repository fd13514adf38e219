/**
 * np elementwise math, comparisons, logic and `where`: numpy broadcasting and
 * promotion (np-broadcast.ts) in front of one lax primitive each, or a short
 * composition of them where numpy's meaning needs one (floor division, log1p).
 */
import type { DType, DTypeName } from "../ir/dtype.js";
import { checkDType } from "./arguments.js";
import type { BinaryOp, CompareOp } from "../ir/primitives.js";
import type { Tensor, TensorLike } from "./core.js";
import * as lax from "./lax.js";
import { full } from "./creation.js";
import { asTensor, broadcastShapes, checkTensorLike, broadcastTo, promoteAndBroadcast, resultType, shapeError, toFloat } from "./np-broadcast.js";

function binary(op: string, prim: BinaryOp | CompareOp, x: TensorLike, y: TensorLike, dtype?: DType): Tensor {
  const [a, b] = promoteAndBroadcast(op, [x, y], dtype);
  // numpy's arithmetic on bools is logic: True + True is True, True * False is False.
  if (a!.dtype === "bool" && (prim === "add" || prim === "max")) return lax.or(a!, b!);
  if (a!.dtype === "bool" && (prim === "mul" || prim === "min")) return lax.and(a!, b!);
  return lax.binary(prim, a!, b!);
}

export const add = (x: TensorLike, y: TensorLike) => binary("add", "add", x, y);
export const subtract = (x: TensorLike, y: TensorLike) => binary("subtract", "sub", x, y);
export const multiply = (x: TensorLike, y: TensorLike) => binary("multiply", "mul", x, y);
/** True division: integer operands give f32, as in numpy. */
export const divide = (x: TensorLike, y: TensorLike) => binary("divide", "div", x, y, "f32");
export const maximum = (x: TensorLike, y: TensorLike) => binary("maximum", "max", x, y);
export const minimum = (x: TensorLike, y: TensorLike) => binary("minimum", "min", x, y);
/** The angle of the point (x, y) in (−π, π], as numpy.arctan2(y, x); integers promote to f32. */
export const atan2 = (y: TensorLike, x: TensorLike) => binary("atan2", "atan2", y, x, "f32");

/** x ** y. Integer operands are raised in f32 and rounded back, so 3 ** 2 is exactly 9. */
export function power(x: TensorLike, y: TensorLike): Tensor {
  const dt = resultType(x, y);
  if (dt === "f32") return binary("power", "pow", x, y, "f32");
  const p = binary("power", "pow", x, y, "f32");
  return lax.cast(lax.round(p), dt === "bool" ? "i32" : dt);
}

/** numpy.floor_divide: rounds toward −∞ (lax `div` on integers truncates toward 0). */
export function floorDivide(x: TensorLike, y: TensorLike): Tensor {
  const dt = resultType(x, y);
  if (dt === "f32") return lax.floor(binary("floorDivide", "div", x, y, "f32"));
  const [a, b] = promoteAndBroadcast("floorDivide", [x, y], dt === "bool" ? "i32" : dt);
  const q = lax.div(a!, b!);
  if (dt === "u32") return q;
  // Truncation overshoots by one when the remainder is non-zero and the signs differ.
  const zero = lax.zerosLike(q);
  const r = lax.sub(a!, lax.mul(q, b!));
  const fix = lax.and(lax.ne(r, zero), lax.ne(lax.lt(r, zero), lax.lt(b!, zero)));
  return lax.select(fix, lax.sub(q, lax.fullLike(q, 1)), q);
}

/** numpy.remainder (Python's %): the result takes the divisor's sign. */
export function remainder(x: TensorLike, y: TensorLike): Tensor {
  const dt = resultType(x, y);
  const [a, b] = promoteAndBroadcast("remainder", [x, y], dt === "bool" ? "i32" : dt);
  return lax.sub(a!, lax.mul(floorDivide(a!, b!), b!));
}

export const negative = (x: TensorLike) => lax.neg(asTensor(x, undefined, "negative"));
export const abs = (x: TensorLike) => lax.abs(asTensor(x, undefined, "abs"));
export const sign = (x: TensorLike) => lax.sign(asTensor(x, undefined, "sign"));
export const square = (x: TensorLike) => {
  const t = asTensor(x, undefined, "square");
  return multiply(t, t);
};
export const reciprocal = (x: TensorLike) => divide(1, x);

// Transcendentals exist on floats only; integers promote to f32 as in numpy.
export const exp = (x: TensorLike) => lax.exp(toFloat(x, "exp"));
/** exp(x) − 1, accurate near 0 where forming exp(x) first would cancel. */
export const expm1 = (x: TensorLike) => lax.unary("expm1", toFloat(x, "expm1"));
export const log = (x: TensorLike) => lax.log(toFloat(x, "log"));
export const sin = (x: TensorLike) => lax.sin(toFloat(x, "sin"));
export const cos = (x: TensorLike) => lax.cos(toFloat(x, "cos"));
export const tanh = (x: TensorLike) => lax.tanh(toFloat(x, "tanh"));
export const sqrt = (x: TensorLike) => lax.sqrt(toFloat(x, "sqrt"));
export const rsqrt = (x: TensorLike) => lax.rsqrt(toFloat(x, "rsqrt"));
export const erf = (x: TensorLike) => lax.erf(toFloat(x, "erf"));
export const log2 = (x: TensorLike) => multiply(log(x), 1 / Math.LN2);
export const log10 = (x: TensorLike) => multiply(log(x), 1 / Math.LN10);

/**
 * log(1 + x) without the cancellation of forming 1 + x: with u = fl(1 + x),
 * log(u) · x / (u − 1) is accurate to a few ulps (Goldberg, "What every computer
 * scientist should know about floating-point arithmetic", Theorem 4).
 */
export function log1p(x: TensorLike): Tensor {
  const t = toFloat(x, "log1p");
  const u = lax.add(t, lax.fullLike(t, 1));
  const um1 = lax.sub(u, lax.fullLike(t, 1));
  const corrected = lax.mul(lax.log(u), lax.div(t, um1));
  const exact = lax.eq(um1, lax.zerosLike(t));
  // u = ∞ (x = ∞) would give ∞ / ∞: log(u) is already right there.
  const inf = lax.eq(u, lax.fullLike(t, Infinity));
  return lax.select(exact, t, lax.select(inf, u, corrected));
}

// Rounding is the identity on integers and bools (numpy keeps their dtype).
const onFloat = (op: string, f: (t: Tensor) => Tensor) => (x: TensorLike) => {
  const t = asTensor(x, undefined, op);
  return t.dtype === "f32" ? f(t) : t;
};
export const floor = onFloat("floor", lax.floor);
export const ceil = onFloat("ceil", lax.ceil);
/** Rounds half to even, like numpy.round. */
export const round = onFloat("round", lax.round);

export function clip(x: TensorLike, lo?: TensorLike | null, hi?: TensorLike | null): Tensor {
  if (lo == null && hi == null) throw shapeError("clip", `needs a lower bound, an upper bound or both`, [x]);
  let y = asTensor(x, undefined, "clip");
  if (lo != null) y = maximum(y, lo);
  if (hi != null) y = minimum(y, hi);
  return y;
}

export const equal = (x: TensorLike, y: TensorLike) => binary("equal", "eq", x, y);
export const notEqual = (x: TensorLike, y: TensorLike) => binary("notEqual", "ne", x, y);
export const less = (x: TensorLike, y: TensorLike) => binary("less", "lt", x, y);
export const lessEqual = (x: TensorLike, y: TensorLike) => binary("lessEqual", "le", x, y);
export const greater = (x: TensorLike, y: TensorLike) => binary("greater", "gt", x, y);
export const greaterEqual = (x: TensorLike, y: TensorLike) => binary("greaterEqual", "ge", x, y);

/** Truthiness as numpy sees it: x ≠ 0 (NaN is true). */
export const asBool = (x: TensorLike, op = "logical", argument = "x"): Tensor => {
  const t = asTensor(x, undefined, op, argument);
  return t.dtype === "bool" ? t : lax.ne(t, lax.zerosLike(t));
};
export const logicalAnd = (x: TensorLike, y: TensorLike) => binary("logicalAnd", "and", asBool(x, "logicalAnd", "x1"), asBool(y, "logicalAnd", "x2"));
export const logicalOr = (x: TensorLike, y: TensorLike) => binary("logicalOr", "or", asBool(x, "logicalOr", "x1"), asBool(y, "logicalOr", "x2"));
export const logicalXor = (x: TensorLike, y: TensorLike) => binary("logicalXor", "ne", asBool(x, "logicalXor", "x1"), asBool(y, "logicalXor", "x2"));
export const logicalNot = (x: TensorLike) => lax.not(asBool(x, "logicalNot"));

export const isnan = (x: TensorLike) => {
  const t = asTensor(x, undefined, "isnan");
  return t.dtype === "f32" ? lax.ne(t, t) : full(t.shape, false);
};
/** Finite exactly when x − x is 0 (∞ − ∞ and NaN − NaN are NaN). */
export const isfinite = (x: TensorLike) => {
  const t = asTensor(x, undefined, "isfinite");
  return t.dtype === "f32" ? lax.eq(lax.sub(t, t), lax.zerosLike(t)) : full(t.shape, true);
};

/** Elementwise choice between `x` and `y`, all three broadcast together (numpy.where). */
export function where(cond: TensorLike, x: TensorLike, y: TensorLike): Tensor {
  checkTensorLike("where", "condition", cond);
  checkTensorLike("where", "x", x);
  checkTensorLike("where", "y", y);
  const dt = resultType(x, y);
  const operands = [asBool(cond, "where", "condition"), asTensor(x, dt), asTensor(y, dt)];
  const shape = broadcastShapes("where", operands);
  const [c, a, b] = operands.map((t) => broadcastTo(t, shape, "where"));
  return lax.select(c!, a!, b!);
}

export function astype(x: TensorLike, dtype: DTypeName): Tensor {
  return lax.cast(asTensor(x, undefined, "astype"), checkDType("np.astype", "dtype", dtype));
}
