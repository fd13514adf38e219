/**
 * `nn`: activations, normalisation, attention, mixture-of-experts and losses, as
 * plain compositions of primitives. Nothing here is special to the tracer: the
 * passes find softmax, layer norm, attention and MoE in the graph by their shape,
 * so the exact primitive sequences below are a contract with passes/ (DESIGN.md,
 * "Passes"); change them together.
 */
import type { Tensor, TensorLike } from "./core.js";
import * as lax from "./lax.js";
import { type Axis, asTensor, broadcastShapes, broadcastTo, isTensor, normalizeAxes, promoteAndBroadcast, shapeError, toFloat } from "./np-broadcast.js";
import { keptDims } from "./np-reduce.js";
import * as np from "./np.js";
import { tokenwise } from "./vmap.js";

export const relu = (x: TensorLike): Tensor => np.maximum(x, 0);
export const sigmoid = (x: TensorLike): Tensor => lax.logistic(toFloat(x, "nn.sigmoid"));
/** x · sigmoid(x) (a.k.a. swish). */
export const silu = (x: TensorLike): Tensor => {
  const t = toFloat(x, "nn.silu");
  return lax.mul(t, lax.logistic(t));
};

/**
 * GELU. By default (`approximate: true`, as jax.nn.gelu and jax-js) the tanh form of
 * Hendrycks & Gimpel, x/2 · (1 + tanh(√(2/π) · (x + 0.044715 x³))); with
 * `approximate: false` the exact x/2 · (1 + erf(x/√2)).
 */
export function gelu(x: TensorLike, options: { approximate?: boolean } = {}): Tensor {
  const t = toFloat(x, "nn.gelu");
  const c = (v: number) => lax.fullLike(t, v);
  const inner = (options.approximate ?? true)
    ? lax.tanh(lax.mul(c(Math.sqrt(2 / Math.PI)), lax.add(t, lax.mul(c(0.044715), lax.mul(t, lax.mul(t, t))))))
    : lax.erf(lax.mul(t, c(Math.SQRT1_2)));
  return lax.mul(lax.mul(t, c(0.5)), lax.add(c(1), inner));
}

/** A per-row reduction broadcast back over the reduced axes (no reshape in between). */
function rowReduce(reduce: (x: Tensor, axes: readonly number[]) => Tensor, x: Tensor, axes: readonly number[]): Tensor {
  return lax.broadcastInDim(reduce(x, axes), x.shape, keptDims(x, axes));
}

/**
 * softmax over `axis`, max-subtracted so exp never overflows:
 * reduce_max → broadcast_in_dim → sub → exp → reduce_sum → broadcast_in_dim → div.
 */
export function softmax(x: TensorLike, axis: Axis = -1): Tensor {
  const t = toFloat(x, "nn.softmax");
  const axes = normalizeAxes("softmax", axis, t);
  const e = lax.exp(lax.sub(t, rowReduce(lax.reduceMax, t, axes)));
  return lax.div(e, rowReduce(lax.reduceSum, e, axes));
}

/** log(softmax(x)) computed as z − log Σ exp z with z = x − max x. */
export function logSoftmax(x: TensorLike, axis: Axis = -1): Tensor {
  const t = toFloat(x, "nn.logSoftmax");
  const axes = normalizeAxes("logSoftmax", axis, t);
  const z = lax.sub(t, rowReduce(lax.reduceMax, t, axes));
  return lax.sub(z, rowReduce((u, a) => lax.log(lax.reduceSum(lax.exp(u), a)), z, axes));
}

/** log Σ exp x over `axis`; rows that are all −∞ give −∞, not NaN. */
export function logsumexp(x: TensorLike, axis: Axis = null, keepdims = false): Tensor {
  const t = toFloat(x, "nn.logsumexp");
  const axes = normalizeAxes("logsumexp", axis, t);
  const m = lax.reduceMax(t, axes);
  const finite = lax.eq(lax.sub(m, m), lax.zerosLike(m));
  const safe = lax.select(finite, m, lax.zerosLike(m));
  const s = lax.reduceSum(lax.exp(lax.sub(t, lax.broadcastInDim(safe, t.shape, keptDims(t, axes)))), axes);
  const r = lax.add(lax.log(s), safe);
  return keepdims ? lax.reshape(r, t.shape.map((d, i) => (axes.includes(i) ? 1 : d))) : r;
}

export interface NormOptions {
  /** Added to the variance before the square root (default 1e-5). */
  readonly eps?: number;
  /** Axes normalised over (default -1, the feature axis). */
  readonly axis?: Axis;
}

/** `y · gamma + beta`, each broadcast to y's shape (numpy rules); either may be omitted. */
function affine(op: string, y: Tensor, gamma?: TensorLike | null, beta?: TensorLike | null): Tensor {
  if (gamma != null) y = lax.mul(y, broadcastTo(asTensor(gamma, "f32", op), y.shape, op));
  if (beta != null) y = lax.add(y, broadcastTo(asTensor(beta, "f32", op), y.shape, op));
  return y;
}

/**
 * Layer normalisation (Ba et al. 2016): (x − mean) / sqrt(var + eps) over `axis`,
 * then scaled by `gamma` and shifted by `beta` (broadcast against x's trailing axes).
 */
export function layerNorm(x: TensorLike, gamma?: TensorLike | null, beta?: TensorLike | null, options: NormOptions = {}): Tensor {
  const t = toFloat(x, "nn.layerNorm");
  const axes = normalizeAxes("layerNorm", options.axis ?? -1, t);
  const n = axes.reduce((p, a) => p * t.shape[a]!, 1);
  const meanOf = (u: Tensor, a: readonly number[]) => {
    const s = lax.reduceSum(u, a);
    return lax.div(s, lax.fullLike(s, n));
  };
  const xc = lax.sub(t, rowReduce(meanOf, t, axes));
  const v = rowReduce(meanOf, lax.mul(xc, xc), axes);
  const y = lax.mul(xc, lax.rsqrt(lax.add(v, lax.fullLike(v, options.eps ?? 1e-5))));
  return affine("layerNorm", y, gamma, beta);
}

/** RMS normalisation (Zhang & Sennrich 2019): x / sqrt(mean(x²) + eps) · gamma. */
export function rmsNorm(x: TensorLike, gamma?: TensorLike | null, options: NormOptions = {}): Tensor {
  const t = toFloat(x, "nn.rmsNorm");
  const axes = normalizeAxes("rmsNorm", options.axis ?? -1, t);
  const n = axes.reduce((p, a) => p * t.shape[a]!, 1);
  const ss = lax.reduceSum(lax.mul(t, t), axes);
  const ms = lax.div(ss, lax.fullLike(ss, n));
  const r = lax.broadcastInDim(lax.rsqrt(lax.add(ms, lax.fullLike(ms, options.eps ?? 1e-6))), t.shape, keptDims(t, axes));
  return affine("rmsNorm", lax.mul(t, r), gamma);
}

export interface AttentionOptions {
  /** Query i sees keys j ≤ i (top-left aligned, as JAX's `is_causal`): no row is ever fully masked. */
  readonly causal?: boolean;
  /** Broadcast against the scores [..., seq_q, seq_k]: bool keeps where true; a number is added. */
  readonly mask?: Tensor;
  /** Multiplies q·kᵀ (default 1/√head_dim). */
  readonly scale?: number;
}

/**
 * Scaled dot-product attention, softmax(scale · q·kᵀ + mask) · v, for q [..., Sq, D],
 * k [..., Sk, D], v [..., Sk, Dv] (leading axes broadcast). Emits exactly
 *   dot_general (batch = leading axes, contract D) → mul scale →
 *   [select(mask, s, −∞) | add mask] → reduce_max → broadcast_in_dim → sub → exp →
 *   reduce_sum → broadcast_in_dim → div → dot_general with v,
 * the decomposition the attention pass rewrites to flash_attention. The causal mask
 * is `ge(iota 0, iota 1)` over [Sq, Sk], broadcast. A user mask that hides a whole
 * row gives NaN for that row, as in JAX.
 */
export function attention(q: TensorLike, k: TensorLike, v: TensorLike, options: AttentionOptions = {}): Tensor {
  const [qt, kt, vt] = [toFloat(q, "nn.attention"), toFloat(k, "nn.attention"), toFloat(v, "nn.attention")];
  const ops = [qt, kt, vt];
  if (qt.ndim < 2 || kt.ndim < 2 || vt.ndim < 2) throw shapeError("attention", `q, k and v need shape [..., seq, head_dim]`, ops);
  const [sq, d] = qt.shape.slice(-2) as [number, number];
  const [sk, dk] = kt.shape.slice(-2) as [number, number];
  const [sv, dv] = vt.shape.slice(-2) as [number, number];
  if (dk !== d) throw shapeError("attention", `q and k head_dim differ (${d} vs ${dk})`, ops);
  if (sv !== sk) throw shapeError("attention", `k and v sequence lengths differ (${sk} vs ${sv})`, ops);
  const batch = broadcastShapes("attention", ops.map((t) => ({ shape: t.shape.slice(0, -2), dtype: t.dtype })));
  const nb = batch.length;
  const bdims = Array.from({ length: nb }, (_, i) => i);
  const [qb, kb, vb] = ops.map((t) => broadcastTo(t, [...batch, ...t.shape.slice(-2)], "attention")) as [Tensor, Tensor, Tensor];

  let s = lax.dotGeneral(qb, kb, { lhsBatch: bdims, rhsBatch: bdims, lhsContract: [nb + 1], rhsContract: [nb + 1] });
  s = lax.mul(s, lax.fullLike(s, options.scale ?? 1 / Math.sqrt(d)));
  let keepMask: Tensor | undefined;
  if (options.mask) {
    if (!isTensor(options.mask)) throw shapeError("attention", `mask must be a tensor`, ops);
    const m = broadcastTo(options.mask, s.shape, "attention");
    if (m.dtype === "bool") keepMask = m;
    else s = lax.add(s, lax.cast(m, "f32"));
  }
  if (options.causal) {
    const c = lax.ge(lax.iota([sq, sk], 0, "i32"), lax.iota([sq, sk], 1, "i32"));
    const cb = lax.broadcastInDim(c, s.shape, [nb, nb + 1]);
    keepMask = keepMask ? lax.and(keepMask, cb) : cb;
  }
  if (keepMask) s = lax.select(keepMask, s, lax.fullLike(s, -Infinity));
  const last = [nb + 1];
  const e = lax.exp(lax.sub(s, rowReduce(lax.reduceMax, s, last)));
  const p = lax.div(e, rowReduce(lax.reduceSum, e, last));
  return lax.dotGeneral(p, vb, { lhsBatch: bdims, rhsBatch: bdims, lhsContract: [nb + 1], rhsContract: [nb] });
}

export interface Experts {
  /** [E, d, h] */ readonly w1: Tensor;
  /** [E, h] */ readonly b1?: Tensor;
  /** [E, d, h]: a gated (SwiGLU) expert, act(x·w1 + b1) · (x·w3) */ readonly w3?: Tensor;
  /** [E, h, d] */ readonly w2: Tensor;
  /** [E, d] */ readonly b2?: Tensor;
}

/** A dense FFN every token runs (a shared expert, as in DeepSeekMoE and Qwen-MoE). */
export interface SharedExpert {
  /** [d, hs] */ readonly w1: Tensor;
  /** [hs] */ readonly b1?: Tensor;
  /** [d, hs]: gated, as Experts.w3 */ readonly w3?: Tensor;
  /** [hs, d] */ readonly w2: Tensor;
  /** [d] */ readonly b2?: Tensor;
}

export interface MoeOptions {
  /** The expert activation (default: exact gelu). */
  readonly activation?: (h: Tensor) => Tensor;
  /**
   * How the gate weights come from the router logits: "topk-softmax" (default, Mixtral) takes
   * the top k logits and a softmax of those; "softmax-topk" (DeepSeek, Qwen) a softmax over
   * all experts, then the top k probabilities, divided by their sum when `normalize` is set.
   */
  readonly router?: "topk-softmax" | "softmax-topk";
  /** With router "softmax-topk": renormalise the k probabilities to sum to 1. */
  readonly normalize?: boolean;
  /** Dense experts every token runs, added to the routed output. */
  readonly shared?: SharedExpert | readonly SharedExpert[];
  /**
   * Expert capacity as a multiple of the even share (Switch Transformer, GShard): each expert
   * takes at most C = ceil(capacityFactor · T · k / E) of the tokens' choices, first choices
   * of every token before second choices, tokens in order within a choice; a choice past its
   * expert's capacity is dropped (its gate weight becomes 0, the token keeps its residual
   * path). Omitted: dropless, every token reaches its k experts.
   */
  readonly capacityFactor?: number;
}

/** nn.moe's result with `stats: true`: the output and how many of the T·k choices were dropped (f32 scalar; 0 without a capacity). */
export interface MoeResult {
  readonly out: Tensor;
  readonly dropped: Tensor;
}

/**
 * A top-k mixture-of-experts FFN layer (Shazeer et al. 2017) over tokens x [..., d]
 * with router weights gate [d, E]. Written densely (every expert runs on every
 * token, weighted by a gate that is zero outside the top k), the form the moe pass
 * recognises and rewrites to routed grouped matmuls:
 *   logits = dot_general(x, gate)                                  [T, E]
 *   vals, idx = top_k(logits, k); w = softmax(vals)                 [T, k]
 *     (router "softmax-topk": vals, idx = top_k(softmax(logits), k); w = vals,
 *      or vals / reduce_sum(vals) with `normalize`)
 *     (capacityFactor: w · keep, keep = 1 where the choice's place in its expert's queue,
 *      an exclusive cumsum of one_hot in (choice, token) order, is below the capacity)
 *   gates = reduce_sum(one_hot(idx, E) · w, axis k)                 [T, E]
 *   h = act(dot_general(broadcast x [E,T,d], w1, batch E) + b1)     [E, T, h]
 *     (gated: h · dot_general(broadcast x, w3, batch E))
 *   y = dot_general(h, w2, batch E) + b2                            [E, T, d]
 *   out = reduce_sum(y · broadcast(transpose gates), axis E)        [T, d]
 * plus each shared expert's act(x·w1 + b1)[· x·w3]·w2 + b2.
 */
export function moe(x: TensorLike, gate: TensorLike, experts: Experts, k: number, options: MoeOptions & { stats: true }): MoeResult;
export function moe(x: TensorLike, gate: TensorLike, experts: Experts, k: number, options?: MoeOptions & { stats?: false }): Tensor;
export function moe(x: TensorLike, gate: TensorLike, experts: Experts, k: number, options: MoeOptions & { stats?: boolean } = {}): Tensor | MoeResult {
  const xt = toFloat(x, "nn.moe"), g = toFloat(gate, "nn.moe");
  // Each token is routed on its own, so under vmap the batch is just more tokens (the layer
  // stays one dense form the moe pass can route). Not with a capacity: it is per call.
  if (options.capacityFactor !== undefined || options.stats) return moeLayer(xt, g, experts, k, options);
  const reads = [g, ...Object.values(experts), ...sharedExperts(options.shared).flatMap((s) => Object.values(s))].filter(isTensor);
  return tokenwise((xx) => moeLayer(xx, g, experts, k, options) as Tensor, xt, reads);
}

const sharedExperts = (shared: MoeOptions["shared"]): readonly SharedExpert[] =>
  shared === undefined ? [] : Array.isArray(shared) ? shared : [shared as SharedExpert];

function moeLayer(xt: Tensor, g: Tensor, experts: Experts, k: number, options: MoeOptions & { stats?: boolean }): Tensor | MoeResult {
  const { w1, w2 } = experts;
  const ops = [xt, g, w1, w2];
  const d = xt.shape[xt.ndim - 1];
  if (d === undefined || g.ndim !== 2 || g.shape[0] !== d)
    throw shapeError("moe", `x must be [..., d] and gate [d, E]`, ops);
  const E = g.shape[1]!;
  const h = w1.shape[2]!;
  const want = (t: Tensor | undefined, shape: number[], name: string) => {
    if (t && (t.ndim !== shape.length || t.shape.some((s, i) => s !== shape[i])))
      throw shapeError("moe", `${name} must be [${shape}] for d = ${d}, E = ${E}, h = ${h}`, [...ops, t]);
  };
  if (w1.ndim !== 3) throw shapeError("moe", `experts.w1 must be [E, d, h]`, ops);
  want(w1, [E, d, h], "experts.w1"), want(experts.w3, [E, d, h], "experts.w3"), want(w2, [E, h, d], "experts.w2");
  want(experts.b1, [E, h], "experts.b1"), want(experts.b2, [E, d], "experts.b2");
  if (!Number.isInteger(k) || k < 1 || k > E) throw shapeError("moe", `k = ${k} must be in [1, ${E}] (the number of experts)`, ops);
  const router = options.router ?? "topk-softmax";
  if (router !== "topk-softmax" && router !== "softmax-topk")
    throw shapeError("moe", `router = "${router}" must be "topk-softmax" or "softmax-topk"`, ops);
  if (options.normalize && router !== "softmax-topk")
    throw shapeError("moe", `normalize applies to router "softmax-topk" (top-k then softmax already sums to 1)`, ops);
  const act = options.activation ?? ((u: Tensor) => gelu(u, { approximate: false }));
  const cf = options.capacityFactor;
  if (cf !== undefined && !(Number.isFinite(cf) && cf > 0)) throw shapeError("moe", `capacityFactor = ${cf} must be a positive number`, ops);

  const T = xt.size / d;
  const x2 = lax.reshape(xt, [T, d]);
  const logits = lax.dotGeneral(x2, g, { lhsContract: [1], rhsContract: [0] });
  let w: Tensor, idx: Tensor;
  if (router === "topk-softmax") {
    const [vals, i] = lax.topK(logits, k);
    [w, idx] = [softmax(vals, -1), i];
  } else {
    const [vals, i] = lax.topK(softmax(logits, -1), k);
    [w, idx] = [options.normalize ? lax.div(vals, lax.broadcastInDim(lax.reduceSum(vals, [1]), [T, k], [0])) : vals, i];
  }
  const hot = np.oneHot(idx, E);
  let dropped: Tensor | undefined;
  if (cf !== undefined) {
    // Each choice's position in its expert's queue, first choices before second ones:
    // an exclusive cumsum of the one-hot rows in (choice, token) order.
    const capacity = Math.ceil((cf * T * k) / E);
    const queue = lax.reshape(lax.transpose(hot, [1, 0, 2]), [k * T, E]);
    const position = lax.reduceSum(lax.mul(lax.sub(lax.cumsum(queue, 0), queue), queue), [1]);
    const fits = lax.cast(lax.lt(position, lax.fullLike(position, capacity)), "f32");
    const keep = lax.transpose(lax.reshape(fits, [k, T]), [1, 0]);
    w = lax.mul(w, keep);
    dropped = lax.sub(lax.fullLike(lax.reduceSum(keep, [0, 1]), T * k), lax.reduceSum(keep, [0, 1]));
  }
  const gates = lax.reduceSum(lax.mul(hot, lax.broadcastInDim(w, [T, k, E], [0, 1])), [1]);

  const batchE = { lhsBatch: [0], rhsBatch: [0], lhsContract: [2], rhsContract: [1] };
  const xE = lax.broadcastInDim(x2, [E, T, d], [1, 2]);
  let hid = lax.dotGeneral(xE, toFloat(w1, "nn.moe"), batchE);
  if (experts.b1) hid = lax.add(hid, lax.broadcastInDim(toFloat(experts.b1, "nn.moe"), [E, T, h], [0, 2]));
  hid = act(hid);
  if (experts.w3) hid = lax.mul(hid, lax.dotGeneral(xE, toFloat(experts.w3, "nn.moe"), batchE));
  let y = lax.dotGeneral(hid, toFloat(w2, "nn.moe"), batchE);
  if (experts.b2) y = lax.add(y, lax.broadcastInDim(toFloat(experts.b2, "nn.moe"), [E, T, d], [0, 2]));
  const weighted = lax.mul(y, lax.broadcastInDim(lax.transpose(gates, [1, 0]), [E, T, d], [0, 1]));
  let out = lax.reduceSum(weighted, [0]);
  const shared = sharedExperts(options.shared);
  shared.forEach((s: SharedExpert, i: number) => {
    const hs = s.w1.shape[1]!;
    const name = `options.shared${shared.length > 1 ? `[${i}]` : ""}`;
    if (s.w1.ndim !== 2) throw shapeError("moe", `${name}.w1 must be [d, hs] for d = ${d}`, [xt, s.w1]);
    for (const [t, shape, what] of [[s.w1, [d, hs], "w1"], [s.w3, [d, hs], "w3"], [s.b1, [hs], "b1"], [s.w2, [hs, d], "w2"], [s.b2, [d], "b2"]] as const)
      if (t && (t.ndim !== shape.length || t.shape.some((n, j) => n !== shape[j])))
        throw shapeError("moe", `${name}.${what} must be [${shape}] for d = ${d}, hs = ${hs}`, [xt, t]);
    const proj = (m: Tensor) => lax.dotGeneral(x2, toFloat(m, "nn.moe"), { lhsContract: [1], rhsContract: [0] });
    let u = proj(s.w1);
    if (s.b1) u = lax.add(u, lax.broadcastInDim(toFloat(s.b1, "nn.moe"), [T, hs], [1]));
    u = act(u);
    if (s.w3) u = lax.mul(u, proj(s.w3));
    let v = lax.dotGeneral(u, toFloat(s.w2, "nn.moe"), { lhsContract: [1], rhsContract: [0] });
    if (s.b2) v = lax.add(v, lax.broadcastInDim(toFloat(s.b2, "nn.moe"), [T, d], [1]));
    out = lax.add(out, v);
  });
  const result = lax.reshape(out, xt.shape);
  if (!options.stats) return result;
  return { out: result, dropped: dropped ?? lax.fullLike(result, 0, []) };
}

/**
 * The Switch Transformer load-balancing loss (Fedus et al. 2022, eq. 4), for top-k routing
 * as Mixtral's training code extends it: E · Σ_e f_e · P_e over router logits [..., E], where
 * f_e is the fraction of the tokens' k choices that went to expert e (top_k of the logits)
 * and P_e the mean softmax probability of e. 1 when the load is uniform, E at worst; scale it
 * by a small α (0.01 in Switch) and add it to the training loss. Only P_e carries a gradient
 * (f_e counts integer choices).
 */
export function loadBalancingLoss(logits: TensorLike, k: number): Tensor {
  const z = toFloat(logits, "nn.loadBalancingLoss");
  if (z.ndim < 1) throw shapeError("loadBalancingLoss", `logits need an expert axis`, [z]);
  const E = z.shape[z.ndim - 1]!;
  if (!Number.isInteger(k) || k < 1 || k > E) throw shapeError("loadBalancingLoss", `k = ${k} must be in [1, ${E}] (the number of experts)`, [z]);
  const T = z.size / E;
  const z2 = lax.reshape(z, [T, E]);
  const [, idx] = lax.topK(z2, k);
  // f comes from integer indices, so no gradient flows through it.
  const count = lax.reduceSum(np.oneHot(idx, E), [0, 1]);
  const f = lax.div(count, lax.fullLike(count, T * k));
  const p = np.mean(softmax(z2, -1), 0);
  const dot = np.sum(lax.mul(f, p));
  return lax.mul(dot, lax.fullLike(dot, E));
}

export type Reduction = "mean" | "sum" | "none";

function reduceLoss(loss: Tensor, reduction: Reduction = "mean"): Tensor {
  return reduction === "none" ? loss : reduction === "sum" ? np.sum(loss) : np.mean(loss);
}

/**
 * Softmax cross-entropy over the last axis. `labels` are class indices (integer,
 * shape logits.shape[:-1]) or probabilities / one-hot rows (float, logits' shape).
 */
export function crossEntropy(logits: TensorLike, labels: TensorLike, options: { reduction?: Reduction } = {}): Tensor {
  const z = toFloat(logits, "nn.crossEntropy"), y = asTensor(labels, undefined, "nn.crossEntropy");
  if (z.ndim < 1) throw shapeError("crossEntropy", `logits need a class axis`, [z, y]);
  const C = z.shape[z.ndim - 1]!;
  let target: Tensor;
  if (y.dtype === "i32" || y.dtype === "u32") {
    if (y.ndim !== z.ndim - 1 || y.shape.some((s, i) => s !== z.shape[i]))
      throw shapeError("crossEntropy", `integer labels must have the logits' shape without the class axis, [${z.shape.slice(0, -1)}]`, [z, y]);
    target = np.oneHot(y, C);
  } else {
    target = broadcastTo(toFloat(y, "nn.crossEntropy"), z.shape, "crossEntropy");
  }
  const nll = lax.neg(lax.reduceSum(lax.mul(target, logSoftmax(z, -1)), [z.ndim - 1]));
  return reduceLoss(nll, options.reduction);
}

/** Mean squared error between `pred` and `target` (broadcast together). */
export function mseLoss(pred: TensorLike, target: TensorLike, options: { reduction?: Reduction } = {}): Tensor {
  const [p, t] = promoteAndBroadcast("mseLoss", [toFloat(pred, "nn.mseLoss"), toFloat(target, "nn.mseLoss")]);
  const diff = lax.sub(p!, t!);
  return reduceLoss(lax.mul(diff, diff), options.reduction);
}
