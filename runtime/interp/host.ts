/**
 * What every evaluation rule shares: the rule type, result types from the
 * primitive's own shape rule, conversion of a number into a dtype, and strided
 * copies (transpose, broadcast, slice, pad and concatenate are all one copy).
 */
import {
  type AbstractValue, type DType, type HostArray, type HostData, type Shape, allocHost, sizeOf, stridesOf,
} from "../../ir/dtype.js";
import { type Primitive, type PrimitiveParams, inferTypes } from "../../ir/primitives.js";

/** Reference evaluation of one primitive on host arrays. */
export type EvalRule<P extends Primitive> = (inputs: HostArray[], params: PrimitiveParams[P]) => HostArray[];

/** A rule table for a group of primitives; `evalRules` joins them and the type demands every primitive. */
export type EvalRules<K extends Primitive> = { readonly [P in K]: EvalRule<P> };

/**
 * Result types from the primitive's shape rule, so a rule called on bad operands
 * fails with the same ShapeError as tracing would, and shapes are defined once.
 */
export function resultTypes<P extends Primitive>(prim: P, inputs: HostArray[], params: PrimitiveParams[P]): AbstractValue[] {
  return inferTypes(prim, inputs, params);
}

export function emptyLike(t: AbstractValue): HostArray & { data: HostData } {
  return { dtype: t.dtype, shape: t.shape, data: allocHost(t.dtype, sizeOf(t.shape)) };
}

export const I32_MIN = -2147483648;
export const I32_MAX = 2147483647;
export const U32_MAX = 4294967295;

/**
 * A float64 number as the dtype stores it, as `cast` from f32 does: round to f32;
 * truncate toward zero and saturate for integers (NaN → 0); `x != 0` for bool.
 */
export function fromFloat(dtype: DType): (x: number) => number {
  switch (dtype) {
    case "f32":
      return Math.fround;
    case "i32":
      return (x) => (x !== x ? 0 : x <= I32_MIN ? I32_MIN : x >= I32_MAX ? I32_MAX : Math.trunc(x));
    case "u32":
      return (x) => (x !== x || x <= 0 ? 0 : x >= U32_MAX ? U32_MAX : Math.trunc(x));
    case "bool":
      return (x) => (x !== 0 ? 1 : 0);
    default:
      return dtype satisfies never;
  }
}

/** The product of `shape[from..to)`. */
export function extent(shape: Shape, from: number, to = shape.length): number {
  let n = 1;
  for (let i = from; i < to; i++) n *= shape[i]!;
  return n;
}

/** Splits a shape around `axis` into (outer, size, inner), for strided walks along the axis. */
export function around(shape: Shape, axis: number): [number, number, number] {
  return [extent(shape, 0, axis), shape[axis]!, extent(shape, axis + 1)];
}

/**
 * dst[dstOff + Σ i_k·dstStrides_k] = src[srcOff + Σ i_k·srcStrides_k] over every index
 * of `shape`. A stride of 0 in src broadcasts.
 */
export function copyStrided(
  src: HostData, srcOff: number, srcStrides: readonly number[],
  dst: HostData, dstOff: number, dstStrides: readonly number[],
  shape: Shape,
): void {
  const r = shape.length;
  if (sizeOf(shape) === 0) return;
  if (r === 0) {
    dst[dstOff] = src[srcOff]!;
    return;
  }
  const n = shape[r - 1]!, ss = srcStrides[r - 1]!, ds = dstStrides[r - 1]!;
  const idx = new Array<number>(r - 1).fill(0);
  let s = srcOff, d = dstOff;
  for (;;) {
    for (let i = 0; i < n; i++) dst[d + i * ds] = src[s + i * ss]!;
    let k = r - 2;
    for (; k >= 0; k--) {
      idx[k]!++;
      s += srcStrides[k]!;
      d += dstStrides[k]!;
      if (idx[k]! < shape[k]!) break;
      s -= srcStrides[k]! * shape[k]!;
      d -= dstStrides[k]! * shape[k]!;
      idx[k] = 0;
    }
    if (k < 0) return;
  }
}

/** The data of `x` laid out in the axis order `perm` (row-major); `x.data` itself when perm is the identity. */
export function permuted(x: HostArray, perm: readonly number[]): HostData {
  if (perm.every((p, i) => p === i)) return x.data;
  const strides = stridesOf(x.shape);
  const shape = perm.map((p) => x.shape[p]!);
  const out = allocHost(x.dtype, sizeOf(shape));
  copyStrided(x.data, 0, perm.map((p) => strides[p]!), out, 0, stridesOf(shape), shape);
  return out;
}
