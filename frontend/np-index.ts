/**
 * np indexing: numpy basic indexing (`slice`), `flip`, `take`, `takeAlongAxis`
 * and `oneHot`. Negative indices count from the end, as in numpy; gathered
 * indices outside the axis are clamped into it (lax.gather's default in JAX).
 */
import type { DTypeName } from "../ir/dtype.js";
import type { Tensor, TensorLike } from "./core.js";
import * as lax from "./lax.js";
import { asTensor, broadcastShapes, broadcastTo, isTensor, normalizeAxis, shapeError } from "./np-broadcast.js";
import { type NestedArray, array } from "./np-creation.js";

/**
 * One entry of a `slice` spec: an integer (selects and drops the axis), a
 * `[start, stop, step]` range with optional parts (Python's `start:stop:step`),
 * `null` (the whole axis, Python's `:`), or `"..."` (as many whole axes as needed).
 */
export type SliceEntry = number | null | "..." | readonly [(number | null)?, (number | null)?, (number | null)?];

/** Python's slice.indices: first index, step and element count of a range over n. */
function rangeOver(op: string, x: Tensor, axis: number, n: number, r: Exclude<SliceEntry, number | null | "...">) {
  const step = r[2] ?? 1;
  if (!Number.isInteger(step) || step === 0) throw shapeError(op, `slice step ${step} on axis ${axis} must be a non-zero integer`, [x]);
  const clampIdx = (v: number, lo: number, hi: number) => (v < 0 ? Math.max(v + n, lo) : Math.min(v, hi));
  const [lo, hi] = step > 0 ? [0, n] : [-1, n - 1];
  const start = r[0] == null ? (step > 0 ? 0 : n - 1) : clampIdx(r[0], lo, hi);
  const stop = r[1] == null ? (step > 0 ? n : -1) : clampIdx(r[1], lo, hi);
  const count = step > 0 ? Math.max(0, Math.ceil((stop - start) / step)) : Math.max(0, Math.ceil((start - stop) / -step));
  return { start, step, count };
}

/** `x` reversed along `axis`: a gather with indices n − 1 − iota. */
function reverseAxis(x: Tensor, axis: number): Tensor {
  const n = x.shape[axis]!;
  const io = lax.iota([n], 0, "i32");
  return lax.gather(x, lax.sub(lax.fullLike(io, n - 1), io), axis);
}

/**
 * numpy basic indexing, `x[spec...]`: `slice(x, [0, [1, null, 2], null])` is
 * `x[0, 1::2, :]`. Missing trailing entries take whole axes. Positive steps are one
 * `slice` primitive; negative steps slice the same elements and reverse them.
 */
export function slice(x: TensorLike, spec: readonly SliceEntry[]): Tensor {
  const t = asTensor(x, undefined, "slice");
  const ellipses = spec.filter((e) => e === "...").length;
  const used = spec.length - ellipses;
  if (ellipses > 1) throw shapeError("slice", `an index can only have a single ellipsis ('...')`, [t]);
  if (used > t.ndim) throw shapeError("slice", `too many indices: ${used} for an array of rank ${t.ndim}`, [t]);
  const full: Exclude<SliceEntry, "...">[] = [];
  for (const e of spec) {
    if (e === "...") for (let i = 0; i < t.ndim - used; i++) full.push(null);
    else full.push(e);
  }
  while (full.length < t.ndim) full.push(null);
  const start: number[] = [], limit: number[] = [], strides: number[] = [], reversed: number[] = [], keep: number[] = [];
  full.forEach((e, axis) => {
    const n = t.shape[axis]!;
    if (typeof e === "number") {
      if (!Number.isInteger(e) || e < -n || e >= n)
        throw shapeError("slice", `index ${e} is out of bounds for axis ${axis} with size ${n}`, [t]);
      const i = e < 0 ? e + n : e;
      start.push(i), limit.push(i + 1), strides.push(1);
      return;
    }
    keep.push(axis);
    const { start: s, step, count } = e === null ? { start: 0, step: 1, count: n } : rangeOver("slice", t, axis, n, e);
    // The same elements in ascending order: for a negative step they start at the last one visited.
    const first = count === 0 ? 0 : step > 0 ? s : s + (count - 1) * step;
    const stride = Math.abs(step);
    start.push(first), limit.push(count === 0 ? 0 : first + (count - 1) * stride + 1), strides.push(stride);
    if (step < 0 && count > 1) reversed.push(axis);
  });
  const identity = start.every((s, i) => s === 0 && limit[i] === t.shape[i] && strides[i] === 1);
  let y = identity ? t : lax.slice(t, start, limit, strides);
  for (const axis of reversed) y = reverseAxis(y, axis);
  return keep.length === t.ndim ? y : lax.reshape(y, keep.map((a) => y.shape[a]!));
}

/** Reverses the order of elements along the given axes (all axes by default). */
export function flip(x: TensorLike, axis?: number | readonly number[] | null): Tensor {
  let y = asTensor(x, undefined, "flip");
  const axes = axis === null || axis === undefined ? [...y.shape.keys()] : typeof axis === "number" ? [axis] : [...axis];
  for (const a of axes) y = reverseAxis(y, normalizeAxis("flip", a, y.ndim, y));
  return y;
}

/** Index operands as integer tensors; JS numbers and lists become i32. */
function indexTensor(op: string, indices: TensorLike | NestedArray): Tensor {
  const idx = isTensor(indices) ? indices : typeof indices === "boolean" ? asTensor(indices, undefined, op) : array(indices, { dtype: "i32" });
  if (idx.dtype !== "i32" && idx.dtype !== "u32") throw shapeError(op, `indices must be integers, got ${idx.dtype}`, [idx]);
  return idx;
}

/** Negative i32 indices wrapped to count from the end of an axis of size n. */
function wrapNegative(idx: Tensor, n: number): Tensor {
  if (idx.dtype !== "i32") return idx;
  const zero = lax.zerosLike(idx);
  return lax.select(lax.lt(idx, zero), lax.add(idx, lax.fullLike(idx, n)), idx);
}

/**
 * numpy.take: elements of `x` at `indices` along `axis` (of the flattened array
 * when omitted); the result's axis is replaced by the indices' shape.
 */
export function take(x: TensorLike, indices: TensorLike | NestedArray, axis?: number | null): Tensor {
  let t = asTensor(x, undefined, "take");
  const idx = indexTensor("take", indices);
  if (axis === null || axis === undefined) {
    t = lax.reshape(t, [t.size]);
    axis = 0;
  }
  const ax = normalizeAxis("take", axis, t.ndim, t);
  if (t.shape[ax] === 0) throw shapeError("take", `cannot take from axis ${ax} of size 0`, [t, idx]);
  return lax.gather(t, wrapNegative(idx, t.shape[ax]!), ax);
}

/**
 * numpy.take_along_axis: out[..., j, ...] = x[..., indices[..., j, ...], ...] along
 * `axis`, the other axes of `x` and `indices` broadcast. Lowered to one gather from
 * the flattened `x` at computed linear offsets.
 */
export function takeAlongAxis(x: TensorLike, indices: TensorLike, axis: number): Tensor {
  const t = asTensor(x, undefined, "takeAlongAxis");
  const idx = indexTensor("takeAlongAxis", indices);
  if (idx.ndim !== t.ndim)
    throw shapeError("takeAlongAxis", `indices and array must have the same rank, got ${idx.ndim} and ${t.ndim}`, [t, idx]);
  const ax = normalizeAxis("takeAlongAxis", axis, t.ndim, t);
  const n = t.shape[ax]!;
  if (n === 0) throw shapeError("takeAlongAxis", `cannot take from axis ${ax} of size 0`, [t, idx]);
  const others = (s: readonly number[]) => ({ shape: s.map((d, i) => (i === ax ? 1 : d)), dtype: t.dtype });
  const outer = broadcastShapes("takeAlongAxis", [others(t.shape), others(idx.shape)]);
  const out = outer.map((d, i) => (i === ax ? idx.shape[ax]! : d));
  const src = broadcastTo(t, outer.map((d, i) => (i === ax ? n : d)), "takeAlongAxis");
  let j = broadcastTo(wrapNegative(idx, n), out, "takeAlongAxis");
  if (j.dtype !== "i32") j = lax.cast(j, "i32");
  j = lax.min(lax.max(j, lax.zerosLike(j)), lax.fullLike(j, n - 1));
  // Linear offset into src: Σ position_d · stride_d, with `indices` as the position along `axis`.
  let offset: Tensor | undefined;
  let stride = 1;
  for (let d = out.length - 1; d >= 0; d--) {
    const pos = d === ax ? j : lax.iota(out, d, "i32");
    const term = stride === 1 ? pos : lax.mul(pos, lax.fullLike(pos, stride));
    offset = offset ? lax.add(offset, term) : term;
    stride *= src.shape[d]!;
  }
  return lax.gather(lax.reshape(src, [src.size]), offset!, 0);
}

/**
 * One-hot encoding along a new last axis of size `n`: `indices[..., None] ==
 * arange(n)`. Indices outside [0, n) give an all-zero row, as in jax.nn.one_hot.
 */
export function oneHot(indices: TensorLike | NestedArray, n: number, options: { dtype?: DTypeName } = {}): Tensor {
  let idx = isTensor(indices) ? indices : array(indices as NestedArray, { dtype: "i32" });
  if (idx.dtype !== "i32") idx = lax.cast(idx, "i32");
  if (!Number.isInteger(n) || n < 0) throw shapeError("oneHot", `n = ${n} must be a non-negative integer`, [idx]);
  const shape = [...idx.shape, n];
  const hot = lax.eq(lax.broadcastInDim(idx, shape, idx.shape.map((_, i) => i)), lax.iota(shape, shape.length - 1, "i32"));
  return lax.cast(hot, options.dtype ?? "f32");
}
