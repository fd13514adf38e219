/**
 * The composite-node convention (ir/primitives.ts): a node with a body means what its
 * body computes, and the interpreter and every transformation handle it through that
 * body. Tested on the `fusion` nodes the fuse pass makes: the fused graph must give the
 * unfused graph's values, gradients, batched values and transposes.
 */
import { describe, expect, it } from "vitest";
import type { Tensor } from "../../frontend/core.js";
import { fromHost } from "../../frontend/creation.js";
import { init } from "../../frontend/init.js";
import * as lax from "../../frontend/lax.js";
import { evalGraphWithBind } from "../../frontend/staging.js";
import { vmap } from "../../frontend/vmap.js";
import { grad, linearTranspose } from "../../frontend/vjp.js";
import type { Graph } from "../../ir/graph.js";
import { COMPOSITE_OPS, allPrimitives, compositeBody, primitiveDef } from "../../ir/primitives.js";
import { evalGraph } from "../../runtime/interp.js";
import { Tb, finalGraph, fusions, inputsFor, layerNorm, mlp, softmax } from "../passes/graphs.js";
import { expectClose, read, uniform } from "./helpers.js";

await init({ backend: "interp" });

const tensorsFor = (g: Graph, seed: number): Tensor[] =>
  inputsFor(g, seed).map((h) => fromHost(h.dtype, h.shape, h.data));

/** The graph as a function of tensors: its nodes (fusion nodes included) run through bind. */
const asFunction = (g: Graph) => (...xs: Tensor[]) => evalGraphWithBind(g, xs)[0]!;

/** A scalar loss over the graph's result, weighting every element differently. */
const lossOf = (g: Graph) => {
  const w = uniform(g.outputs[0]!.shape, 7);
  return (...xs: Tensor[]) => {
    const y = asFunction(g)(...xs);
    return lax.reduceSum(lax.mul(y, w), y.shape.map((_, i) => i));
  };
};

const cases: [string, Graph][] = [
  ["softmax (a reduction fusion)", softmax(3, 5)],
  ["layer norm (a reduction fusion with gain and bias)", layerNorm(3, 5)],
  ["an MLP layer (matmul fusions with bias and gelu epilogues)", mlp(2, 3, 4)],
];

describe("composite nodes: the registry", () => {
  it("the composite primitives are exactly those with a graph attribute, one each", () => {
    const withGraph = allPrimitives().filter((p) => Object.values(primitiveDef(p).params).includes("graph"));
    expect(withGraph.sort()).toEqual([...COMPOSITE_OPS].sort());
  });

  it("compositeBody reads the graph attribute whatever it is named", () => {
    const body = softmax(2, 2);
    expect(compositeBody("jit", { callee: body })).toBe(body);
    expect(compositeBody("fusion", { body, kind: "reduction", reason: "" })).toBe(body);
  });
});

describe("composite nodes: fusion nodes are handled through their bodies", () => {
  for (const [name, g] of cases) {
    const fused = finalGraph(g);

    it(`${name}: the fuse pass makes fusion nodes`, () => {
      expect(fusions(fused).length).toBeGreaterThan(0);
    });

    it(`${name}: the interpreter gives the unfused values`, () => {
      const xs = inputsFor(g, 3);
      expectClose(Array.from(evalGraph(fused, xs)[0]!.data), Array.from(evalGraph(g, xs)[0]!.data), 1e-6);
    });

    it(`${name}: grad through the fused graph equals grad through the unfused graph`, async () => {
      const xs = tensorsFor(g, 4);
      const argnums = xs.map((_, i) => i);
      const fusedGrads = grad(lossOf(fused), { argnums })(...xs) as Tensor[];
      const plainGrads = grad(lossOf(g), { argnums })(...xs) as Tensor[];
      for (const [i, t] of fusedGrads.entries()) expectClose(await read(t), await read(plainGrads[i]!), 1e-5);
    });

    it(`${name}: vmap over the first input of the fused graph equals vmap of the unfused graph`, async () => {
      const [x, ...rest] = tensorsFor(g, 5);
      const batch = lax.concatenate([x!, lax.neg(x!)].map((t) => lax.reshape(t, [1, ...t.shape])), 0);
      const batched = (h: Graph) => vmap((b: Tensor) => asFunction(h)(b, ...rest))(batch) as Tensor;
      expectClose(await read(batched(fused)), await read(batched(g)), 1e-6);
    });
  }

  it("the transpose of a fused linear function equals the transpose of the unfused one", async () => {
    const t = new Tb("linear");
    const x = t.input("f32", [3, 4], "x");
    const scaled = t.op("mul", [x, t.full(2, [3, 4])]);
    const rowSums = t.op("reduce_sum", [t.op("sub", [scaled, t.op("neg", [x])])], { axes: [1] });
    const g = t.build([t.op("mul", [rowSums, t.full(0.5, [3])])]);
    const fused = finalGraph(g);
    expect(fusions(fused).length).toBeGreaterThan(0);
    const example = uniform([3, 4], 1);
    const ct = uniform([3], 2);
    const [fromFused] = linearTranspose(asFunction(fused), example)(ct) as Tensor[];
    const [fromPlain] = linearTranspose(asFunction(g), example)(ct) as Tensor[];
    expectClose(await read(fromFused!), await read(fromPlain!), 1e-6);
  });
});
