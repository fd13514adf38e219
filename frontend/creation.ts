/**
 * Making tensors from host data. Eagerly a tensor is uploaded to the default
 * backend (keeping a host copy, so small ones can be written into graphs as
 * constants); while a jit traces, shaped fills are staged as graph nodes.
 */
import { type DType, type HostData, type Shape, allocHost, deviceBytes, formatType, sizeOf } from "../ir/dtype.js";
import type { Backend } from "../runtime/backend.js";
import { ArgumentError, MAX_ELEMENTS } from "./arguments.js";
import { ConcreteTensor, type Tensor, bind1, getBackend, isStaging } from "./core.js";

/**
 * The largest host copy an eager tensor may have. Every eager tensor keeps one, so
 * a fill past it would spend seconds writing gigabytes before failing (or be killed).
 */
export const MAX_HOST_BYTES = 2 ** 32;

/**
 * Refuses a tensor the backend could not hold in one buffer, or whose host copy is
 * past MAX_HOST_BYTES, before anything is allocated.
 */
export function checkFits(fn: string, dtype: DType, shape: Shape, backend: Backend): void {
  const n = sizeOf(shape);
  const bytes = n * deviceBytes(dtype);
  const device = backend.target?.limits.maxStorageBufferBindingSize ?? Infinity;
  const limit = Math.min(device, MAX_HOST_BYTES);
  if (n > MAX_ELEMENTS || bytes > limit)
    throw new ArgumentError(fn, "shape", `${formatType({ dtype, shape })} (${n} elements, ${bytes} bytes)`,
      device < MAX_HOST_BYTES ? `a tensor of at most ${device} bytes (the largest buffer ${backend.name} binds)`
        : `a tensor of at most ${MAX_HOST_BYTES} bytes (4 GiB)`);
}

export function fromHost(dtype: DType, shape: Shape, data: HostData, backend?: string): ConcreteTensor {
  const b = getBackend(backend);
  checkFits("np.array", dtype, shape, b);
  return new ConcreteTensor(b, b.upload({ dtype, shape: [...shape], data }), data);
}

function coerce(dtype: DType, x: number | boolean): number {
  const v = Number(x);
  switch (dtype) {
    case "f32":
      return v;
    case "i32":
      return Math.trunc(v) | 0;
    case "u32":
      return Math.trunc(v) >>> 0;
    case "bool":
      return v !== 0 ? 1 : 0;
    default:
      return dtype satisfies never;
  }
}

/** A rank-0 tensor. Numbers default to f32, booleans to bool. */
export function scalar(x: number | boolean, dtype?: DType): Tensor {
  const dt = dtype ?? (typeof x === "boolean" ? "bool" : "f32");
  return full([], x, dt);
}

/** A tensor of `shape` filled with `value`. */
export function full(shape: Shape, value: number | boolean, dtype?: DType, fn = "np.full"): Tensor {
  const dt = dtype ?? (typeof value === "boolean" ? "bool" : "f32");
  const v = coerce(dt, value);
  if (isStaging()) {
    const c = bind1("constant", [], { value: [v], shape: [], dtype: dt });
    return shape.length === 0 ? c : bind1("broadcast_in_dim", [c], { shape: [...shape], dims: [] });
  }
  checkFits(fn, dt, shape, getBackend());
  const data = allocHost(dt, sizeOf(shape));
  data.fill(v);
  return fromHost(dt, shape, data);
}
