/**
 * Contraction and indexing: dot_general, gather, scatter_add. f32 products and
 * sums accumulate in float64 and round once per output element; integer ones wrap
 * like int32 (Math.imul, `| 0`), whose low 32 bits are the same for u32.
 */
import type { HostArray, HostData } from "../../ir/dtype.js";
import { type EvalRule, type EvalRules, around, emptyLike, extent, permuted, resultTypes } from "./host.js";

/**
 * o[b, m, n] = Σ_k a[b, m, k] · b[b, n, k] in float64, for f32 operands widened once.
 * Four columns at a time share each load of `a`; every sum still runs k in order.
 */
function dotFloat(a: Float64Array, b: Float64Array, o: HostData, B: number, M: number, N: number, K: number): void {
  for (let bi = 0; bi < B; bi++)
    for (let m = 0; m < M; m++) {
      const ar = (bi * M + m) * K, or = (bi * M + m) * N;
      let n = 0;
      for (; n + 4 <= N; n += 4) {
        const b0 = (bi * N + n) * K, b1 = b0 + K, b2 = b1 + K, b3 = b2 + K;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (let k = 0; k < K; k++) {
          const x = a[ar + k]!;
          s0 += x * b[b0 + k]!;
          s1 += x * b[b1 + k]!;
          s2 += x * b[b2 + k]!;
          s3 += x * b[b3 + k]!;
        }
        o[or + n] = s0;
        o[or + n + 1] = s1;
        o[or + n + 2] = s2;
        o[or + n + 3] = s3;
      }
      for (; n < N; n++) {
        const br = (bi * N + n) * K;
        let acc = 0;
        for (let k = 0; k < K; k++) acc += a[ar + k]! * b[br + k]!;
        o[or + n] = acc;
      }
    }
}

/** The same for i32 and u32, wrapping modulo 2³² (the low 32 bits agree for both). */
function dotInteger(a: HostData, b: HostData, o: HostData, B: number, M: number, N: number, K: number): void {
  for (let bi = 0; bi < B; bi++)
    for (let m = 0; m < M; m++) {
      const ar = (bi * M + m) * K;
      for (let n = 0; n < N; n++) {
        const br = (bi * N + n) * K;
        let acc = 0;
        for (let k = 0; k < K; k++) acc = (acc + Math.imul(a[ar + k]!, b[br + k]!)) | 0;
        o[(bi * M + m) * N + n] = acc;
      }
    }
}

/**
 * Transposes lhs to [batch, free, contract] and rhs to [batch, free, contract], so
 * out[b, m, n] = Σ_k lhs[b, m, k] · rhs[b, n, k] walks both operands contiguously.
 * The output is [batch..., lhs free..., rhs free...] (lax.dot_general).
 */
const dotGeneral: EvalRule<"dot_general"> = (inputs, params) => {
  const [lhs, rhs] = inputs as [HostArray, HostArray];
  const out = emptyLike(resultTypes("dot_general", inputs, params)[0]!);
  const { lhs_batch, rhs_batch, lhs_contract, rhs_contract } = params;
  const free = (rank: number, used: number[]) => [...Array(rank).keys()].filter((i) => !used.includes(i));
  const lf = free(lhs.shape.length, [...lhs_batch, ...lhs_contract]);
  const rf = free(rhs.shape.length, [...rhs_batch, ...rhs_contract]);
  const a = permuted(lhs, [...lhs_batch, ...lf, ...lhs_contract]);
  const b = permuted(rhs, [...rhs_batch, ...rf, ...rhs_contract]);
  const size = (shape: readonly number[], axes: number[]) => extent(axes.map((i) => shape[i]!), 0);
  const dims = [size(lhs.shape, lhs_batch), size(lhs.shape, lf), size(rhs.shape, rf), size(lhs.shape, lhs_contract)] as const;
  if (out.dtype === "f32") dotFloat(Float64Array.from(a), Float64Array.from(b), out.data, ...dims);
  else dotInteger(a, b, out.data, ...dims);
  return [out];
};

/**
 * numpy.take along `axis`: out[pre, j..., post] = x[pre, idx[j...], post]. An index
 * out of [0, n) is clamped into it, like lax.gather's default mode in JAX; negative
 * indices are clamped to 0, not wrapped (the frontend normalises numpy-style negative
 * indices). Gathering from an empty axis gives zeros.
 */
const gather: EvalRule<"gather"> = (inputs, params) => {
  const [x, idx] = inputs as [HostArray, HostArray];
  const out = emptyLike(resultTypes("gather", inputs, params)[0]!);
  const [outer, n, inner] = around(x.shape, params.axis);
  if (n === 0) return [out];
  const m = idx.data.length;
  for (let o = 0; o < outer; o++)
    for (let j = 0; j < m; j++) {
      const k = Math.min(Math.max(idx.data[j]!, 0), n - 1);
      const src = (o * n + k) * inner, dst = (o * m + j) * inner;
      for (let i = 0; i < inner; i++) out.data[dst + i] = x.data[src + i]!;
    }
  return [out];
};

/**
 * The adjoint of gather: operand + updates summed at their indices along `axis`
 * (duplicates accumulate). Updates whose index is out of [0, n) are dropped, JAX's
 * default for scatter. f32 sums accumulate in float64.
 */
const scatterAdd: EvalRule<"scatter_add"> = (inputs, params) => {
  const [x, idx, upd] = inputs as [HostArray, HostArray, HostArray];
  const out = emptyLike(resultTypes("scatter_add", inputs, params)[0]!);
  const acc: HostData | Float64Array = x.dtype === "f32" ? Float64Array.from(x.data) : x.data.slice();
  const [outer, n, inner] = around(x.shape, params.axis);
  const m = idx.data.length;
  for (let o = 0; o < outer; o++)
    for (let j = 0; j < m; j++) {
      const k = idx.data[j]!;
      if (k < 0 || k >= n) continue;
      const dst = (o * n + k) * inner, src = (o * m + j) * inner;
      for (let i = 0; i < inner; i++) acc[dst + i] += upd.data[src + i]!;
    }
  out.data.set(acc);
  return [out];
};

export const contractRules: EvalRules<"dot_general" | "gather" | "scatter_add"> = {
  dot_general: dotGeneral,
  gather,
  scatter_add: scatterAdd,
};
