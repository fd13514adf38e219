/**
 * np reductions and scans: sum, mean, max, min, var, std, any, all, argmax,
 * argmin, cumsum, topK. `axis` is a number, a list, or null/omitted for every
 * axis; negative axes count from the end; `keepdims` leaves reduced axes as 1.
 */
import type { Tensor, TensorLike } from "./core.js";
import * as lax from "./lax.js";
import { type Axis, asTensor, normalizeAxes, normalizeAxis, shapeError, toFloat } from "./np-broadcast.js";

/** The reduced result with the reduced axes kept as size 1 when asked. */
function keep(x: Tensor, reduced: Tensor, axes: readonly number[], keepdims: boolean): Tensor {
  return keepdims ? lax.reshape(reduced, x.shape.map((d, i) => (axes.includes(i) ? 1 : d))) : reduced;
}

const count = (x: Tensor, axes: readonly number[]) => axes.reduce((n, a) => n * x.shape[a]!, 1);

/** Sum over axes; bools count as integers (numpy). */
export function sum(x: TensorLike, axis?: Axis, keepdims = false): Tensor {
  const t = asTensor(x, undefined, "sum");
  const axes = normalizeAxes("sum", axis, t);
  return keep(t, lax.reduceSum(t.dtype === "bool" ? lax.cast(t, "i32") : t, axes), axes, keepdims);
}

/** Arithmetic mean; integer inputs give f32. */
export function mean(x: TensorLike, axis?: Axis, keepdims = false): Tensor {
  const t = toFloat(x, "mean");
  const axes = normalizeAxes("mean", axis, t);
  const s = lax.reduceSum(t, axes);
  return keep(t, lax.div(s, lax.fullLike(s, count(t, axes))), axes, keepdims);
}

function extremum(op: "max" | "min", x: TensorLike, axis: Axis, keepdims: boolean): Tensor {
  const t = asTensor(x, undefined, op);
  const axes = normalizeAxes(op, axis, t);
  if (axes.some((a) => t.shape[a] === 0))
    throw shapeError(op, `zero-size reduction over axes [${axes}] has no identity`, [t]);
  const reduce = op === "max" ? lax.reduceMax : lax.reduceMin;
  // On bools max is any and min is all: reduce them as 0/1 integers.
  const r = t.dtype === "bool" ? lax.cast(reduce(lax.cast(t, "i32"), axes), "bool") : reduce(t, axes);
  return keep(t, r, axes, keepdims);
}
export const max = (x: TensorLike, axis?: Axis, keepdims = false) => extremum("max", x, axis, keepdims);
export const min = (x: TensorLike, axis?: Axis, keepdims = false) => extremum("min", x, axis, keepdims);

/** Variance: mean of squared deviations from the mean, divided by n − ddof. */
export function variance(x: TensorLike, axis?: Axis, keepdims = false, ddof = 0): Tensor {
  const t = toFloat(x, "var");
  const axes = normalizeAxes("var", axis, t);
  const n = count(t, axes);
  const s = lax.reduceSum(t, axes);
  const mu = lax.broadcastInDim(lax.div(s, lax.fullLike(s, n)), t.shape, keptDims(t, axes));
  const d = lax.sub(t, mu);
  const ss = lax.reduceSum(lax.mul(d, d), axes);
  return keep(t, lax.div(ss, lax.fullLike(ss, n - ddof)), axes, keepdims);
}
export const std = (x: TensorLike, axis?: Axis, keepdims = false, ddof = 0) => lax.sqrt(variance(x, axis, keepdims, ddof));

/** The axes of `x` that survive reducing `axes`: broadcast_in_dim's dims for undoing it. */
export function keptDims(x: Tensor, axes: readonly number[]): number[] {
  return [...x.shape.keys()].filter((i) => !axes.includes(i));
}

/** Counts of true (x ≠ 0) elements, as i32. */
function countTrue(x: TensorLike, axes: Axis, op: string): [Tensor, Tensor, number[]] {
  const t = asTensor(x, undefined, op);
  const ax = normalizeAxes(op, axes, t);
  const b = t.dtype === "bool" ? t : lax.ne(t, lax.zerosLike(t));
  return [t, b, ax];
}
export function any(x: TensorLike, axis?: Axis, keepdims = false): Tensor {
  const [t, b, axes] = countTrue(x, axis, "any");
  const n = lax.reduceSum(lax.cast(b, "i32"), axes);
  return keep(t, lax.gt(n, lax.zerosLike(n)), axes, keepdims);
}
export function all(x: TensorLike, axis?: Axis, keepdims = false): Tensor {
  const [t, b, axes] = countTrue(x, axis, "all");
  const n = lax.reduceSum(lax.cast(lax.not(b), "i32"), axes);
  return keep(t, lax.eq(n, lax.zerosLike(n)), axes, keepdims);
}

/** argmax/argmin over one axis, or over the flattened array when `axis` is null. */
function argReduce(op: "argmax" | "argmin", x: TensorLike, axis: number | null | undefined, keepdims: boolean): Tensor {
  const t = asTensor(x, undefined, op);
  const flat = axis === null || axis === undefined;
  const src = flat ? lax.reshape(t, [t.size]) : t;
  const ax = flat ? 0 : normalizeAxis(op, axis, t.ndim, t);
  if (src.shape[ax] === 0) throw shapeError(op, `attempt to get ${op} of an empty sequence (axis ${ax})`, [t]);
  let v = src.dtype === "bool" ? lax.cast(src, "i32") : src;
  // argmin is argmax of an order-reversing map: −x on floats, ~x = −x − 1 on i32
  // (no overflow at INT_MIN), 2³² − 1 − x on u32. Ties keep the first index.
  if (op === "argmin") {
    if (v.dtype === "f32") v = lax.neg(v);
    else if (v.dtype === "i32") v = lax.sub(lax.neg(v), lax.fullLike(v, 1));
    else v = lax.sub(lax.fullLike(v, 0xffffffff), v);
  }
  const r = lax.argmax(v, ax);
  if (!keepdims) return r;
  return lax.reshape(r, flat ? t.shape.map(() => 1) : t.shape.map((d, i) => (i === ax ? 1 : d)));
}
export const argmax = (x: TensorLike, axis?: number | null, keepdims = false) => argReduce("argmax", x, axis, keepdims);
export const argmin = (x: TensorLike, axis?: number | null, keepdims = false) => argReduce("argmin", x, axis, keepdims);

/** Running sum along `axis` (the flattened array when omitted); `reverse` sums from the end. */
export function cumsum(x: TensorLike, axis?: number | null, options: { reverse?: boolean } = {}): Tensor {
  let t = asTensor(x, undefined, "cumsum");
  if (axis === null || axis === undefined) {
    t = lax.reshape(t, [t.size]);
    axis = 0;
  }
  const ax = normalizeAxis("cumsum", axis, t.ndim, t);
  return lax.cumsum(t.dtype === "bool" ? lax.cast(t, "i32") : t, ax, options.reverse ?? false);
}

/** The k largest entries along the last axis, descending, and their indices (lax.top_k). */
export function topK(x: TensorLike, k: number): [Tensor, Tensor] {
  const t = asTensor(x, undefined, "topK");
  const n = t.shape[t.ndim - 1];
  if (n === undefined) throw shapeError("topK", `needs an array of rank >= 1`, [t]);
  if (!Number.isInteger(k) || k < 1 || k > n) throw shapeError("topK", `k = ${k} must be in [1, ${n}] (the size of the last axis)`, [t]);
  return lax.topK(t.dtype === "bool" ? lax.cast(t, "i32") : t, k);
}
