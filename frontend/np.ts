/**
 * `np`: the numpy-style API (`import { np } from "smelt"`), numpy names in
 * camelCase. Functions are compositions of lax primitives with numpy's
 * broadcasting and dtype promotion in front; they work the same eagerly and under
 * jit. Importing this module also attaches the common ones as Tensor methods, so
 * `x.add(y).sum()` works. The implementation is split by idea into np-*.ts.
 */
import type { DType } from "../ir/dtype.js";
import { Tensor, type TensorLike, tensorMethods } from "./core.js";
import { type Axis, broadcastShapes as broadcastShapesOf } from "./np-broadcast.js";
import * as creation from "./np-creation.js";
import * as index from "./np-index.js";
import * as linalg from "./np-linalg.js";
import * as math from "./np-math.js";
import * as reduce from "./np-reduce.js";
import * as shape from "./np-shape.js";

export type { Axis, TensorLike } from "./np-broadcast.js";
export { resultType } from "./np-broadcast.js";
export type { ArrayOptions, LinspaceOptions, NestedArray, TypedArray } from "./np-creation.js";
export { array, asarray, zeros, ones, full, zerosLike, onesLike, fullLike, arange, linspace, eye } from "./np-creation.js";
export {
  add, subtract, multiply, divide, power, floorDivide, remainder, maximum, minimum, atan2,
  negative, abs, sign, square, reciprocal, exp, expm1, log, log1p, log2, log10, sin, cos, tanh, sqrt, rsqrt, erf,
  floor, ceil, round, clip, where, astype, isnan, isfinite,
  equal, notEqual, less, lessEqual, greater, greaterEqual, logicalAnd, logicalOr, logicalXor, logicalNot,
} from "./np-math.js";
// Short numpy aliases.
export { subtract as sub, multiply as mul, divide as div, power as pow, negative as neg, atan2 as arctan2 } from "./np-math.js";
export { sum, mean, max, min, std, any, all, argmax, argmin, cumsum, topK } from "./np-reduce.js";
// `var` is a reserved word: it can only be an export name.
export { variance as var } from "./np-reduce.js";
export type { PadWidth } from "./np-shape.js";
export {
  reshape, ravel, transpose, swapaxes, moveaxis, expandDims, squeeze, broadcastTo,
  concatenate, stack, split, pad, tile, repeat,
} from "./np-shape.js";
export type { SliceEntry } from "./np-index.js";
export { slice, flip, take, takeAlongAxis, oneHot } from "./np-index.js";
export { matmul, dot, outer, einsum } from "./np-linalg.js";

/** numpy.broadcast_shapes: the shape that all `shapes` broadcast to (a ShapeError if none). */
export const broadcastShapes = (...shapes: (readonly number[])[]): number[] =>
  broadcastShapesOf("broadcastShapes", shapes.map((shape) => ({ shape, dtype: "f32" as const })));

// ---------------------------------------------------------------------------
// Tensor methods

declare module "./core.js" {
  interface TensorMethods {
    abs(): Tensor;
    exp(): Tensor;
    log(): Tensor;
    sqrt(): Tensor;
    tanh(): Tensor;
    square(): Tensor;
    floorDiv(other: TensorLike): Tensor;
    maximum(other: TensorLike): Tensor;
    minimum(other: TensorLike): Tensor;
    clip(lo?: TensorLike | null, hi?: TensorLike | null): Tensor;
    equal(other: TensorLike): Tensor;
    notEqual(other: TensorLike): Tensor;
    less(other: TensorLike): Tensor;
    lessEqual(other: TensorLike): Tensor;
    greater(other: TensorLike): Tensor;
    greaterEqual(other: TensorLike): Tensor;
    dot(other: TensorLike): Tensor;
    var(axis?: Axis, keepdims?: boolean, ddof?: number): Tensor;
    std(axis?: Axis, keepdims?: boolean, ddof?: number): Tensor;
    any(axis?: Axis, keepdims?: boolean): Tensor;
    all(axis?: Axis, keepdims?: boolean): Tensor;
    argmax(axis?: number | null, keepdims?: boolean): Tensor;
    argmin(axis?: number | null, keepdims?: boolean): Tensor;
    cumsum(axis?: number | null): Tensor;
    ravel(): Tensor;
    flatten(): Tensor;
    squeeze(axis?: number | number[] | null): Tensor;
    expandDims(axis: number | number[]): Tensor;
    swapaxes(a: number, b: number): Tensor;
    broadcastTo(shape: readonly number[]): Tensor;
    slice(spec: readonly index.SliceEntry[]): Tensor;
    take(indices: TensorLike | creation.NestedArray, axis?: number | null): Tensor;
    /** The transpose (all axes reversed), numpy's `x.T`. */
    readonly T: Tensor;
  }
}

type Method = (this: Tensor, ...args: never[]) => Tensor;

const methods: Record<string, Method> = {
  add(y: TensorLike) { return math.add(this, y); },
  sub(y: TensorLike) { return math.subtract(this, y); },
  mul(y: TensorLike) { return math.multiply(this, y); },
  div(y: TensorLike) { return math.divide(this, y); },
  pow(y: TensorLike) { return math.power(this, y); },
  floorDiv(y: TensorLike) { return math.floorDivide(this, y); },
  maximum(y: TensorLike) { return math.maximum(this, y); },
  minimum(y: TensorLike) { return math.minimum(this, y); },
  neg() { return math.negative(this); },
  abs() { return math.abs(this); },
  exp() { return math.exp(this); },
  log() { return math.log(this); },
  sqrt() { return math.sqrt(this); },
  tanh() { return math.tanh(this); },
  square() { return math.square(this); },
  clip(lo?: TensorLike | null, hi?: TensorLike | null) { return math.clip(this, lo, hi); },
  equal(y: TensorLike) { return math.equal(this, y); },
  notEqual(y: TensorLike) { return math.notEqual(this, y); },
  less(y: TensorLike) { return math.less(this, y); },
  lessEqual(y: TensorLike) { return math.lessEqual(this, y); },
  greater(y: TensorLike) { return math.greater(this, y); },
  greaterEqual(y: TensorLike) { return math.greaterEqual(this, y); },
  astype(dtype: DType) { return math.astype(this, dtype); },
  matmul(y: TensorLike) { return linalg.matmul(this, y); },
  dot(y: TensorLike) { return linalg.dot(this, y); },
  sum(axis?: Axis, keepdims?: boolean) { return reduce.sum(this, axis, keepdims); },
  mean(axis?: Axis, keepdims?: boolean) { return reduce.mean(this, axis, keepdims); },
  max(axis?: Axis, keepdims?: boolean) { return reduce.max(this, axis, keepdims); },
  min(axis?: Axis, keepdims?: boolean) { return reduce.min(this, axis, keepdims); },
  var(axis?: Axis, keepdims?: boolean, ddof?: number) { return reduce.variance(this, axis, keepdims, ddof); },
  std(axis?: Axis, keepdims?: boolean, ddof?: number) { return reduce.std(this, axis, keepdims, ddof); },
  any(axis?: Axis, keepdims?: boolean) { return reduce.any(this, axis, keepdims); },
  all(axis?: Axis, keepdims?: boolean) { return reduce.all(this, axis, keepdims); },
  argmax(axis?: number | null, keepdims?: boolean) { return reduce.argmax(this, axis, keepdims); },
  argmin(axis?: number | null, keepdims?: boolean) { return reduce.argmin(this, axis, keepdims); },
  cumsum(axis?: number | null) { return reduce.cumsum(this, axis); },
  reshape(s: number | readonly number[]) { return shape.reshape(this, s); },
  transpose(perm?: readonly number[]) { return shape.transpose(this, perm); },
  ravel() { return shape.ravel(this); },
  flatten() { return shape.ravel(this); },
  squeeze(axis?: number | number[] | null) { return shape.squeeze(this, axis); },
  expandDims(axis: number | number[]) { return shape.expandDims(this, axis); },
  swapaxes(a: number, b: number) { return shape.swapaxes(this, a, b); },
  broadcastTo(s: readonly number[]) { return shape.broadcastTo(this, s); },
  slice(spec: readonly index.SliceEntry[]) { return index.slice(this, spec); },
  take(indices: TensorLike | creation.NestedArray, axis?: number | null) { return index.take(this, indices, axis); },
};

for (const [name, fn] of Object.entries(methods))
  Object.defineProperty(Tensor.prototype, name, { value: fn, writable: true, configurable: true });
Object.defineProperty(Tensor.prototype, "T", {
  get(this: Tensor) {
    return shape.transpose(this);
  },
  configurable: true,
});
Object.assign(tensorMethods, methods);
