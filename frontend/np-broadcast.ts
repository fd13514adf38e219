/**
 * What numpy adds on top of lax's strict primitives: dtype promotion (with JS
 * numbers weakly typed, as Python scalars are in JAX) and numpy broadcasting.
 * Every np function converts its operands here, so every np error reads the same.
 */
import { type DType, formatType } from "../ir/dtype.js";
import { ShapeError } from "../ir/errors.js";
import { Tensor, type TensorLike, userFrame } from "./core.js";
import { scalar } from "./creation.js";
import { ArgumentError, checkShape, describe } from "./arguments.js";
import * as lax from "./lax.js";

export type { TensorLike };
/** `null`/omitted: every axis. Negative axes count from the end. */
export type Axis = number | readonly number[] | null | undefined;

export const isTensor = (x: unknown): x is Tensor => x instanceof Tensor;

/** A ShapeError raised by an np function, pointing at the user's line. */
export function shapeError(op: string, detail: string, operands: readonly (TensorLike | { shape: readonly number[]; dtype: DType })[] = []): ShapeError {
  const describe = (x: (typeof operands)[number]) =>
    typeof x === "object" ? formatType(x) : `${typeof x} ${String(x)}`;
  return new ShapeError(op, detail, operands.map(describe)).withFrame(userFrame());
}

// Promotion lattice: bool < u32 < i32 < f32. i32 ⊔ u32 = i32, as JAX gives with x64 off.
const RANK: Record<DType, number> = { bool: 0, u32: 1, i32: 2, f32: 3 };

function join(a: DType, b: DType): DType {
  return RANK[a] >= RANK[b] ? a : b;
}

/**
 * The dtype numpy-style operands promote to. Tensors are strongly typed; a JS
 * boolean takes any tensor's dtype; a JS number takes the tensors' dtype unless it
 * would be lost (a fraction with integers promotes to f32, a number with bools to
 * i32 or f32). With no tensor, numbers give f32 and booleans alone give bool.
 */
export function resultType(...xs: TensorLike[]): DType {
  xs.forEach((x, i) => checkTensorLike("resultType", `argument ${i}`, x));
  let strong: DType | undefined;
  for (const x of xs) if (isTensor(x)) strong = strong ? join(strong, x.dtype) : x.dtype;
  let dt: DType = strong ?? (xs.every((x) => typeof x === "boolean") ? "bool" : "f32");
  for (const x of xs) {
    if (typeof x !== "number") continue;
    if (!Number.isInteger(x)) dt = "f32";
    else if (dt === "bool") dt = "i32";
  }
  return dt;
}

/**
 * Refuses what is not a tensor operand, as jax.numpy does (lists too: JAX asks for
 * jnp.array first, so a list's copy to the device is never implicit).
 */
export function checkTensorLike(op: string, argument: string, x: unknown): asserts x is TensorLike {
  if (isTensor(x) || typeof x === "number" || typeof x === "boolean") return;
  const hint = Array.isArray(x) || ArrayBuffer.isView(x) ? "make a tensor of it first with np.array(...)" : "";
  throw new ArgumentError(op.includes(".") ? op : `np.${op}`, argument, describe(x), "a Tensor, a number or a boolean", hint);
}

/** `x` as a tensor of `dtype` (JS values become staging-aware scalars); `op` names the caller in errors. */
export function asTensor(x: TensorLike, dtype?: DType, op = "asarray", argument = "x"): Tensor {
  checkTensorLike(op, argument, x);
  if (isTensor(x)) return dtype ? lax.cast(x, dtype) : x;
  return scalar(x, dtype ?? resultType(x));
}

/** numpy's broadcast of several shapes; `op` names the caller in the error. */
export function broadcastShapes(op: string, operands: readonly (TensorLike | { shape: readonly number[]; dtype: DType })[]): number[] {
  const shapes = operands.map((x) => (typeof x === "object" ? x.shape : []));
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    s.forEach((d, i) => {
      const j = rank - s.length + i;
      if (out[j] === 1) out[j] = d;
      else if (d !== 1 && d !== out[j])
        throw shapeError(op, `shapes ${shapes.map((t) => `[${t}]`).join(" and ")} cannot be broadcast together (axis ${j - rank}: ${out[j]} vs ${d})`, operands);
    });
  }
  return out;
}

/** `x` broadcast to `shape` by numpy's rule (leading axes added, size-1 axes stretched). */
export function broadcastTo(x: TensorLike, shape: readonly number[], op = "broadcastTo"): Tensor {
  const t = asTensor(x);
  const r = shape.length, n = t.ndim;
  const ok = n <= r && t.shape.every((d, i) => d === 1 || d === shape[r - n + i]);
  if (!ok) throw shapeError(op, `cannot broadcast shape [${t.shape}] to [${shape}]`, [t]);
  return lax.broadcastInDim(t, shape, t.shape.map((_, i) => r - n + i));
}

/**
 * Operands converted to one dtype (`dtype`, or their promotion) and broadcast to
 * one shape: what every elementwise np function does first.
 */
export function promoteAndBroadcast(op: string, xs: readonly TensorLike[], dtype?: DType): Tensor[] {
  xs.forEach((x, i) => checkTensorLike(op, xs.length === 1 ? "x" : `x${i + 1}`, x));
  const dt = dtype ?? resultType(...xs);
  const shape = broadcastShapes(op, xs);
  return xs.map((x) => broadcastTo(asTensor(x, dt), shape, op));
}

/** One axis normalised into [0, rank). */
export function normalizeAxis(op: string, axis: number, rank: number, operand?: Tensor): number {
  if (typeof axis !== "number") throw new ArgumentError(`np.${op}`, "axis", describe(axis), "an integer");
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank)
    throw shapeError(op, `axis ${axis} is out of bounds for an array of rank ${rank}`, operand ? [operand] : []);
  return axis < 0 ? axis + rank : axis;
}

/** Axes normalised, sorted and checked for repeats; null/undefined means all axes. */
export function normalizeAxes(op: string, axis: Axis, x: Tensor): number[] {
  if (axis === null || axis === undefined) return [...x.shape.keys()];
  if (typeof axis !== "number" && !(Array.isArray(axis) && axis.every((a) => typeof a === "number")))
    throw new ArgumentError(`np.${op}`, "axis", describe(axis), "an integer, a list of integers, or null for every axis",
      typeof axis === "object" && "axis" in axis ? `pass the axis positionally: np.${op}(x, ${String((axis as { axis: unknown }).axis)})` : "");
  const list = typeof axis === "number" ? [axis] : [...axis];
  const axes = list.map((a) => normalizeAxis(op, a, x.ndim, x));
  if (new Set(axes).size !== axes.length) throw shapeError(op, `repeated axis in [${list}]`, [x]);
  return axes.sort((a, b) => a - b);
}

/** A shape given as a number or a list. */
export function shapeOf(op: string, shape: number | readonly number[]): number[] {
  return checkShape(`np.${op}`, "shape", shape);
}

/** Float operands for ops that only exist on floats (numpy promotes integers to float). */
export const toFloat = (x: TensorLike, op?: string): Tensor => {
  const t = asTensor(x, undefined, op);
  return t.dtype === "f32" ? t : lax.cast(t, "f32");
};
