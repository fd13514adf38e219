/**
 * The slice of smelt's public API the benchmark uses, in one place. The workloads
 * are user programs: they must see only what a user sees. `np` and `nn` are still
 * landing in index.ts; until they do, `np` comes from its module and `nn` from its
 * module when it exists, else from the compositions below (the same maths, written
 * with `np`), so the suite runs at every stage of the build.
 */
import type { Tensor } from "../index.js";
import * as np from "../frontend/np.js";

export { jit, getBackend, memoryStats, Tensor, ConcreteTensor } from "../index.js";
export type { Lowered, BackendName } from "../index.js";
export { np };

export interface AttentionOptions {
  readonly causal?: boolean;
}

/** The composite operations the workloads call, with the signatures they are called with. */
export interface NN {
  /** tanh-approximated GELU, as GPT-2 and jax.nn.gelu (approximate=true) compute it. */
  gelu(x: Tensor): Tensor;
  softmax(x: Tensor, axis?: number): Tensor;
  /** Normalises over the last axis: (x - mean) / sqrt(var + eps) * gamma + beta. */
  layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps?: number): Tensor;
  /** softmax(q·kᵀ/√d [+ causal mask])·v over [..., seq, d]. */
  attention(q: Tensor, k: Tensor, v: Tensor, options?: AttentionOptions): Tensor;
  /** Top-k gated mixture of expert FFNs (absent until nn.moe lands). */
  moe?: (x: Tensor, gate: Tensor, w1: Tensor, w2: Tensor, options: { k: number }) => Tensor;
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

const composed: NN = {
  gelu(x) {
    const inner = np.multiply(np.add(x, np.multiply(np.power(x, 3), 0.044715)), SQRT_2_OVER_PI);
    return np.multiply(np.multiply(x, 0.5), np.add(np.tanh(inner), 1));
  },
  softmax(x, axis = -1) {
    const e = np.exp(np.subtract(x, np.max(x, axis, true)));
    return np.divide(e, np.sum(e, axis, true));
  },
  layerNorm(x, gamma, beta, eps = 1e-5) {
    const centred = np.subtract(x, np.mean(x, -1, true));
    const variance = np.mean(np.multiply(centred, centred), -1, true);
    return np.add(np.multiply(np.multiply(centred, np.rsqrt(np.add(variance, eps))), gamma), beta);
  },
  attention(q, k, v, options = {}) {
    const d = q.shape[q.ndim - 1]!;
    let scores = np.multiply(np.matmul(q, np.swapaxes(k, -1, -2)), 1 / Math.sqrt(d));
    if (options.causal) {
      const lq = q.shape[q.ndim - 2]!, lk = k.shape[k.ndim - 2]!;
      const keep = np.greaterEqual(np.reshape(np.arange(lq), [lq, 1]), np.reshape(np.arange(lk), [1, lk]));
      scores = np.where(keep, scores, -Infinity);
    }
    return np.matmul(composed.softmax(scores), v);
  },
};

/**
 * `nn` from frontend/nn.ts when it has been built, else the compositions above. The
 * module path is a variable so the type checker does not require the file to exist.
 */
export async function loadNN(): Promise<{ nn: NN; source: "nn" | "composed" }> {
  const path = "../frontend/nn.js";
  try {
    const mod = (await import(path)) as Partial<NN>;
    if (mod.gelu && mod.softmax && mod.layerNorm && mod.attention) return { nn: mod as NN, source: "nn" };
  } catch {
    // not built yet: fall through to the compositions
  }
  return { nn: composed, source: "composed" };
}
