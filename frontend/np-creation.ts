/**
 * np creation functions. Host data (`array`) is uploaded eagerly even inside jit,
 * where it becomes a captured constant; shaped fills and ranges (`full`, `arange`,
 * `eye`, `linspace`) are built from `constant`/`iota` primitives, so inside jit
 * they stage as graph nodes the compiler can fold instead of as uploaded buffers.
 */
import { type DType, type HostData, allocHost, isDType, sizeOf } from "../ir/dtype.js";
import type { Tensor } from "./core.js";
import { fromHost, full as fullTensor } from "./creation.js";
import * as lax from "./lax.js";
import { isTensor, shapeError, shapeOf } from "./np-broadcast.js";

export type NestedArray = number | boolean | readonly NestedArray[];
export type TypedArray =
  | Float32Array | Float64Array | Int32Array | Int16Array | Int8Array
  | Uint32Array | Uint16Array | Uint8Array | Uint8ClampedArray;

export interface ArrayOptions {
  readonly dtype?: DType;
  /** Shape of the result; with a typed array the default is one axis of its length. */
  readonly shape?: readonly number[];
}

function typedArrayDType(a: TypedArray): DType {
  if (a instanceof Float32Array || a instanceof Float64Array) return "f32";
  if (a instanceof Int32Array || a instanceof Int16Array || a instanceof Int8Array) return "i32";
  return "u32";
}

/** Shape and row-major leaves of a nested JS array; ragged nesting is a ShapeError. */
function flattenNested(x: NestedArray): { shape: number[]; leaves: (number | boolean)[] } {
  const shape: number[] = [];
  for (let v: NestedArray = x; Array.isArray(v); v = (v as readonly NestedArray[])[0]!) {
    shape.push(v.length);
    if (v.length === 0) break;
  }
  const leaves: (number | boolean)[] = [];
  const walk = (v: NestedArray, depth: number, path: string): void => {
    if (depth === shape.length) {
      if (typeof v !== "number" && typeof v !== "boolean")
        throw shapeError("array", `ragged nested array: element ${path || "[]"} is a list where a number was expected (shape so far [${shape}])`);
      leaves.push(v);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth])
      throw shapeError("array", `ragged nested array: element ${path || "[]"} has ${Array.isArray(v) ? `length ${v.length}` : "no length"}, expected ${shape[depth]} (shape [${shape}])`);
    v.forEach((c: NestedArray, i: number) => walk(c, depth + 1, `${path}[${i}]`));
  };
  walk(x, 0, "");
  return { shape, leaves };
}

/** Values converted to `dtype` the way numpy's astype does (truncation, 0/1 for bool). */
function hostData(dtype: DType, values: ArrayLike<number | boolean>): HostData {
  const out = allocHost(dtype, values.length);
  for (let i = 0; i < values.length; i++) {
    const v = Number(values[i]);
    out[i] = dtype === "bool" ? (v !== 0 ? 1 : 0) : dtype === "f32" ? v : Number.isFinite(v) ? Math.trunc(v) : 0;
  }
  return out;
}

/**
 * A tensor from nested JS arrays, a typed array, a JS scalar or a tensor. The dtype
 * defaults to f32 for numbers, bool for booleans, and follows a typed array's
 * element type (Float* → f32, Int* → i32, Uint* → u32).
 */
export function array(data: NestedArray | TypedArray | Tensor, options: ArrayOptions = {}): Tensor {
  if (options.dtype !== undefined && !isDType(options.dtype)) throw shapeError("array", `unknown dtype '${String(options.dtype)}'`);
  if (isTensor(data)) {
    const t = options.dtype ? lax.cast(data, options.dtype) : data;
    return options.shape ? lax.reshape(t, checkSize(options.shape, t.size)) : t;
  }
  let shape: number[], values: ArrayLike<number | boolean>, inferred: DType;
  if (ArrayBuffer.isView(data)) {
    shape = [data.length];
    values = data;
    inferred = typedArrayDType(data);
  } else {
    const flat = flattenNested(data);
    shape = flat.shape;
    values = flat.leaves;
    inferred = flat.leaves.length > 0 && flat.leaves.every((v) => typeof v === "boolean") ? "bool" : "f32";
  }
  if (options.shape) shape = checkSize(options.shape, values.length);
  const dtype = options.dtype ?? inferred;
  return fromHost(dtype, shape, hostData(dtype, values));
}

function checkSize(shape: readonly number[], n: number): number[] {
  const s = shapeOf("array", shape);
  if (sizeOf(s) !== n) throw shapeError("array", `shape [${s}] needs ${sizeOf(s)} elements, the data has ${n}`);
  return s;
}

/** `x` itself when it is a tensor (cast when `dtype` differs), else `array(x)`. */
export function asarray(x: NestedArray | TypedArray | Tensor, dtype?: DType): Tensor {
  return isTensor(x) ? (dtype ? lax.cast(x, dtype) : x) : array(x, dtype ? { dtype } : {});
}

export function full(shape: number | readonly number[], value: number | boolean, dtype?: DType): Tensor {
  return fullTensor(shapeOf("full", shape), value, dtype);
}
export const zeros = (shape: number | readonly number[], dtype: DType = "f32") => full(shape, 0, dtype);
export const ones = (shape: number | readonly number[], dtype: DType = "f32") => full(shape, 1, dtype);
export const fullLike = (x: Tensor, value: number | boolean, dtype?: DType) => fullTensor(x.shape, value, dtype ?? x.dtype);
export const zerosLike = (x: Tensor, dtype?: DType) => fullLike(x, 0, dtype);
export const onesLike = (x: Tensor, dtype?: DType) => fullLike(x, 1, dtype);

/** iota(n) · step + start, folding away the identity steps. */
function affineRange(n: number, start: number, step: number, dtype: DType): Tensor {
  let y = lax.iota([n], 0, dtype);
  if (step !== 1) y = lax.mul(y, lax.fullLike(y, step));
  if (start !== 0) y = lax.add(y, lax.fullLike(y, start));
  return y;
}

/**
 * numpy.arange: `arange(stop)` or `arange(start, stop, step?)`, optionally followed
 * by `{ dtype }`. Integer arguments give i32 (as in JAX), any fraction gives f32.
 */
export function arange(...args: (number | { dtype?: DType })[]): Tensor {
  const opts = typeof args[args.length - 1] === "object" ? (args.pop() as { dtype?: DType }) : {};
  const nums = args as number[];
  if (nums.length < 1 || nums.length > 3 || !nums.every((v) => typeof v === "number" && Number.isFinite(v)))
    throw shapeError("arange", `expects (stop), (start, stop) or (start, stop, step) as finite numbers, got (${nums.join(", ")})`);
  const [start, stop, step] = nums.length === 1 ? [0, nums[0]!, 1] : [nums[0]!, nums[1]!, nums[2] ?? 1];
  if (step === 0) throw shapeError("arange", `step must not be 0`);
  const dtype = opts.dtype ?? (nums.every(Number.isInteger) ? "i32" : "f32");
  if (dtype === "bool") throw shapeError("arange", `dtype must be numeric, got bool`);
  const n = Math.max(0, Math.ceil((stop - start) / step));
  return affineRange(n, start, step, dtype);
}

export interface LinspaceOptions {
  /** Whether `stop` is the last sample (default true). */
  readonly endpoint?: boolean;
  readonly dtype?: DType;
}

/** numpy.linspace: `num` evenly spaced samples; with `endpoint` the last one is exactly `stop`. */
export function linspace(start: number, stop: number, num = 50, options: LinspaceOptions = {}): Tensor {
  if (!Number.isInteger(num) || num < 0) throw shapeError("linspace", `num = ${num} must be a non-negative integer`);
  const endpoint = options.endpoint ?? true;
  const div = endpoint ? num - 1 : num;
  let y = affineRange(num, start, div > 0 ? (stop - start) / div : 0, "f32");
  if (endpoint && num > 1) {
    const idx = lax.iota([num], 0, "i32");
    const last = lax.eq(idx, lax.fullLike(idx, num - 1));
    y = lax.select(last, lax.fullLike(y, stop), y);
  }
  return lax.cast(y, options.dtype ?? "f32");
}

/** numpy.eye: ones where column − row = k. */
export function eye(n: number, m: number = n, options: { k?: number; dtype?: DType } = {}): Tensor {
  const shape = shapeOf("eye", [n, m]);
  const rows = lax.iota(shape, 0, "i32"), cols = lax.iota(shape, 1, "i32");
  const k = options.k ?? 0;
  const diag = lax.eq(k === 0 ? rows : lax.add(rows, lax.fullLike(rows, k)), cols);
  return lax.cast(diag, options.dtype ?? "f32");
}
