/**
 * np creation functions. Host data (`array`) is uploaded eagerly even inside jit,
 * where it becomes a captured constant; shaped fills and ranges (`full`, `arange`,
 * `eye`, `linspace`) are built from `constant`/`iota` primitives, so inside jit
 * they stage as graph nodes the compiler can fold instead of as uploaded buffers.
 */
import { type DType, type DTypeName, type HostData, allocHost, sizeOf } from "../ir/dtype.js";
import { ArgumentError, checkScalar, describe, optionalDType } from "./arguments.js";
import type { Tensor } from "./core.js";
import { fromHost, full as fullTensor } from "./creation.js";
import * as lax from "./lax.js";
import { isTensor, shapeError, shapeOf } from "./np-broadcast.js";

export type NestedArray = number | boolean | readonly NestedArray[];
export type TypedArray =
  | Float32Array | Float64Array | Int32Array | Int16Array | Int8Array
  | Uint32Array | Uint16Array | Uint8Array | Uint8ClampedArray;

export interface ArrayOptions {
  readonly dtype?: DTypeName;
  /** Shape of the result; with a typed array the default is one axis of its length. */
  readonly shape?: readonly number[];
}

function typedArrayDType(a: TypedArray): DType {
  if (a instanceof Float32Array || a instanceof Float64Array) return "f32";
  if (a instanceof Int32Array || a instanceof Int16Array || a instanceof Int8Array) return "i32";
  return "u32";
}

/** Nesting deeper than this is refused (numpy 2's limit on dimensions); it also stops a cycle. */
export const MAX_NESTING = 64;

/**
 * Shape and row-major leaves of a nested JS array; ragged nesting is a ShapeError,
 * a hole (`[1, , 3]`) or a non-number an ArgumentError. Iterative, so the depth of
 * the user's nesting never becomes the depth of our stack.
 */
function flattenNested(x: NestedArray): { shape: number[]; leaves: (number | boolean)[] } {
  const shape: number[] = [];
  for (let v: NestedArray = x; Array.isArray(v); v = (v as readonly NestedArray[])[0]!) {
    if (shape.length === MAX_NESTING)
      throw new ArgumentError("np.array", "data", `arrays nested more than ${MAX_NESTING} deep (or a cyclic array)`,
        `nested arrays of at most ${MAX_NESTING} levels`);
    shape.push(v.length);
    if (v.length === 0) break;
  }
  const leaves: (number | boolean)[] = [];
  const pathOf = (index: readonly number[]) => index.map((i) => `[${i}]`).join("") || "[]";
  // Depth-first over (array, depth, index path), children pushed in reverse to keep row-major order.
  const stack: { v: unknown; index: number[] }[] = [{ v: x, index: [] }];
  while (stack.length) {
    const { v, index } = stack.pop()!;
    const depth = index.length;
    if (depth === shape.length) {
      if (typeof v !== "number" && typeof v !== "boolean") {
        if (Array.isArray(v))
          throw shapeError("array", `ragged nested array: element ${pathOf(index)} is a list where a number was expected (shape so far [${shape}])`);
        throw new ArgumentError("np.array", `element ${pathOf(index)}`, describe(v), "a number or a boolean");
      }
      leaves.push(v);
      continue;
    }
    if (!Array.isArray(v) || v.length !== shape[depth])
      throw shapeError("array", `ragged nested array: element ${pathOf(index)} has ${Array.isArray(v) ? `length ${v.length}` : "no length"}, expected ${shape[depth]} (shape [${shape}])`);
    for (let i = v.length - 1; i >= 0; i--) {
      if (!(i in v))
        throw new ArgumentError("np.array", `element ${pathOf([...index, i])}`, "a hole (an array literal with a missing element)", "a number or a boolean");
      stack.push({ v: v[i], index: [...index, i] });
    }
  }
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
  if (options === null || typeof options !== "object")
    throw new ArgumentError("np.array", "options", describe(options), "an object { dtype?, shape? }");
  const dtype = optionalDType("np.array", "options.dtype", options.dtype);
  if (isTensor(data)) {
    const t = dtype ? lax.cast(data, dtype) : data;
    return options.shape ? lax.reshape(t, checkSize(options.shape, t.size)) : t;
  }
  let shape: number[], values: ArrayLike<number | boolean>, inferred: DType;
  if (ArrayBuffer.isView(data)) {
    shape = [data.length];
    values = data;
    inferred = typedArrayDType(data);
  } else {
    if (typeof data !== "number" && typeof data !== "boolean" && !Array.isArray(data))
      throw new ArgumentError("np.array", "data", describe(data), "a number, a boolean, a (nested) array of them, a typed array or a Tensor");
    const flat = flattenNested(data);
    shape = flat.shape;
    values = flat.leaves;
    inferred = flat.leaves.length > 0 && flat.leaves.every((v) => typeof v === "boolean") ? "bool" : "f32";
  }
  if (options.shape) shape = checkSize(options.shape, values.length);
  const dt = dtype ?? inferred;
  return fromHost(dt, shape, hostData(dt, values));
}

function checkSize(shape: readonly number[], n: number): number[] {
  const s = shapeOf("array", shape);
  if (sizeOf(s) !== n) throw shapeError("array", `shape [${s}] needs ${sizeOf(s)} elements, the data has ${n}`);
  return s;
}

/** `x` itself when it is a tensor (cast when `dtype` differs), else `array(x)`. */
export function asarray(x: NestedArray | TypedArray | Tensor, dtype?: DTypeName): Tensor {
  const dt = optionalDType("np.asarray", "dtype", dtype);
  return isTensor(x) ? (dt ? lax.cast(x, dt) : x) : array(x, dt ? { dtype: dt } : {});
}

function fill(fn: string, shape: number | readonly number[], value: number | boolean, dtype?: DTypeName): Tensor {
  const s = shapeOf(fn, shape);
  const v = checkScalar(`np.${fn}`, "fill value", value);
  return fullTensor(s, v, optionalDType(`np.${fn}`, "dtype", dtype), `np.${fn}`);
}
function fillLike(fn: string, x: Tensor, value: number | boolean, dtype?: DTypeName): Tensor {
  if (!isTensor(x)) throw new ArgumentError(`np.${fn}`, "x", describe(x), "a Tensor");
  return fullTensor(x.shape, checkScalar(`np.${fn}`, "fill value", value), optionalDType(`np.${fn}`, "dtype", dtype) ?? x.dtype, `np.${fn}`);
}
export const full = (shape: number | readonly number[], value: number | boolean, dtype?: DTypeName) => fill("full", shape, value, dtype);
export const zeros = (shape: number | readonly number[], dtype: DTypeName = "f32") => fill("zeros", shape, 0, dtype);
export const ones = (shape: number | readonly number[], dtype: DTypeName = "f32") => fill("ones", shape, 1, dtype);
export const fullLike = (x: Tensor, value: number | boolean, dtype?: DTypeName) => fillLike("fullLike", x, value, dtype);
export const zerosLike = (x: Tensor, dtype?: DTypeName) => fillLike("zerosLike", x, 0, dtype);
export const onesLike = (x: Tensor, dtype?: DTypeName) => fillLike("onesLike", x, 1, dtype);

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
export function arange(...args: (number | { dtype?: DTypeName })[]): Tensor {
  const opts = typeof args[args.length - 1] === "object" && args[args.length - 1] !== null ? (args.pop() as { dtype?: DTypeName }) : {};
  const nums = args as number[];
  if (nums.length < 1 || nums.length > 3 || !nums.every((v) => typeof v === "number" && Number.isFinite(v)))
    throw shapeError("arange", `expects (stop), (start, stop) or (start, stop, step) as finite numbers, got (${nums.join(", ")})`);
  const [start, stop, step] = nums.length === 1 ? [0, nums[0]!, 1] : [nums[0]!, nums[1]!, nums[2] ?? 1];
  if (step === 0) throw shapeError("arange", `step must not be 0`);
  const dtype = optionalDType("np.arange", "dtype", opts.dtype) ?? (nums.every(Number.isInteger) ? "i32" : "f32");
  if (dtype === "bool") throw shapeError("arange", `dtype must be numeric, got bool`);
  const n = Math.max(0, Math.ceil((stop - start) / step));
  return affineRange(n, start, step, dtype);
}

export interface LinspaceOptions {
  /** Whether `stop` is the last sample (default true). */
  readonly endpoint?: boolean;
  readonly dtype?: DTypeName;
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
  return lax.cast(y, optionalDType("np.linspace", "dtype", options.dtype) ?? "f32");
}

/** numpy.eye: ones where column − row = k. */
export function eye(n: number, m: number = n, options: { k?: number; dtype?: DTypeName } = {}): Tensor {
  const shape = shapeOf("eye", [n, m]);
  const rows = lax.iota(shape, 0, "i32"), cols = lax.iota(shape, 1, "i32");
  const k = options.k ?? 0;
  const diag = lax.eq(k === 0 ? rows : lax.add(rows, lax.fullLike(rows, k)), cols);
  return lax.cast(diag, optionalDType("np.eye", "dtype", options.dtype) ?? "f32");
}
