import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import type { Tensor } from "../../frontend/core.js";
import { init } from "../../frontend/init.js";
import * as lax from "../../frontend/lax.js";
import * as nn from "../../frontend/nn.js";
import * as np from "../../frontend/np.js";
import { stageGraph } from "../../frontend/staging.js";
import type { AbstractValue } from "../../ir/dtype.js";
import type { Graph, Node } from "../../ir/graph.js";
import { parseIRSync } from "../../ir/parse.js";
import { printIR } from "../../ir/print.js";
import { evalGraph } from "../../runtime/interp.js";
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

interface LoopExpert { w1: Tensor; b1?: Tensor; w3?: Tensor; w2: Tensor; b2?: Tensor; act?: (u: Tensor) => Tensor }

/** A top-k MoE written as a loop over the first `experts` experts, as a user would write it. */
function loopMoe(x: Tensor, gate: Tensor, expert: (e: number) => LoopExpert, gates: "where" | "mul" = "where", experts = E, k = 2): Tensor {
  const [vals, idx] = np.topK(np.matmul(x, gate), k);
  const w = nn.softmax(vals!);
  let out: Tensor | undefined;
  for (let e = 0; e < experts; e++) {
    const { w1, b1, w3, w2, b2, act = nn.relu } = expert(e);
    const ge = np.sum(gates === "where" ? np.where(np.equal(idx!, e), w, 0) : np.multiply(w, np.equal(idx!, e)), -1);
    let hid = act(b1 ? np.add(np.matmul(x, w1), b1) : np.matmul(x, w1));
    if (w3) hid = np.multiply(hid, np.matmul(x, w3));
    const y = b2 ? np.add(np.matmul(hid, w2), b2) : np.matmul(hid, w2);
    const term = np.multiply(np.expandDims(ge, -1), y);
    out = out ? np.add(out, term) : term;
  }
  return out!;
}

/** nn.moe's expert half by hand, from the router's chosen indices and weights [T, k]. */
function denseExperts(x: Tensor, w1: Tensor, w2: Tensor, idx: Tensor, w: Tensor): Tensor {
  const k = idx.shape[1]!;
  const gates = lax.reduceSum(lax.mul(np.oneHot(idx, E), lax.broadcastInDim(w, [T, k, E], [0, 1])), [1]);
  const y = lax.dotGeneral(nn.relu(lax.dotGeneral(lax.broadcastInDim(x, [E, T, d], [1, 2]), w1, batchE)), w2, batchE);
  return lax.reduceSum(lax.mul(y, lax.broadcastInDim(lax.transpose(gates, [1, 0]), [E, T, d], [0, 1])), [0]);
}

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

  it("routes while the router's logits are also read outside (a load-balancing loss): the dense router stays for that reader", () => {
    const g = stageGraph("layer", [f32(T, d), f32(d, E), f32(E, d, h), f32(E, h, d)], ([x, gate, w1, w2]) => {
      const y = nn.moe(x!, gate!, { w1: w1!, w2: w2! }, 2);
      const logits = lax.dotGeneral(x!, gate!, { lhsContract: [1], rhsContract: [0] });
      return [y, nn.loadBalancingLoss(logits, 2)];
    }).graph;
    const { graph, notes } = afterPass(g); // CSE merges the two routers
    expect(moeNodes(graph), notes).toHaveLength(1);
    expect(notes).toMatch(/router value\(s\) also read outside \(kept there\)/);
    const xs = inputsFor(g, 4);
    expectClose(run(graph, xs), run(g, xs), 1e-6);
  });

  it("explains a near-miss: an expert's hidden layer also used outside the layer", () => {
    let kept: Tensor | undefined;
    const g = stageGraph("layer", [f32(T, d), f32(d, E), f32(E, d, h), f32(E, h, d)], ([x, gate, w1, w2]) => {
      const y = nn.moe(x!, gate!, { w1: w1!, w2: w2! }, 2, { activation: (u) => (kept = nn.relu(u)) });
      return [y, kept!];
    }).graph;
    const { graph, notes } = afterPass(g);
    expect(moeNodes(graph)).toHaveLength(0);
    expect(notes).toMatch(/also used outside it \(the routed form would not compute it\)/);
  });

  it("finds softmax-then-top-k routers (DeepSeek, Qwen), renormalised or not", () => {
    for (const normalize of [false, true]) {
      const g = trace([f32(T, d), f32(d, E), f32(E, d, h), f32(E, h, d), f32(E, d)],
        ([x, gate, w1, w2, b2]) => nn.moe(x!, gate!, { w1: w1!, w2: w2!, b2: b2! }, 2, { router: "softmax-topk", normalize }));
      const { graph, notes } = afterPass(g);
      const [node] = moeNodes(graph);
      expect(node?.params.router, notes).toBe(normalize ? "softmax_topk_norm" : "softmax_topk");
      expect(notes).toMatch(normalize ? /router softmax_topk_norm, b2/ : /router softmax_topk, b2/);
      const xs = inputsFor(g, 5);
      expectClose(run(graph, xs), run(g, xs), 1e-6);
    }
  });

  it("finds gated (SwiGLU) experts, act(x·w1 + b1) · (x·w3), and leaves shared experts outside the node", () => {
    const g = trace([f32(T, d), f32(d, E), f32(E, d, h), f32(E, h), f32(E, d, h), f32(E, h, d), f32(d, 6), f32(d, 6), f32(6, d)],
      ([x, gate, w1, b1, w3, w2, s1, s3, s2]) =>
        nn.moe(x!, gate!, { w1: w1!, b1: b1!, w3: w3!, w2: w2! }, 2, { activation: nn.silu, shared: { w1: s1!, w3: s3!, w2: s2! } }));
    const { graph, notes } = afterPass(g);
    const [node] = moeNodes(graph);
    expect(node?.params, notes).toMatchObject({ gated: true, b1: true, b2: false, router: "topk_softmax" });
    expect(notes).toMatch(/gated \(w3\), b1/);
    // The shared expert's [T, d] · [d, 6] matmuls stay beside the node.
    expect(graph.nodes.filter((n) => n.prim === "dot_general").length).toBe(3);
    const xs = inputsFor(g, 6);
    expectClose(run(graph, xs), run(g, xs), 1e-6);
  });

  it("finds a capacity factor's mask (C = ceil(cf · T · k / E)); the dropped count read outside stays beside the node", () => {
    const g = stageGraph("layer", [f32(T, d), f32(d, E), f32(E, d, h), f32(E, h, d)], ([x, gate, w1, w2]) => {
      const r = nn.moe(x!, gate!, { w1: w1!, w2: w2! }, 2, { capacityFactor: 0.5, stats: true });
      return [r.out, r.dropped];
    }).graph;
    const { graph, notes } = afterPass(g);
    const [node] = moeNodes(graph);
    expect(node?.params.capacity, notes).toBe(Math.ceil((0.5 * T * 2) / E));
    expect(notes).toMatch(/top-2, capacity 2, 1 router value\(s\) also read outside/);
    const xs = inputsFor(g, 8);
    expectClose(run(graph, xs), run(g, xs), 1e-6);
  });

  it("explains a near-miss: gate weights times a mask that is not a capacity mask (tokens first, not choices first)", () => {
    const g = trace([f32(T, d), f32(d, E), f32(E, d, h), f32(E, h, d)], ([x, gate, w1, w2]) => {
      const logits = lax.dotGeneral(x!, gate!, { lhsContract: [1], rhsContract: [0] });
      const [vals, idx] = lax.topK(logits, 2);
      // The queue in (token, choice) order: a different priority from nn.moe's.
      const hot = np.oneHot(idx!, E);
      const queue = lax.reshape(hot, [T * 2, E]);
      const position = lax.reduceSum(lax.mul(lax.sub(lax.cumsum(queue, 0), queue), queue), [1]);
      const keep = lax.reshape(lax.cast(lax.lt(position, lax.fullLike(position, 2)), "f32"), [T, 2]);
      return denseExperts(x!, w1!, w2!, idx!, lax.mul(nn.softmax(vals!), keep));
    });
    const { graph, notes } = afterPass(g);
    expect(moeNodes(graph)).toHaveLength(0);
    expect(notes).toMatch(/not a capacity mask: the mask is reshape, expected transpose/);
  });

  it("stacks a loop over experts (np.take of stacked weights, where-gates) into the dense form and routes it", () => {
    const g = trace([f32(T, d), f32(d, E), f32(E, d, h), f32(E, h), f32(E, h, d)], ([x, gate, w1, b1, w2]) => loopMoe(x!, gate!, (e) => ({
      w1: np.take(w1!, e, 0), b1: np.take(b1!, e, 0), w2: np.take(w2!, e, 0),
    })));
    const { graph, notes } = afterPass(g);
    expect(notes).toMatch(new RegExp(`a loop over ${E} experts stacked into the dense form`));
    const [node] = moeNodes(graph);
    expect(node?.params, notes).toMatchObject({ k: 2, b1: true, b2: false, gated: false });
    // The stacked weights are the graph's own inputs: nothing is copied.
    expect(graph.nodes.some((n) => n.prim === "concatenate")).toBe(false);
    const xs = inputsFor(g, 9);
    expectClose(run(graph, xs), run(g, xs), 1e-6);
  });

  it("stacks a loop over separate per-expert tensors with gated experts and a second bias, gates as w · (idx == e)", () => {
    const types = [f32(T, d), f32(d, E), ...Array.from({ length: E }, () => [f32(d, h), f32(d, h), f32(h, d), f32(d)]).flat()];
    const g = trace(types, ([x, gate, ...ws]) => loopMoe(x!, gate!, (e) => ({ w1: ws[4 * e]!, w3: ws[4 * e + 1]!, w2: ws[4 * e + 2]!, b2: ws[4 * e + 3]! }), "mul"));
    const { graph, notes } = afterPass(g);
    const [node] = moeNodes(graph);
    expect(node?.params, notes).toMatchObject({ gated: true, b1: false, b2: true });
    expect(graph.nodes.filter((n) => n.prim === "concatenate").length, "w1, w3, w2 and b2 stacked").toBe(4);
    const xs = inputsFor(g, 10);
    expectClose(run(graph, xs), run(g, xs), 1e-6);
  });

  it("property: generated loops over experts (E, k, activation, biases, gating, weights sliced or separate) stack, route and mean the same", () => {
    fc.assert(fc.property(
      fc.record({
        experts: fc.integer({ min: 2, max: 5 }), kFrac: fc.double({ min: 0, max: 1, noNaN: true }), act: fc.constantFrom("relu", "silu", "tanh"),
        b1: fc.boolean(), b2: fc.boolean(), gated: fc.boolean(), sliced: fc.boolean(), gates: fc.constantFrom("where" as const, "mul" as const), seed: fc.nat(1000),
      }),
      ({ experts, kFrac, act, b1, b2, gated, sliced, gates, seed }) => {
        const k = 1 + Math.min(experts - 1, Math.floor(kFrac * experts));
        const activation = { relu: nn.relu, silu: nn.silu, tanh: np.tanh }[act];
        const perExpert = [f32(d, h), f32(h), f32(d, h), f32(h, d), f32(d)];
        const types = sliced
          ? [f32(T, d), f32(d, experts), ...perExpert.map((t) => f32(experts, ...t.shape))]
          : [f32(T, d), f32(d, experts), ...Array.from({ length: experts }, () => perExpert).flat()];
        const g = trace(types, ([x, gate, ...ws]) => {
          const at = (e: number, i: number) => (sliced ? np.take(ws[i]!, e, 0) : ws[5 * e + i]!);
          return loopMoe(x!, gate!, (e) => ({
            w1: at(e, 0), ...(b1 ? { b1: at(e, 1) } : {}), ...(gated ? { w3: at(e, 2) } : {}), w2: at(e, 3), ...(b2 ? { b2: at(e, 4) } : {}), act: activation,
          }), gates, experts, k);
        });
        const { graph, notes } = afterPass(g);
        const [node] = moeNodes(graph);
        expect(node?.params, notes).toMatchObject({ k, b1, b2, gated });
        const xs = inputsFor(g, seed);
        expectClose(run(graph, xs), run(g, xs), 1e-5);
      },
    ), { numRuns: 25 });
  });

  it("stacks a loop that starts from a residual (out = x; out += term), keeping the residual as an addend", () => {
    const g = trace([f32(T, d), f32(d, E), f32(E, d, h), f32(E, h, d)], ([x, gate, w1, w2]) =>
      np.add(x!, loopMoe(x!, gate!, (e) => ({ w1: np.take(w1!, e, 0), w2: np.take(w2!, e, 0) }))));
    const { graph, notes } = afterPass(g);
    expect(moeNodes(graph), notes).toHaveLength(1);
    expect(notes).toMatch(/a loop over 4 experts stacked into the dense form \(plus 1 other addend\(s\)\)/);
    const xs = inputsFor(g, 12);
    expectClose(run(graph, xs), run(g, xs), 1e-6);
  });

  it("leaves a loop it cannot read as it is and says why: an expert missing, activations that differ", () => {
    const missing = trace([f32(T, d), f32(d, E), f32(E, d, h), f32(E, h, d)], ([x, gate, w1, w2]) =>
      loopMoe(x!, gate!, (e) => ({ w1: np.take(w1!, e, 0), w2: np.take(w2!, e, 0) }), "where", E - 1));
    expect(moeNodes(afterPass(missing).graph)).toHaveLength(0);
    expect(afterPass(missing).notes).toMatch(new RegExp(`the sum has ${E - 1} terms for the router's ${E} experts`));
    const mixed = trace([f32(T, d), f32(d, E), f32(E, d, h), f32(E, h, d)], ([x, gate, w1, w2]) =>
      loopMoe(x!, gate!, (e) => ({ w1: np.take(w1!, e, 0), w2: np.take(w2!, e, 0), act: e === 1 ? nn.silu : nn.relu })));
    expect(moeNodes(afterPass(mixed).graph)).toHaveLength(0);
    expect(afterPass(mixed).notes).toMatch(/expert 1's activation differs from expert 0's/);
  });

  it("explains near-misses in the router: a softmax taken twice, raw logits as weights", () => {
    const twice = trace([f32(T, d), f32(d, E), f32(E, d, h), f32(E, h, d)], ([x, gate, w1, w2]) => {
      const logits = lax.dotGeneral(x!, gate!, { lhsContract: [1], rhsContract: [0] });
      const [vals, idx] = lax.topK(nn.softmax(logits), 2);
      return denseExperts(x!, w1!, w2!, idx!, nn.softmax(vals!));
    });
    expect(moeNodes(afterPass(twice).graph)).toHaveLength(0);
    expect(afterPass(twice).notes).toMatch(/a softmax taken twice/);
    const raw = trace([f32(T, d), f32(d, E), f32(E, d, h), f32(E, h, d)], ([x, gate, w1, w2]) => {
      const [vals, idx] = lax.topK(lax.dotGeneral(x!, gate!, { lhsContract: [1], rhsContract: [0] }), 2);
      return denseExperts(x!, w1!, w2!, idx!, vals!);
    });
    expect(moeNodes(afterPass(raw).graph)).toHaveLength(0);
    expect(afterPass(raw).notes).toMatch(/top-k logits themselves, with no softmax/);
  });

  it("rewrites a per-expert FFN whose second layer is a plain (unbatched) product not at all", () => {
    const g = trace([f32(T, d), f32(d, E), f32(E, d, h), f32(E, h, d)], ([x, gate, w1, w2]) => {
      const hid = nn.relu(lax.dotGeneral(lax.broadcastInDim(x!, [E, T, d], [1, 2]), w1!, batchE));
      return lax.reduceSum(lax.dotGeneral(hid, w2!, batchE), [0]);
    });
    expect(moeNodes(afterPass(g).graph)).toHaveLength(0);
  });
});

describe("moe_ffn_bwd without its activation calls", () => {
  it("runs as its body: the inline pass turns a hand-written backward (IR text) into a call and inlines it, equal to the interpreter", () => {
    const text = `
func @bwd(%x: f32[5,8], %gate: f32[8,4], %w1: f32[4,8,6], %w2: f32[4,6,8], %ct: f32[5,8]) -> (f32[5,8], f32[8,4], f32[4,8,6], f32[4,6,8]) {
  %0 = mul %x, %ct : f32[5,8]
  return %0, %gate, %w1, %w2
}
func @main(%x: f32[5,8], %gate: f32[8,4], %w1: f32[4,8,6], %w2: f32[4,6,8], %ct: f32[5,8]) -> (f32[5,8], f32[8,4], f32[4,8,6], f32[4,6,8]) {
  %0, %1, %2, %3 = moe_ffn_bwd %x, %gate, %w1, %w2, %ct {body=@bwd, k=2, b1=false, b2=false, router="topk_softmax", gated=false, capacity=0} : f32[5,8], f32[8,4], f32[4,8,6], f32[4,6,8]
  return %0, %1, %2, %3
}`;
    const g = parseIRSync(text);
    const stages = stagesOf(g);
    const inlined = stages.find((s) => s.pass === "inline")!.graph;
    expect(inlined.nodes.map((n) => n.prim)).not.toContain("moe_ffn_bwd");
    const xs = inputsFor(g, 3);
    const want = evalGraph(g, xs), got = evalGraph(stages.at(-1)!.graph, xs);
    expectClose(got, want);
  });
});
