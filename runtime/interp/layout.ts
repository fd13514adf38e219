/**
 * Creation and layout: iota, constant, broadcast_in_dim, reshape, transpose, slice,
 * pad, concatenate. Each layout op is one strided copy (see `copyStrided`).
 */
import { stridesOf } from "../../ir/dtype.js";
import { type EvalRule, type EvalRules, copyStrided, emptyLike, extent, fromFloat, permuted, resultTypes } from "./host.js";

type LayoutOp =
  | "iota" | "constant" | "broadcast_in_dim" | "reshape" | "transpose" | "slice" | "pad" | "concatenate";

const iota: EvalRule<"iota"> = (inputs, params) => {
  const out = emptyLike(resultTypes("iota", inputs, params)[0]!);
  const { shape, dim } = params;
  const inner = extent(shape, dim + 1), n = shape[dim]!;
  for (let i = 0; i < out.data.length; i++) out.data[i] = Math.floor(i / inner) % n;
  return [out];
};

/** A constant's values are numbers cast to its dtype like `cast` from f32 (saturating for integers). */
const constant: EvalRule<"constant"> = (inputs, params) => {
  const out = emptyLike(resultTypes("constant", inputs, params)[0]!);
  const f = fromFloat(out.dtype), v = params.value;
  if (v.length === 1) out.data.fill(f(v[0]!));
  else for (let i = 0; i < v.length; i++) out.data[i] = f(v[i]!);
  return [out];
};

/** Operand axis i feeds output axis dims[i]; a size-1 operand axis repeats (stride 0). */
const broadcastInDim: EvalRule<"broadcast_in_dim"> = (inputs, params) => {
  const x = inputs[0]!;
  const out = emptyLike(resultTypes("broadcast_in_dim", inputs, params)[0]!);
  const xs = stridesOf(x.shape);
  const src = out.shape.map(() => 0);
  params.dims.forEach((d, i) => {
    if (x.shape[i] !== 1) src[d] = xs[i]!;
  });
  copyStrided(x.data, 0, src, out.data, 0, stridesOf(out.shape), out.shape);
  return [out];
};

const reshape: EvalRule<"reshape"> = (inputs, params) => {
  const out = emptyLike(resultTypes("reshape", inputs, params)[0]!);
  out.data.set(inputs[0]!.data);
  return [out];
};

const transpose: EvalRule<"transpose"> = (inputs, params) => {
  const x = inputs[0]!;
  const t = resultTypes("transpose", inputs, params)[0]!;
  const data = permuted(x, params.perm);
  return [{ ...t, data: data === x.data ? data.slice() : data }];
};

const slice: EvalRule<"slice"> = (inputs, params) => {
  const x = inputs[0]!;
  const out = emptyLike(resultTypes("slice", inputs, params)[0]!);
  const xs = stridesOf(x.shape);
  const offset = params.start.reduce((acc, s, i) => acc + s * xs[i]!, 0);
  copyStrided(x.data, offset, xs.map((s, i) => s * params.strides[i]!), out.data, 0, stridesOf(out.shape), out.shape);
  return [out];
};

/** Edge padding only (the shape rule admits no negative or interior padding); `value` is cast like a constant. */
const pad: EvalRule<"pad"> = (inputs, params) => {
  const x = inputs[0]!;
  const out = emptyLike(resultTypes("pad", inputs, params)[0]!);
  out.data.fill(fromFloat(out.dtype)(params.value));
  const os = stridesOf(out.shape);
  const offset = params.low.reduce((acc, l, i) => acc + l * os[i]!, 0);
  copyStrided(x.data, 0, stridesOf(x.shape), out.data, offset, os, x.shape);
  return [out];
};

const concatenate: EvalRule<"concatenate"> = (inputs, params) => {
  const out = emptyLike(resultTypes("concatenate", inputs, params)[0]!);
  const os = stridesOf(out.shape);
  let at = 0;
  for (const x of inputs) {
    copyStrided(x.data, 0, stridesOf(x.shape), out.data, at * os[params.axis]!, os, x.shape);
    at += x.shape[params.axis]!;
  }
  return [out];
};

export const layoutRules: EvalRules<LayoutOp> = {
  iota,
  constant,
  broadcast_in_dim: broadcastInDim,
  reshape,
  transpose,
  slice,
  pad,
  concatenate,
};
