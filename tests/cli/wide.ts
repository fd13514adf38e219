/**
 * A module for the CLI test of long output: causal and full attention over the same inputs,
 * whose CUDA source runs past a pipe's 64 KiB buffer.
 */
import { type Tensor, nn } from "../../index.js";

export function wide(q: Tensor, k: Tensor, v: Tensor): Tensor[] {
  return [nn.attention(q, k, v, { causal: true }), nn.attention(q, k, v), nn.attention(q, v, k)];
}
wide.inputs = ["f32[2,64,64]", "f32[2,64,64]", "f32[2,64,64]"];
