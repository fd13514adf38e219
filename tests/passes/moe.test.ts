import { beforeAll, describe, expect, it } from "vitest";
import type { Tensor } from "../../frontend/core.js";
import { init } from "../../frontend/init.js";
import * as lax from "../../frontend/lax.js";
import * as nn from "../../frontend/nn.js";
import { stageGraph } from "../../frontend/staging.js";
import type { AbstractValue } from "../../ir/dtype.js";
import type { Graph, Node } from "../../ir/graph.js";
import { printIR } from "../../ir/print.js";
import { expectClose, inputsFor, run, stagesOf } from "./graphs.js";

beforeAll(async () => {
  await init({ backend: "interp" });
});

const f32 = (...shape: number[]): AbstractValue => ({ dtype: "f32", shape });
const trace = (types: AbstractValue[], fn: (xs: Tensor[]) => Tensor) => stageGraph("layer", types, (xs) => [fn(xs)]).graph;

function afterPass(g: Graph, disable: string[] = []) {
  const stages = stagesOf(g, { disable });
  const stage = stages.find((s) => s.pass === "moe");
  return { graph: stage?.graph ?? stages[2]!.graph, notes: stage?.notes.join("\n") ?? "" };
}
const moeNodes = (g: Graph) => g.nodes.filter((n): n is Node<"moe_ffn"> => n.prim === "moe_ffn");

const E = 4, d = 8, h = 16, T = 5;
const batchE = { lhsBatch: [0], rhsBatch: [0], lhsContract: [2], rhsContract: [1] };

describe("moe pass", () => {
  it("replaces nn.moe's dense form with one moe_ffn node that means the same", () => {
    const g = trace([f32(T, d), f32(d, E), f32(E, d, h), f32(E, h), f32(E, h, d), f32(E, d)],
      ([x, gate, w1, b1, w2, b2]) => nn.moe(x!, gate!, { w1: w1!, b1: b1!, w2: w2!, b2: b2! }, 2));
    const { graph, notes } = afterPass(g);
    const [node] = moeNodes(graph);
    expect(node, notes).toBeDefined();
    expect(node!.params).toMatchObject({ k: 2, b1: true, b2: true });
    expect(graph.nodes.some((n) => n.prim === "top_k"), "no router left outside the node").toBe(false);
    expect(notes).toMatch(/moe_ffn over 5 tokens × 8, 4 experts of hidden 16, top-2, b1, b2/);
    const xs = inputsFor(g, 7);
    expectClose(run(graph, xs), run(g, xs), 1e-6);
  });

  it("finds the form without biases, with any elementwise activation (silu, relu), over batched tokens", () => {
    for (const activation of [nn.silu, nn.relu]) {
      const g = trace([f32(2, 3, d), f32(d, E), f32(E, d, h), f32(E, h, d)],
        ([x, gate, w1, w2]) => nn.moe(x!, gate!, { w1: w1!, w2: w2! }, 1, { activation }));
      const { graph, notes } = afterPass(g);
      expect(moeNodes(graph).map((n) => [n.params.b1, n.params.b2]), notes).toEqual([[false, false]]);
      const xs = inputsFor(g, 3);
      expectClose(run(graph, xs), run(g, xs), 1e-6);
    }
  });

  it("keeps the dense form with disablePasses: [\"moe\"]", () => {
    const g = trace([f32(T, d), f32(d, E), f32(E, d, h), f32(E, h, d)], ([x, gate, w1, w2]) => nn.moe(x!, gate!, { w1: w1!, w2: w2! }, 2));
    const final = stagesOf(g, { disable: ["moe"] }).at(-1)!.graph;
    expect(printIR(final)).not.toMatch(/moe_ffn/);
    expect(printIR(stagesOf(g).at(-1)!.graph)).toMatch(/moe_ffn/);
  });

  it("explains a near-miss: an activation that reads a graph input", () => {
    const g = trace([f32(T, d), f32(d, E), f32(E, d, h), f32(E, h, d), f32(E, T, h)], ([x, gate, w1, w2, noise]) =>
      nn.moe(x!, gate!, { w1: w1!, w2: w2! }, 2, { activation: (u) => lax.add(nn.relu(u), noise!) }));
    const { graph, notes } = afterPass(g);
    expect(moeNodes(graph)).toHaveLength(0);
    expect(notes).toMatch(/moe: not rewritten .*activation reads a graph input/);
  });

  it("explains a near-miss: the router's gates also used outside the layer", () => {
    const g = stageGraph("layer", [f32(T, d), f32(d, E), f32(E, d, h), f32(E, h, d)], ([x, gate, w1, w2]) => {
      const y = nn.moe(x!, gate!, { w1: w1!, w2: w2! }, 2);
      const logits = lax.dotGeneral(x!, gate!, { lhsContract: [1], rhsContract: [0] });
      return [y, logits];
    }).graph;
    const { graph, notes } = afterPass(g); // CSE merges the two routers
    expect(moeNodes(graph)).toHaveLength(0);
    expect(notes).toMatch(/also used outside it/);
  });

  it("rewrites a per-expert FFN whose second layer is a plain (unbatched) product not at all", () => {
    const g = trace([f32(T, d), f32(d, E), f32(E, d, h), f32(E, h, d)], ([x, gate, w1, w2]) => {
      const hid = nn.relu(lax.dotGeneral(lax.broadcastInDim(x!, [E, T, d], [1, 2]), w1!, batchE));
      return lax.reduceSum(lax.dotGeneral(hid, w2!, batchE), [0]);
    });
    expect(moeNodes(afterPass(g).graph)).toHaveLength(0);
  });
});
