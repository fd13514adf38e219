/**
 * flash_attention on the interpreter means its body, the materialised decomposition: checked
 * against attention written out as loops (grouped-query, causal, with a bias). Its derivative
 * nodes (flash_attention_jvp, flash_attention_bwd) are checked against central differences
 * of the same loops in float64.
 */
import { describe, expect, it } from "vitest";
import { type Tensor, bind } from "../../frontend/core.js";
import { jvp } from "../../frontend/jvp.js";
import { stageGraph } from "../../frontend/staging.js";
import type { Node } from "../../ir/graph.js";
import { flashAttentionBody } from "../../passes/attention-body.js";
import { type FlashCase, flashGradGraph, flashNode } from "../codegen/attention-cases.js";
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

/** Inputs for the derivative nodes: q, k, v, then their forward results from the loops, then `extra`. */
function forwardCase(c: { g: number; gk: number; sq: number; sk: number; d: number; scale: number }, seed: number) {
  const rng = seeded(seed);
  const fill = (n: number) => Float32Array.from({ length: n }, () => rng() * 2 - 1);
  const q = fill(c.g * c.sq * c.d), k = fill(c.gk * c.sk * c.d), v = fill(c.gk * c.sk * c.d);
  const zero = new Float32Array(c.g * c.sq * c.sk);
  const at = (dq: Float64Array | Float32Array, dk: Float64Array | Float32Array, dv: Float64Array | Float32Array, eps: number) =>
    naive(
      Float64Array.from(q, (x, i) => x + eps * dq[i]!) as unknown as Float32Array,
      Float64Array.from(k, (x, i) => x + eps * dk[i]!) as unknown as Float32Array,
      Float64Array.from(v, (x, i) => x + eps * dv[i]!) as unknown as Float32Array,
      zero, c.g, c.gk, c.sq, c.sk, c.d, c.scale,
    );
  /** The directional derivative of (out, lse) along (dq, dk, dv), by central differences in float64. */
  const directional = (dq: Float32Array, dk: Float32Array, dv: Float32Array) => {
    const eps = 1e-4, hi = at(dq, dk, dv, eps), lo = at(dq, dk, dv, -eps);
    return { out: hi.out.map((x, i) => (x - lo.out[i]!) / (2 * eps)), lse: hi.lse.map((x, i) => (x - lo.lse[i]!) / (2 * eps)) };
  };
  const fwd = at(q, k, v, 0);
  const shapes = { q: [c.g, c.sq, c.d], kv: [c.gk, c.sk, c.d], out: [c.g, c.sq, c.d], lse: [c.g, c.sq] };
  const primals = [f32(shapes.q, q), f32(shapes.kv, k), f32(shapes.kv, v), f32(shapes.out, fwd.out), f32(shapes.lse, fwd.lse)];
  return { primals, directional, fill, shapes };
}

const dotOf = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((s, x, i) => s + x * b[i]!, 0);

describe("interp: flash_attention's derivative nodes", () => {
  // Grouped-query 4:2, causal, Sq ≠ Sk: the nodes' bodies come from the frontend's rules.
  const c = { g: 4, gk: 2, sq: 5, sk: 6, d: 3, scale: 1 / Math.sqrt(3) };
  const flashCase: FlashCase = { g: c.g, rep: c.g / c.gk, sq: c.sq, sk: c.sk, d: c.d, dv: c.d, causal: true };

  it("flash_attention_jvp gives the loops' directional derivative of out and lse", () => {
    const { params, types } = flashNode(flashCase);
    const staged = stageGraph("attention_jvp", [...types, ...types], (xs) => {
      const [, touts] = jvp((q: Tensor, k: Tensor, v: Tensor) => bind("flash_attention", [q, k, v], params), xs.slice(0, 3), xs.slice(3));
      return touts as Tensor[];
    }).graph;
    const node = staged.nodes.find((n): n is Node<"flash_attention_jvp"> => n.prim === "flash_attention_jvp")!;
    const { primals, directional, fill, shapes } = forwardCase(c, 11);
    const [dq, dk, dv] = [fill(c.g * c.sq * c.d), fill(c.gk * c.sk * c.d), fill(c.gk * c.sk * c.d)];
    const [dout, dlse] = evAll("flash_attention_jvp", [...primals, f32(shapes.q, dq), f32(shapes.kv, dk), f32(shapes.kv, dv)], node.params);
    const want = directional(dq, dk, dv);
    Array.from(dout!.data).forEach((x, i) => expect(x).toBeCloseTo(want.out[i]!, 3));
    Array.from(dlse!.data).forEach((x, i) => expect(x).toBeCloseTo(want.lse[i]!, 3));
  });

  it("flash_attention_bwd is the transpose of that derivative: <ct, J·t> = <Jᵀ·ct, t> against the loops", () => {
    const node = flashGradGraph(flashCase, false).nodes.find((n): n is Node<"flash_attention_bwd"> => n.prim === "flash_attention_bwd")!;
    const { primals, directional, fill, shapes } = forwardCase(c, 12);
    const ctOut = fill(c.g * c.sq * c.d), ctLse = fill(c.g * c.sq);
    const [gq, gk, gv] = evAll("flash_attention_bwd", [...primals, f32(shapes.out, ctOut), f32(shapes.lse, ctLse)], node.params);
    // One direction per operand, so a wrong gradient for any one of q, k, v shows.
    const zeros = (n: number) => new Float32Array(n);
    const nq = c.g * c.sq * c.d, nk = c.gk * c.sk * c.d;
    for (const [which, t, grad] of [["q", fill(nq), gq!], ["k", fill(nk), gk!], ["v", fill(nk), gv!]] as const) {
      const dir = directional(which === "q" ? t : zeros(nq), which === "k" ? t : zeros(nk), which === "v" ? t : zeros(nk));
      const lhs = dotOf(ctOut, dir.out) + dotOf(ctLse, dir.lse);
      expect(dotOf(grad.data, t), `gradient of ${which}`).toBeCloseTo(lhs, 3);
    }
  });
});
