/**
 * Checking what users pass to public functions. A wrong argument is an
 * `ArgumentError` (a TypeError) naming the function, the argument, what was
 * given and what is accepted, raised before anything is computed or allocated,
 * rather than a raw TypeError from deep inside or a tensor of NaNs.
 */
import { type DType, type DTypeName, sizeOf, toDType } from "../ir/dtype.js";
import type { BackendName } from "../runtime/backend.js";
import { userFrame } from "./core.js";

export class ArgumentError extends TypeError {
  override name = "ArgumentError";
  constructor(
    /** The public function, as the user spells it (`np.add`, `jit`). */
    readonly fn: string,
    /** The argument's name or position. */
    readonly argument: string,
    /** A short description of the value given. */
    readonly given: string,
    /** What the argument accepts. */
    readonly accepted: string,
    hint = "",
  ) {
    const at = userFrame();
    super(`${fn}: ${argument} must be ${accepted}, got ${given}${hint ? `; ${hint}` : ""}${at ? ` (at ${at})` : ""}`);
  }
}

/** A value described for an error message: its kind and, when short, itself. */
export function describe(v: unknown): string {
  if (v === null) return "null";
  if (v === undefined) return "undefined";
  switch (typeof v) {
    case "string":
      return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v)}`;
    case "bigint":
      return `the bigint ${v}n`;
    case "number":
    case "boolean":
      return `${typeof v} ${v}`;
    case "symbol":
      return `a symbol`;
    case "function":
      return `a function${v.name ? ` (${v.name})` : ""}`;
  }
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  const proto = Object.getPrototypeOf(v);
  if (proto && proto !== Object.prototype && proto.constructor?.name) {
    if (typeof (v as { then?: unknown }).then === "function") return `a Promise (${proto.constructor.name})`;
    return `a ${proto.constructor.name}`;
  }
  const keys = Object.keys(v as object);
  return keys.length ? `an object with keys {${keys.slice(0, 5).join(", ")}${keys.length > 5 ? ", …" : ""}}` : "an empty object {}";
}

/** A dtype name (`"f32"`, or numpy's `"float32"`, `"int32"`, `"uint32"`, `"bool"`) as smelt's DType. */
export function checkDType(fn: string, argument: string, v: unknown): DType {
  const dt = typeof v === "string" ? toDType(v) : undefined;
  if (!dt) throw new ArgumentError(fn, argument, describe(v), `a dtype: "f32" | "i32" | "u32" | "bool" (or "float32", "int32", "uint32")`);
  return dt;
}

/** `checkDType` for an optional dtype. */
export function optionalDType(fn: string, argument: string, v: unknown): DType | undefined {
  return v === undefined ? undefined : checkDType(fn, argument, v);
}

/**
 * Elements of the largest tensor smelt makes: kernels index with 32-bit
 * integers, so a larger one could not be addressed.
 */
export const MAX_ELEMENTS = 2 ** 32;

/** A shape (a number or a list of non-negative integers) within MAX_ELEMENTS, as a fresh array. */
export function checkShape(fn: string, argument: string, shape: unknown): number[] {
  const dims = typeof shape === "number" ? [shape] : Array.isArray(shape) ? [...(shape as unknown[])] : null;
  if (!dims || !dims.every((d): d is number => typeof d === "number" && Number.isInteger(d) && d >= 0))
    throw new ArgumentError(fn, argument, describe(shape), "a shape: a non-negative integer or a list of them");
  if (sizeOf(dims) > MAX_ELEMENTS)
    throw new ArgumentError(fn, argument, `shape [${dims}] (${sizeOf(dims)} elements)`, `a shape of at most 2^32 elements`);
  return dims;
}

/** A scalar fill value: a number or a boolean. */
export function checkScalar(fn: string, argument: string, v: unknown): number | boolean {
  if (typeof v !== "number" && typeof v !== "boolean") throw new ArgumentError(fn, argument, describe(v), "a number or a boolean");
  return v;
}

/** Whether `fn` is an async function, whose tracing would only see a Promise. */
export function checkNotAsync(fn: string, f: unknown): void {
  if (typeof f !== "function")
    throw new ArgumentError(fn, "the function argument", describe(f), "a function");
  const kind = (f as { constructor?: { name?: string } }).constructor?.name;
  if (kind === "AsyncFunction" || kind === "AsyncGeneratorFunction")
    throw new ArgumentError(fn, "the function argument", `an async function`, "a synchronous function",
      "tracing runs the function once and needs its result at once; move awaits outside it");
}

/** A traced function's result that is a Promise: the function was async in disguise. */
export function checkNotPromise(fn: string, result: unknown): void {
  if (result !== null && typeof result === "object" && typeof (result as { then?: unknown }).then === "function")
    throw new ArgumentError(fn, "the traced function's result", "a Promise", "tensors (a pytree of them)",
      "the function must compute its result synchronously; move awaits outside it");
}

/** The backends smelt has. */
export const BACKEND_NAMES: readonly BackendName[] = ["interp", "webgpu", "cuda"];

export function checkBackendName(fn: string, argument: string, name: unknown): BackendName {
  if (!BACKEND_NAMES.includes(name as BackendName))
    throw new ArgumentError(fn, argument, describe(name), `one of ${BACKEND_NAMES.map((b) => `"${b}"`).join(", ")}`);
  return name as BackendName;
}

export type { DTypeName };
