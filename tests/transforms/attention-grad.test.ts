/**
 * flash_attention's own differentiation rules (frontend/attention-rules.ts): grad through the
 * node runs flash_attention_bwd (the tiled backward) and equals grad through the node's body
 * (the materialised path); jvp gives the body's tangents; nothing of shape Sq×Sk is left in
 * the compiled gradient graph.
 */
import { describe, expect, it } from "vitest";
import { type Tensor, bind } from "../../frontend/core.js";
import { init } from "../../frontend/init.js";
import { type JitOptions, jit } from "../../frontend/jit.js";
import { jvp } from "../../frontend/jvp.js";
import * as lax from "../../frontend/lax.js";
import * as nn from "../../frontend/nn.js";
import { grad } from "../../frontend/vjp.js";
import { inlineCalls } from "../../ir/inline.js";
import { evalGraphWithBind, stageGraph } from "../../frontend/staging.js";
import { runPipeline } from "../../passes/pipeline.js";
import { evalGraph } from "../../runtime/interp.js";
import { type FlashCase, flashGradGraph, flashInputs, flashNode } from "../codegen/attention-cases.js";
import { expectClose } from "../passes/graphs.js";

await init({ backend: "interp" });

const CASES: [string, FlashCase][] = [
  ["causal, Sq = Sk off the tile", { g: 2, rep: 1, sq: 19, sk: 19, d: 8, dv: 8, causal: true }],
  ["non-causal, Sq ≠ Sk, head dims differ", { g: 2, rep: 1, sq: 7, sk: 12, d: 8, dv: 5, causal: false }],
  ["grouped-query 4:1, causal (top-left), Sq > Sk", { g: 4, rep: 4, sq: 11, sk: 6, d: 4, dv: 4, causal: true }],
  ["bias and mask (not differentiated)", { g: 2, rep: 2, sq: 6, sk: 9, d: 4, dv: 4, causal: false, bias: [1, 6, 9], mask: [2, 1, 9] }],
];

describe("grad through flash_attention", () => {
  for (const [name, c] of CASES) {
    it(`equals grad through its body: ${name}`, () => {
      const flash = flashGradGraph(c, false), body = flashGradGraph(c, true);
      expect(flash.nodes.map((n) => n.prim)).toContain("flash_attention_bwd");
      expect(body.nodes.map((n) => n.prim)).not.toContain("flash_attention_bwd");
      const xs = flashInputs(flash, 5);
      expectClose(evalGraph(flash, xs), evalGraph(body, xs), 1e-5);
    });
  }

  it("leaves no Sq×Sk value in the compiled gradient graph", () => {
    const c: FlashCase = { g: 2, rep: 1, sq: 23, sk: 17, d: 8, dv: 8, causal: true };
    const final = runPipeline(flashGradGraph(c, false)).graph;
    const values = final.nodes.flatMap((n) => n.outputs);
    expect(values.filter((v) => v.shape.includes(23) && v.shape.includes(17)).map((v) => v.shape)).toEqual([]);
    expect(final.nodes.map((n) => n.prim)).toEqual(expect.arrayContaining(["flash_attention", "flash_attention_bwd"]));
  });

  it("jvp of the node gives the body's tangents (forward mode runs the body, inlined)", () => {
    const c: FlashCase = { g: 2, rep: 2, sq: 5, sk: 7, d: 4, dv: 3, causal: true };
    const { params, types } = flashNode(c);
    const g = stageGraph("attention_jvp", [...types, ...types], (xs) => {
      const f = (viaBody: boolean) => (q: Tensor, k: Tensor, v: Tensor) =>
        viaBody ? evalGraphWithBind(params.body, [q, k, v]) : bind("flash_attention", [q, k, v], params);
      const [, flash] = jvp(f(false), xs.slice(0, 3), xs.slice(3));
      const [, body] = jvp(f(true), xs.slice(0, 3), xs.slice(3));
      return [...(flash as Tensor[]), ...(body as Tensor[])];
    }).graph;
    expect(g.nodes.map((n) => n.prim)).toContain("flash_attention_jvp");
    const outs = evalGraph(runPipeline(g).graph, flashInputs(g, 3));
    expectClose(outs.slice(0, 2), outs.slice(2), 1e-5);
  });
});


describe("grad of a jit-compiled function with hand-written attention", () => {
  const types = [[2, 3, 13, 8], [2, 3, 13, 8], [2, 3, 13, 8], [2, 3, 13, 8]].map((shape) => ({ dtype: "f32" as const, shape }));
  const loss = (q: Tensor, k: Tensor, v: Tensor, w: Tensor) => {
    const y = nn.attention(q, k, v, { causal: true });
    return lax.reduceSum(lax.mul(y, w), [0, 1, 2, 3]);
  };
  const gradGraph = (options: JitOptions) =>
    inlineCalls(stageGraph("g", types, (xs) => grad(jit(loss, options), { argnums: [0, 1, 2] })(...(xs as [Tensor, Tensor, Tensor, Tensor])) as Tensor[]).graph);

  it("finds the attention before differentiating, so the backward is flash_attention_bwd", () => {
    const flash = gradGraph({}), plain = gradGraph({ disablePasses: ["attention"] });
    expect(flash.nodes.map((n) => n.prim)).toContain("flash_attention_bwd");
    expect(plain.nodes.map((n) => n.prim)).not.toContain("flash_attention_bwd");
    const xs = flashInputs(flash, 9);
    expectClose(evalGraph(flash, xs), evalGraph(plain, xs), 1e-5);
  });
});
