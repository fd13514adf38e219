/**
 * moe_ffn on the interpreter means its body, the dense decomposition: checked against a
 * mixture of experts written out as loops (router logits, top-k, softmax over the k
 * chosen logits or top-k of the softmax over all experts, renormalised or not, each chosen
 * expert's ReLU or SiLU FFN with biases, gated by x·w3 or not, weighted sum); and its
 * tangent and backward nodes against the loops' central differences.
 */
import { describe, expect, it } from "vitest";
import type { MoeRouter } from "../../ir/primitives.js";
import { moeFfnBody } from "../../passes/moe-body.js";
import { rng as seeded } from "../rng.js";
import { type Tensor, bind } from "../../frontend/core.js";
import { jvpFlat } from "../../frontend/jvp.js";
import { stageGraph } from "../../frontend/staging.js";
import { vjpFlat } from "../../frontend/vjp.js";
import type { Node } from "../../ir/graph.js";
import { ev, evAll, f32 } from "./interp-helpers.js";

interface MoeCase {
  T: number; d: number; E: number; h: number; k: number; b1: boolean; b2: boolean; activation: "relu" | "silu";
  router?: MoeRouter; gated?: boolean;
}

function loops(c: MoeCase, x: Float32Array, gate: Float32Array, w1: Float32Array, b1: Float32Array, w2: Float32Array, b2: Float32Array, w3: Float32Array): Float64Array {
  const out = new Float64Array(c.T * c.d);
  const act = (z: number) => (c.activation === "relu" ? Math.max(z, 0) : z / (1 + Math.exp(-z)));
  for (let t = 0; t < c.T; t++) {
    const logits = Array.from({ length: c.E }, (_, e) => {
      let s = 0;
      for (let i = 0; i < c.d; i++) s += x[t * c.d + i]! * gate[i * c.E + e]!;
      return s;
    });
    const router = c.router ?? "topk_softmax";
    const top = logits.map((l, e) => [l, e] as const).sort((a, b) => b[0] - a[0]).slice(0, c.k);
    const m = top[0]![0];
    const all = logits.reduce((s, l) => s + Math.exp(l - m), 0);
    const probs = top.map(([l]) => Math.exp(l - m) / all);
    const chosenSum = probs.reduce((s, p) => s + p, 0);
    const weights = router === "softmax_topk" ? probs : probs.map((p) => p / chosenSum);
    for (const [j0, [, e]] of top.entries()) {
      const weight = weights[j0]!;
      const hid = Array.from({ length: c.h }, (_, j) => {
        let s = c.b1 ? b1[e * c.h + j]! : 0, g = 0;
        for (let i = 0; i < c.d; i++) s += x[t * c.d + i]! * w1[(e * c.d + i) * c.h + j]!;
        for (let i = 0; i < c.d; i++) g += x[t * c.d + i]! * w3[(e * c.d + i) * c.h + j]!;
        return c.gated ? act(s) * g : act(s);
      });
      for (let i = 0; i < c.d; i++) {
        let s = c.b2 ? b2[e * c.d + i]! : 0;
        for (let j = 0; j < c.h; j++) s += hid[j]! * w2[(e * c.h + j) * c.d + i]!;
        out[t * c.d + i] += weight * s;
      }
    }
  }
  return out;
}

describe("interp: moe_ffn", () => {
  const cases: [string, MoeCase][] = [
    ["top-2 of 4 experts, ReLU, both biases", { T: 6, d: 5, E: 4, h: 7, k: 2, b1: true, b2: true, activation: "relu" }],
    ["top-1 of 3 experts, SiLU, no biases", { T: 5, d: 3, E: 3, h: 4, k: 1, b1: false, b2: false, activation: "silu" }],
    ["top-3 of 3 experts (every expert), ReLU, b1 only", { T: 4, d: 4, E: 3, h: 2, k: 3, b1: true, b2: false, activation: "relu" }],
    ["softmax then top-2 of 5, SiLU", { T: 6, d: 4, E: 5, h: 3, k: 2, b1: false, b2: true, activation: "silu", router: "softmax_topk" }],
    ["softmax then top-3 of 5, renormalised, ReLU, b1", { T: 5, d: 3, E: 5, h: 4, k: 3, b1: true, b2: false, activation: "relu", router: "softmax_topk_norm" }],
    ["gated (SwiGLU) top-2 of 4, b1 and b2", { T: 6, d: 5, E: 4, h: 3, k: 2, b1: true, b2: true, activation: "silu", gated: true }],
  ];
  for (const [name, c] of cases)
    it(`evaluates its body: ${name}, equal to the loops`, () => {
      const rng = seeded(c.T * 31 + c.k);
      const fill = (n: number) => Float32Array.from({ length: n }, () => rng() * 2 - 1);
      const x = fill(c.T * c.d), gate = fill(c.d * c.E), w1 = fill(c.E * c.d * c.h), b1 = fill(c.E * c.h), w2 = fill(c.E * c.h * c.d), b2 = fill(c.E * c.d), w3 = fill(c.E * c.d * c.h);
      const inputs = [f32([c.T, c.d], x), f32([c.d, c.E], gate), f32([c.E, c.d, c.h], w1)];
      if (c.b1) inputs.push(f32([c.E, c.h], b1));
      if (c.gated) inputs.push(f32([c.E, c.d, c.h], w3));
      inputs.push(f32([c.E, c.h, c.d], w2));
      if (c.b2) inputs.push(f32([c.E, c.d], b2));
      const params = { k: c.k, b1: c.b1, b2: c.b2, router: c.router ?? "topk_softmax", gated: !!c.gated, capacity: 0 };
      const body = moeFfnBody(inputs.map((a) => ({ dtype: a.dtype, shape: a.shape })), params, c.activation);
      const out = ev("moe_ffn", inputs, { ...params, body });
      expect(out.shape).toEqual([c.T, c.d]);
      const want = loops(c, x, gate, w1, b1, w2, b2, w3);
      Array.from(out.data).forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 5));
    });
});

const dotOf = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((s, x, i) => s + x * b[i]!, 0);

describe("interp: moe_ffn's derivative nodes (bodies from the frontend's rules) against the loops' central differences", () => {
  const c: MoeCase = { T: 5, d: 4, E: 4, h: 3, k: 2, b1: true, b2: true, activation: "silu", gated: true, router: "softmax_topk" };
  const names = ["x", "gate", "w1", "b1", "w3", "w2", "b2"];
  const shapes = [[c.T, c.d], [c.d, c.E], [c.E, c.d, c.h], [c.E, c.h], [c.E, c.d, c.h], [c.E, c.h, c.d], [c.E, c.d]];
  const params = { k: c.k, b1: true, b2: true, router: c.router!, gated: true, capacity: 0 };
  const types = shapes.map((shape) => ({ dtype: "f32" as const, shape }));
  const fwd = { ...params, body: moeFfnBody(types, params, "silu") };
  const rng = seeded(77);
  const fill = (n: number) => Float64Array.from({ length: n }, () => rng() * 2 - 1);
  const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
  const primals = sizes.map(fill);
  const asInputs = (xs: Float64Array[]) => xs.map((x, i) => f32(shapes[i]!, Float32Array.from(x)));
  // loops() takes (x, gate, w1, b1, w2, b2, w3); operands are in (x, gate, w1, b1, w3, w2, b2) order.
  const run = (xs: Float64Array[]) => loops(c, ...([xs[0], xs[1], xs[2], xs[3], xs[5], xs[6], xs[4]] as unknown as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array]));
  /** d out along `t` by central differences of the loops (in float64; the routing does not change over ±1e-4). */
  const directional = (t: Float64Array[]) => {
    const eps = 1e-4;
    const plus = run(primals.map((p, i) => p.map((v, j) => v + eps * t[i]![j]!)));
    const minus = run(primals.map((p, i) => p.map((v, j) => v - eps * t[i]![j]!)));
    return plus.map((v, j) => (v - minus[j]!) / (2 * eps));
  };
  const single = (i: number) => sizes.map((n, j) => (j === i ? fill(n) : new Float64Array(n)));

  it("moe_ffn_jvp gives the loops' directional derivative along every operand at once", () => {
    const staged = stageGraph("moe_jvp", [...types, ...types], (xs) => {
      const [, touts] = jvpFlat((ys) => bind("moe_ffn", ys, fwd), xs.slice(0, 7), xs.slice(7));
      return touts as Tensor[];
    }).graph;
    const node = staged.nodes.find((n): n is Node<"moe_ffn_jvp"> => n.prim === "moe_ffn_jvp")!;
    const t = sizes.map(fill);
    const got = ev("moe_ffn_jvp", [...asInputs(primals), ...asInputs(t)], node.params);
    const want = directional(t);
    Array.from(got.data).forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 3));
  });

  it("moe_ffn_bwd is its transpose: <ct, J·t> = <Jᵀ·ct, t> for each operand", () => {
    const staged = stageGraph("moe_bwd", [...types, types[0]!], (xs) => {
      const [, pullback] = vjpFlat((ys) => bind("moe_ffn", ys, fwd), xs.slice(0, 7));
      return pullback([xs[7]!]) as Tensor[];
    }).graph;
    const node = staged.nodes.find((n): n is Node<"moe_ffn_bwd"> => n.prim === "moe_ffn_bwd")!;
    const ct = fill(c.T * c.d);
    const grads = evAll("moe_ffn_bwd", [...asInputs(primals), f32([c.T, c.d], Float32Array.from(ct))], node.params);
    expect(grads).toHaveLength(7);
    names.forEach((name, i) => {
      const t = single(i);
      expect(dotOf(grads[i]!.data, t[i]!), `gradient of ${name}`).toBeCloseTo(dotOf(ct, directional(t)), 3);
    });
  });
});
