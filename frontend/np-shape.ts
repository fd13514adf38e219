/**
 * np shape manipulation: reshape, transpose and friends, expand/squeeze, joining
 * (concatenate, stack), splitting, padding and tiling. Each checks its arguments
 * and raises a ShapeError under its own numpy name before reaching a primitive.
 */
import { sizeOf } from "../ir/dtype.js";
import type { Tensor, TensorLike } from "./core.js";
import * as lax from "./lax.js";
import { asTensor, normalizeAxis, resultType, shapeError } from "./np-broadcast.js";

export { broadcastTo } from "./np-broadcast.js";

const fmt = (s: readonly number[]) => `[${s.join(",")}]`;

/** numpy.reshape; one axis may be -1 and is inferred from the others. */
export function reshape(x: TensorLike, shape: number | readonly number[]): Tensor {
  const t = asTensor(x, undefined, "reshape");
  const s = typeof shape === "number" ? [shape] : [...shape];
  const holes = s.filter((d) => d === -1).length;
  if (holes > 1 || !s.every((d) => Number.isInteger(d) && d >= -1))
    throw shapeError("reshape", `shape ${fmt(s)} may hold non-negative sizes and at most one -1`, [t]);
  if (holes === 1) {
    const known = s.reduce((n, d) => (d === -1 ? n : n * d), 1);
    if (known === 0 || t.size % known !== 0)
      throw shapeError("reshape", `cannot reshape ${fmt(t.shape)} (${t.size} elements) into ${fmt(s)}`, [t]);
    s[s.indexOf(-1)] = t.size / known;
  }
  if (sizeOf(s) !== t.size) throw shapeError("reshape", `cannot reshape ${fmt(t.shape)} (${t.size} elements) into ${fmt(s)} (${sizeOf(s)} elements)`, [t]);
  return lax.reshape(t, s);
}

export const ravel = (x: TensorLike) => reshape(x, [-1]);

/** numpy.transpose: permutes axes (reverses them by default); negative entries count from the end. */
export function transpose(x: TensorLike, perm?: readonly number[]): Tensor {
  const t = asTensor(x, undefined, "transpose");
  const p = perm ? perm.map((a) => (a < 0 ? a + t.ndim : a)) : [...t.shape.keys()].reverse();
  if (p.length !== t.ndim || [...p].sort((a, b) => a - b).some((a, i) => a !== i))
    throw shapeError("transpose", `axes [${perm}] are not a permutation of the ${t.ndim} axes of ${fmt(t.shape)}`, [t]);
  return lax.transpose(t, p);
}

export function swapaxes(x: TensorLike, a: number, b: number): Tensor {
  const t = asTensor(x, undefined, "swapaxes");
  const i = normalizeAxis("swapaxes", a, t.ndim, t), j = normalizeAxis("swapaxes", b, t.ndim, t);
  const p = [...t.shape.keys()];
  [p[i], p[j]] = [p[j]!, p[i]!];
  return lax.transpose(t, p);
}

/** Moves axis `source` to position `destination`, keeping the others in order. */
export function moveaxis(x: TensorLike, source: number, destination: number): Tensor {
  const t = asTensor(x, undefined, "moveaxis");
  const s = normalizeAxis("moveaxis", source, t.ndim, t), d = normalizeAxis("moveaxis", destination, t.ndim, t);
  const p = [...t.shape.keys()].filter((a) => a !== s);
  p.splice(d, 0, s);
  return lax.transpose(t, p);
}

/** Inserts size-1 axes at `axis` (positions in the result, negative from its end). */
export function expandDims(x: TensorLike, axis: number | readonly number[]): Tensor {
  const t = asTensor(x, undefined, "expandDims");
  const list = typeof axis === "number" ? [axis] : [...axis];
  const rank = t.ndim + list.length;
  const axes = list.map((a) => normalizeAxis("expandDims", a, rank, t));
  if (new Set(axes).size !== axes.length) throw shapeError("expandDims", `repeated axis in [${list}]`, [t]);
  const shape: number[] = [];
  let k = 0;
  for (let i = 0; i < rank; i++) shape.push(axes.includes(i) ? 1 : t.shape[k++]!);
  return lax.reshape(t, shape);
}

/** Removes size-1 axes: the given ones (each must be 1) or all of them. */
export function squeeze(x: TensorLike, axis?: number | readonly number[] | null): Tensor {
  const t = asTensor(x, undefined, "squeeze");
  const axes = axis === null || axis === undefined
    ? [...t.shape.keys()].filter((i) => t.shape[i] === 1)
    : (typeof axis === "number" ? [axis] : [...axis]).map((a) => normalizeAxis("squeeze", a, t.ndim, t));
  for (const a of axes)
    if (t.shape[a] !== 1) throw shapeError("squeeze", `cannot select an axis to squeeze out which has size not equal to one (axis ${a} of ${fmt(t.shape)})`, [t]);
  return lax.reshape(t, t.shape.filter((_, i) => !axes.includes(i)));
}

/** Joins arrays along an existing axis; operands promote to one dtype. */
export function concatenate(xs: readonly TensorLike[], axis = 0): Tensor {
  if (xs.length === 0) throw shapeError("concatenate", `needs at least one array`);
  const dt = resultType(...xs);
  const ts = xs.map((x) => asTensor(x, dt, "concatenate"));
  const first = ts[0]!;
  if (first.ndim === 0) throw shapeError("concatenate", `zero-dimensional arrays cannot be concatenated`, ts);
  const ax = normalizeAxis("concatenate", axis, first.ndim, first);
  for (const t of ts)
    if (t.ndim !== first.ndim || t.shape.some((d, i) => i !== ax && d !== first.shape[i]))
      throw shapeError("concatenate", `shapes ${ts.map((u) => fmt(u.shape)).join(", ")} must agree on every axis but ${ax}`, ts);
  return lax.concatenate(ts, ax);
}

/** Joins equally shaped arrays along a new axis. */
export function stack(xs: readonly TensorLike[], axis = 0): Tensor {
  if (xs.length === 0) throw shapeError("stack", `needs at least one array`);
  const dt = resultType(...xs);
  const ts = xs.map((x) => asTensor(x, dt, "stack"));
  const shape = ts[0]!.shape;
  if (ts.some((t) => t.ndim !== shape.length || t.shape.some((d, i) => d !== shape[i])))
    throw shapeError("stack", `all input arrays must have the same shape, got ${ts.map((u) => fmt(u.shape)).join(", ")}`, ts);
  const ax = normalizeAxis("stack", axis, shape.length + 1);
  return lax.concatenate(ts.map((t) => expandDims(t, ax)), ax);
}

/**
 * numpy.split: `sections` equal parts (the axis must divide evenly), or the parts
 * between the given split indices.
 */
export function split(x: TensorLike, sections: number | readonly number[], axis = 0): Tensor[] {
  const t = asTensor(x, undefined, "split");
  const ax = normalizeAxis("split", axis, t.ndim, t);
  const n = t.shape[ax]!;
  let cuts: number[];
  if (typeof sections === "number") {
    if (!Number.isInteger(sections) || sections < 1 || n % sections !== 0)
      throw shapeError("split", `array split does not result in an equal division: axis ${ax} of size ${n} into ${sections}`, [t]);
    cuts = Array.from({ length: sections - 1 }, (_, i) => ((i + 1) * n) / sections);
  } else cuts = sections.map((c) => Math.min(Math.max(c < 0 ? c + n : c, 0), n));
  const bounds = [0, ...cuts, n];
  return bounds.slice(1).map((hi, i) => {
    const lo = Math.min(bounds[i]!, hi);
    return lax.slice(t, t.shape.map((_, a) => (a === ax ? lo : 0)), t.shape.map((d, a) => (a === ax ? hi : d)));
  });
}

export type PadWidth = number | readonly [number, number] | readonly (readonly [number, number])[];

/** numpy.pad in constant mode: `width` for every side, `[before, after]` for every axis, or one pair per axis. */
export function pad(x: TensorLike, width: PadWidth, options: { value?: number } = {}): Tensor {
  const t = asTensor(x, undefined, "pad");
  let pairs: (readonly [number, number])[];
  if (typeof width === "number") pairs = t.shape.map(() => [width, width] as const);
  else if (typeof width[0] === "number") pairs = t.shape.map(() => width as readonly [number, number]);
  else pairs = [...(width as readonly (readonly [number, number])[])];
  if (pairs.length !== t.ndim || pairs.some((p) => p.length !== 2 || p.some((v) => !Number.isInteger(v) || v < 0)))
    throw shapeError("pad", `pad width ${JSON.stringify(width)} must give non-negative [before, after] integers for each of the ${t.ndim} axes`, [t]);
  return lax.pad(t, pairs.map((p) => p[0]), pairs.map((p) => p[1]), options.value ?? 0);
}

/** numpy.tile: `x` repeated `reps` times along each axis (broadcast, then merge axis pairs). */
export function tile(x: TensorLike, reps: number | readonly number[]): Tensor {
  let t = asTensor(x, undefined, "tile");
  let r = typeof reps === "number" ? [reps] : [...reps];
  if (!r.every((v) => Number.isInteger(v) && v >= 0)) throw shapeError("tile", `reps [${r}] must be non-negative integers`, [t]);
  if (r.length < t.ndim) r = [...t.shape.slice(r.length).map(() => 1), ...r];
  if (t.ndim < r.length) t = lax.reshape(t, [...r.slice(t.ndim).map(() => 1), ...t.shape]);
  const wide = t.shape.flatMap((d, i) => [r[i]!, d]);
  const b = lax.broadcastInDim(t, wide, t.shape.map((_, i) => 2 * i + 1));
  return lax.reshape(b, t.shape.map((d, i) => d * r[i]!));
}

/** numpy.repeat with one count: each element repeated along `axis` (the flattened array when omitted). */
export function repeat(x: TensorLike, repeats: number, axis?: number | null): Tensor {
  let t = asTensor(x, undefined, "repeat");
  if (!Number.isInteger(repeats) || repeats < 0) throw shapeError("repeat", `repeats = ${repeats} must be a non-negative integer`, [t]);
  if (axis === null || axis === undefined) {
    t = lax.reshape(t, [t.size]);
    axis = 0;
  }
  const ax = normalizeAxis("repeat", axis, t.ndim, t);
  const wide = [...t.shape.slice(0, ax + 1), repeats, ...t.shape.slice(ax + 1)];
  const b = lax.broadcastInDim(t, wide, t.shape.map((_, i) => (i <= ax ? i : i + 1)));
  return lax.reshape(b, t.shape.map((d, i) => (i === ax ? d * repeats : d)));
}
