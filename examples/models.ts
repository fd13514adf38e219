/**
 * Functions for the `smelt` CLI: each export carries `inputs`, the types it is
 * traced with. Try:
 *
 *   npx smelt ir examples/models.ts --fn mlp
 *   npx smelt ir examples/models.ts --fn softmax --after all
 *   npx smelt kernels examples/models.ts --fn layerNorm
 *   npx smelt kernels examples/models.ts --fn matmul1024 --target cuda --stats
 */
import { type Tensor, grad, jit, nn, np } from "../index.js";

export function mlp(x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor): Tensor {
  return np.add(np.matmul(nn.gelu(np.add(np.matmul(x, w1), b1)), w2), b2);
}
mlp.inputs = ["f32[8,16]", "f32[16,64]", "f32[64]", "f32[64,16]", "f32[16]"];

/** A square f32 matmul big enough for the GPU template's 128×128 blocks (the README's static figures). */
export function matmul1024(a: Tensor, b: Tensor): Tensor {
  return np.matmul(a, b);
}
matmul1024.inputs = ["f32[1024,1024]", "f32[1024,1024]"];

export function softmax(x: Tensor): Tensor {
  return nn.softmax(x, -1);
}
softmax.inputs = ["f32[4,32]"];

export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor): Tensor {
  return nn.layerNorm(x, gamma, beta);
}
layerNorm.inputs = ["f32[4,32]", "f32[32]", "f32[32]"];

export function chain(x: Tensor): Tensor {
  return np.tanh(np.add(np.multiply(np.exp(np.multiply(x, 0.5)), 2), 1));
}
chain.inputs = ["f32[1024]"];

export function causalAttention(q: Tensor, k: Tensor, v: Tensor): Tensor {
  return nn.attention(q, k, v, { causal: true });
}
causalAttention.inputs = ["f32[2,16,8]", "f32[2,16,8]", "f32[2,16,8]"];

/** W6's shape (bench/workloads.ts): `smelt kernels --target cuda --stats` shows its flash kernel as a GPU would build it. */
export function attentionW6(q: Tensor, k: Tensor, v: Tensor): Tensor {
  return nn.attention(q, k, v, { causal: true });
}
attentionW6.inputs = ["f32[8,1024,64]", "f32[8,1024,64]", "f32[8,1024,64]"];

export function moe(x: Tensor, gate: Tensor, w1: Tensor, w2: Tensor): Tensor {
  return nn.moe(x, gate, { w1, w2 }, 2, { activation: nn.relu });
}
moe.inputs = ["f32[6,8]", "f32[8,4]", "f32[4,8,16]", "f32[4,16,8]"];

/**
 * The gradients of a loss through `moe` with respect to all four inputs. The loss is its own
 * jit, so the moe pass finds the layer before grad differentiates it and the backward is
 * routed too (a moe_ffn_bwd node).
 */
const moeLoss = jit((x: Tensor, gate: Tensor, w1: Tensor, w2: Tensor) => np.mean(np.square(moe(x, gate, w1, w2))));
export function moeGrad(x: Tensor, gate: Tensor, w1: Tensor, w2: Tensor): Tensor[] {
  return grad(moeLoss, { argnums: [0, 1, 2, 3] })(x, gate, w1, w2);
}
moeGrad.inputs = moe.inputs;

/**
 * A Qwen/DeepSeek-style MoE layer: softmax over the experts, then the top 2 renormalised;
 * SwiGLU experts (silu(x·w1)·(x·w3)·w2); a shared SwiGLU expert every token runs. Returns
 * the layer's output and the Switch load-balancing loss of its router.
 */
export function moeSwiglu(x: Tensor, gate: Tensor, w1: Tensor, w3: Tensor, w2: Tensor, s1: Tensor, s3: Tensor, s2: Tensor): Tensor[] {
  const y = nn.moe(x, gate, { w1, w3, w2 }, 2, {
    router: "softmax-topk", normalize: true, activation: nn.silu, shared: { w1: s1, w3: s3, w2: s2 },
  });
  return [y, nn.loadBalancingLoss(np.matmul(x, gate), 2)];
}
moeSwiglu.inputs = ["f32[6,8]", "f32[8,4]", "f32[4,8,16]", "f32[4,8,16]", "f32[4,16,8]", "f32[8,12]", "f32[8,12]", "f32[12,8]"];

/**
 * Attention over heads split from one fused QKV projection and merged back, as GPT-2 does:
 * the slices, reshapes and transposes are views the kernels read and store through.
 */
export function headSplit(qkv: Tensor, wo: Tensor): Tensor {
  const [seq, heads, dHead] = [8, 2, 4];
  const head = (i: number) =>
    np.transpose(np.reshape(np.slice(qkv, [null, [i * heads * dHead, (i + 1) * heads * dHead]]), [seq, heads, dHead]), [1, 0, 2]);
  const attended = nn.attention(head(0), head(1), head(2), { causal: true });
  return np.matmul(np.reshape(np.transpose(attended, [1, 0, 2]), [seq, heads * dHead]), wo);
}
headSplit.inputs = ["f32[8,24]", "f32[8,8]"];
