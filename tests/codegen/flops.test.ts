/**
 * Kernels report their contraction FLOPs (Kernel.flops: 2 per multiply-add of matrix and
 * attention products), device-free: a matmul's are 2·m·n·k; a routed mixture of experts'
 * expert matmuls count the tokens' T·k rows, so they are k/E of the dense form's, and its
 * backward's weight gradients likewise; flash attention counts its two products, halved
 * when causal.
 */
import { describe, expect, test } from "vitest";
import { lowerGraph } from "../../codegen/program.js";
import { CUDA_SM80_TARGET, type Target, WEBGPU_TARGET } from "../../codegen/target.js";
import type { Graph, Node } from "../../ir/graph.js";
import { flashAttentionBody } from "../../passes/attention-body.js";
import { GraphBuilder } from "../../ir/graph.js";
import { type MoeCase, moeBwdGraph, moeGraph } from "./moe-cases.js";

const flopsOf = (g: Graph, target: Target, only: (name: string) => boolean = () => true) =>
  lowerGraph(g, target).launches.filter((l) => only(l.kernel.name)).reduce((s, l) => s + (l.kernel.flops ?? 0), 0);

describe("contraction FLOPs per kernel", () => {
  for (const target of [WEBGPU_TARGET, CUDA_SM80_TARGET])
    test(`${target.name}: a matmul's are 2·m·n·k; elementwise kernels report none`, () => {
      const b = new GraphBuilder("mm");
      const [x, y] = [b.input({ dtype: "f32", shape: [37, 20] }), b.input({ dtype: "f32", shape: [20, 11] })];
      const p = b.add("dot_general", [x!, y!], { lhs_contract: [1], rhs_contract: [0], lhs_batch: [], rhs_batch: [] })[0]!;
      const g = b.build([p, b.add("exp", [x!], {})[0]!]);
      const launches = lowerGraph(g, target).launches;
      expect(launches.map((l) => l.kernel.flops ?? 0).sort((a, b) => a - b)).toEqual([0, 2 * 37 * 20 * 11]);
    });

  const cases: MoeCase[] = [
    { T: 40, d: 32, E: 8, h: 64, k: 2, b1: true, b2: true },
    { T: 9, d: 8, E: 4, h: 6, k: 3, gated: true, router: "softmax_topk_norm" },
    { T: 12, d: 8, E: 4, h: 16, k: 2, capacity: 2 },
  ];
  for (const c of cases)
    test(`a routed mixture of experts does k/E of the dense form's expert work (${JSON.stringify(c)})`, () => {
      const g = moeGraph(c);
      const dense = (g.nodes.find((n) => n.prim === "moe_ffn") as Node<"moe_ffn">).params.body;
      const logits = 2 * c.T * c.d * c.E;
      const routed = flopsOf(g, WEBGPU_TARGET), all = flopsOf(dense, WEBGPU_TARGET);
      // With a capacity the experts take at most E·C of the T·k choices.
      const used = c.capacity ? Math.min(c.T * c.k, c.E * c.capacity) : c.T * c.k;
      expect(routed - logits).toBe(((all - logits) * used) / (c.T * c.E));
      if (!c.capacity) expect((routed - logits) / (all - logits)).toBeCloseTo(c.k / c.E, 12);
      // The backward: the logits again; per first-layer matrix (w1, and w3 when gated) its
      // product again, its gradient and its share of dx; for w2 the cotangent through w2ᵀ and
      // its gradient (each a product over the used rows); then d gate and dx's router term.
      const layer = 2 * used * c.d * c.h;
      const bwd = flopsOf(moeBwdGraph(c), WEBGPU_TARGET, (n) => n.startsWith("moe_ffn_bwd"));
      expect(bwd).toBe(logits + 3 * (c.gated ? 2 : 1) * layer + 2 * layer + 2 * logits);
    });

  test("flash attention counts q·kᵀ and p·v, halved when causal", () => {
    for (const causal of [false, true]) {
      const b = new GraphBuilder("attn");
      const types = [[4, 64, 32], [4, 80, 32], [4, 80, 16]].map((shape) => ({ dtype: "f32" as const, shape }));
      const xs = types.map((t) => b.input(t));
      const flags = { scale: 0.125, causal, bias: false, mask: false };
      const outs = b.add("flash_attention", xs, { body: flashAttentionBody(types, flags), ...flags });
      const got = flopsOf(b.build(outs), WEBGPU_TARGET);
      expect(got).toBe((2 * 4 * 64 * 80 * (32 + 16)) / (causal ? 2 : 1));
    }
  });
});
