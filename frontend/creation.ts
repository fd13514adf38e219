/**
 * Making tensors from host data. Eagerly a tensor is uploaded to the default
 * backend (keeping a host copy, so small ones can be written into graphs as
 * constants); while a jit traces, shaped fills are staged as graph nodes.
 */
import { type DType, type HostData, type Shape, allocHost, sizeOf } from "../ir/dtype.js";
import { ConcreteTensor, type Tensor, bind1, getBackend, isStaging } from "./core.js";

export function fromHost(dtype: DType, shape: Shape, data: HostData, backend?: string): ConcreteTensor {
  const b = getBackend(backend);
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
export function full(shape: Shape, value: number | boolean, dtype?: DType): Tensor {
  const dt = dtype ?? (typeof value === "boolean" ? "bool" : "f32");
  const v = coerce(dt, value);
  if (isStaging()) {
    const c = bind1("constant", [], { value: [v], shape: [], dtype: dt });
    return shape.length === 0 ? c : bind1("broadcast_in_dim", [c], { shape: [...shape], dims: [] });
  }
  const data = allocHost(dt, sizeOf(shape));
  data.fill(v);
  return fromHost(dt, shape, data);
}
