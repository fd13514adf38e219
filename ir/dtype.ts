/**
 * Element types and static shapes. f16 is planned: adding it means one entry in
 * `DTYPES` and in each table keyed by DType (storage, renderers), nothing else.
 */
export type DType = "f32" | "i32" | "u32" | "bool";

export const DTYPES: readonly DType[] = ["f32", "i32", "u32", "bool"];

export type Shape = readonly number[];

/** The abstract value of an SSA value or a traced tensor: what shape rules see. */
export interface AbstractValue {
  readonly dtype: DType;
  readonly shape: Shape;
}

export type TypedArrayFor<D extends DType> = D extends "f32"
  ? Float32Array
  : D extends "i32"
    ? Int32Array
    : D extends "u32"
      ? Uint32Array
      : Uint8Array;

export type HostData = Float32Array | Int32Array | Uint32Array | Uint8Array;

/** A dense row-major array on the host: the interchange format between backends. */
export interface HostArray {
  readonly dtype: DType;
  readonly shape: Shape;
  readonly data: HostData;
}

export function isDType(s: string): s is DType {
  return (DTYPES as readonly string[]).includes(s);
}

/** numpy's spellings of the dtypes, accepted wherever the API takes a dtype. */
const DTYPE_ALIASES: Readonly<Record<string, DType>> = { float32: "f32", int32: "i32", uint32: "u32" };

/** A dtype as the API accepts it: smelt's short name or numpy's (`"float32"`, `"int32"`, `"uint32"`, `"bool"`). */
export type DTypeName = DType | "float32" | "int32" | "uint32";

/** The DType a name stands for (short or numpy spelling), undefined for anything else. */
export function toDType(name: string): DType | undefined {
  return isDType(name) ? name : Object.hasOwn(DTYPE_ALIASES, name) ? DTYPE_ALIASES[name] : undefined;
}

export function isFloat(d: DType): boolean {
  return d === "f32";
}

export function isInteger(d: DType): boolean {
  return d === "i32" || d === "u32";
}

/** Bytes per element as stored on a device (bool is stored as a 32-bit word on GPUs). */
export function deviceBytes(_d: DType): number {
  return 4;
}

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

export function allocHost(dtype: DType, n: number): HostData {
  switch (dtype) {
    case "f32":
      return new Float32Array(n);
    case "i32":
      return new Int32Array(n);
    case "u32":
      return new Uint32Array(n);
    case "bool":
      return new Uint8Array(n);
    default:
      return dtype satisfies never;
  }
}

export function hostArray(dtype: DType, shape: Shape, data?: ArrayLike<number>): HostArray {
  const out = allocHost(dtype, sizeOf(shape));
  if (data) out.set(data as ArrayLike<number>);
  return { dtype, shape: [...shape], data: out };
}

export function formatType(a: AbstractValue): string {
  return `${a.dtype}[${a.shape.join(",")}]`;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
