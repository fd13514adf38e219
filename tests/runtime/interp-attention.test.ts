/**
 * flash_attention on the interpreter means its body, the materialised decomposition: checked
 * against attention written out as loops (grouped-query, causal, with a bias).
 */
import { describe, expect, it } from "vitest";
import { flashAttentionBody } from "../../passes/attention-body.js";
import { rng as seeded } from "../rng.js";
import { evAll, f32 } from "./interp-helpers.js";

function naive(q: Float32Array, k: Float32Array, v: Float32Array, bias: Float32Array, g: number, gk: number, sq: number, sk: number, d: number, scale: number) {
  const out = new Float64Array(g * sq * d), lse = new Float64Array(g * sq);
  for (let h = 0; h < g; h++) {
    const kv = Math.floor(h / (g / gk));
    for (let i = 0; i < sq; i++) {
      const s: number[] = [];
      for (let j = 0; j < sk; j++) {
        let dot = 0;
        for (let c = 0; c < d; c++) dot += q[(h * sq + i) * d + c]! * k[(kv * sk + j) * d + c]!;
        s.push(j > i ? -Infinity : dot * scale + bias[(h * sq + i) * sk + j]!);
      }
      const m = Math.max(...s);
      const p = s.map((x) => Math.exp(x - m));
      const sum = p.reduce((a, b) => a + b, 0);
      lse[h * sq + i] = m + Math.log(sum);
      for (let c = 0; c < d; c++) {
        let acc = 0;
        for (let j = 0; j < sk; j++) acc += p[j]! * v[(kv * sk + j) * d + c]!;
        out[(h * sq + i) * d + c] = acc / sum;
      }
    }
  }
  return { out, lse };
}

describe("interp: flash_attention", () => {
  it("evaluates its body: causal grouped-query attention with a bias equals the loops", () => {
    const [g, gk, sq, sk, d, scale] = [4, 2, 5, 5, 3, 0.5];
    const rng = seeded(7);
    const fill = (n: number) => Float32Array.from({ length: n }, () => rng() * 2 - 1);
    const q = fill(g * sq * d), k = fill(gk * sk * d), v = fill(gk * sk * d), bias = fill(g * sq * sk);
    const inputs = [f32([g, sq, d], q), f32([gk, sk, d], k), f32([gk, sk, d], v), f32([g, sq, sk], bias)];
    const params = { scale, causal: true, bias: true, mask: false };
    const body = flashAttentionBody(inputs.map((a) => ({ dtype: a.dtype, shape: a.shape })), params);
    const [out, lse] = evAll("flash_attention", inputs, { ...params, body });
    const want = naive(q, k, v, bias, g, gk, sq, sk, d, scale);
    Array.from(out!.data).forEach((x, i) => expect(x).toBeCloseTo(want.out[i]!, 5));
    Array.from(lse!.data).forEach((x, i) => expect(x).toBeCloseTo(want.lse[i]!, 5));
  });
});
