/**
 * Reductions and scans: reduce_sum/max/min over any set of axes, argmax, cumsum,
 * top_k. f32 sums accumulate in float64 and round once; integer sums wrap at
 * every step like int32/uint32 hardware. max/min propagate NaN.
 */
import type { DType, HostData } from "../../ir/dtype.js";
import { REDUCE_OPS, type ReduceOp } from "../../ir/primitives.js";
import { type EvalRule, type EvalRules, I32_MAX, I32_MIN, U32_MAX, around, emptyLike, extent, permuted, resultTypes } from "./host.js";

interface Monoid {
  /** The result of an empty reduction. */
  readonly identity: number;
  readonly combine: (acc: number, x: number) => number;
}

function wrappingAdd(dtype: DType): (acc: number, x: number) => number {
  return dtype === "i32" ? (a, x) => (a + x) | 0 : dtype === "u32" ? (a, x) => (a + x) >>> 0 : (a, x) => a + x;
}

const monoids: { readonly [K in ReduceOp]: (dtype: DType) => Monoid } = {
  reduce_sum: (dtype) => ({ identity: 0, combine: wrappingAdd(dtype) }),
  reduce_max: (dtype) => ({ identity: dtype === "i32" ? I32_MIN : dtype === "u32" ? 0 : -Infinity, combine: Math.max }),
  reduce_min: (dtype) => ({ identity: dtype === "i32" ? I32_MAX : dtype === "u32" ? U32_MAX : Infinity, combine: Math.min }),
};

/** Moves the reduced axes last, then folds each contiguous run. An empty `axes` copies. */
function reduceRule<P extends ReduceOp>(op: P): EvalRule<P> {
  return (inputs, params) => {
    const x = inputs[0]!;
    const out = emptyLike(resultTypes(op, inputs, params)[0]!);
    const kept = x.shape.map((_, i) => i).filter((i) => !params.axes.includes(i));
    const data = permuted(x, [...kept, ...params.axes]);
    const n = extent(params.axes.map((a) => x.shape[a]!), 0);
    const { identity, combine } = monoids[op](x.dtype);
    for (let o = 0; o < out.data.length; o++) {
      let acc = identity;
      for (let i = o * n, end = i + n; i < end; i++) acc = combine(acc, data[i]!);
      out.data[o] = acc;
    }
    return [out];
  };
}


/** First index of the maximum; a NaN counts as the maximum (numpy.argmax). */
const argmax: EvalRule<"argmax"> = (inputs, params) => {
  const x = inputs[0]!;
  const out = emptyLike(resultTypes("argmax", inputs, params)[0]!);
  const [outer, n, inner] = around(x.shape, params.axis);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      const base = o * n * inner + i;
      let best = x.data[base]!, at = 0;
      for (let j = 1; j < n && best === best; j++) {
        const v = x.data[base + j * inner]!;
        if (v > best || v !== v) (best = v), (at = j);
      }
      out.data[o * inner + i] = at;
    }
  return [out];
};

/** Inclusive prefix sum along `axis` (from the end when `reverse`), float64 running sum for f32. */
const cumsum: EvalRule<"cumsum"> = (inputs, params) => {
  const x = inputs[0]!;
  const out = emptyLike(resultTypes("cumsum", inputs, params)[0]!);
  const [outer, n, inner] = around(x.shape, params.axis);
  const add = wrappingAdd(x.dtype);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      let acc = 0;
      for (let s = 0; s < n; s++) {
        const at = o * n * inner + (params.reverse ? n - 1 - s : s) * inner + i;
        acc = add(acc, x.data[at]!);
        out.data[at] = acc;
      }
    }
  return [out];
};

/** a ranks before b: larger first, NaN largest, ties to the lower index (lax.top_k). */
function ranksBefore(d: HostData, a: number, b: number): number {
  const x = d[a]!, y = d[b]!;
  if (x !== x) return y !== y ? a - b : -1;
  if (y !== y) return 1;
  return x > y ? -1 : x < y ? 1 : a - b;
}

/** The k largest along the last axis, descending, and their indices (i32). */
const topK: EvalRule<"top_k"> = (inputs, params) => {
  const x = inputs[0]!;
  const [vt, it] = resultTypes("top_k", inputs, params);
  const values = emptyLike(vt!), indices = emptyLike(it!);
  const n = x.shape[x.shape.length - 1]!, k = params.k, rows = extent(x.shape, 0, x.shape.length - 1);
  const order = new Array<number>(n);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < n; j++) order[j] = r * n + j;
    order.sort((a, b) => ranksBefore(x.data, a, b));
    for (let j = 0; j < k; j++) {
      values.data[r * k + j] = x.data[order[j]!]!;
      indices.data[r * k + j] = order[j]! - r * n;
    }
  }
  return [values, indices];
};

export const reduceRules: EvalRules<ReduceOp | "argmax" | "cumsum" | "top_k"> = {
  ...(Object.fromEntries(REDUCE_OPS.map((op) => [op, reduceRule(op)])) as unknown as EvalRules<ReduceOp>),
  argmax,
  cumsum,
  top_k: topK,
};

