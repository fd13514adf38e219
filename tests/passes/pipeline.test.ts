import { beforeAll, describe, expect, it } from "vitest";
import type { Tensor } from "../../frontend/core.js";
import { fromHost } from "../../frontend/creation.js";
import { init } from "../../frontend/init.js";
import { type Lowered, jit, spec } from "../../frontend/jit.js";
import * as nn from "../../frontend/nn.js";
import * as np from "../../frontend/np.js";
import { GraphBuilder } from "../../ir/graph.js";
import { passNames, pipeline, runPipeline } from "../../passes/pipeline.js";
import { roundTrip } from "../ir/roundtrip.js";
import { Tb, expectClose, fusions, inputsFor, layerNorm, limitTarget, mlp, run, softmax, stagesOf, sumOf, w1 } from "./graphs.js";

beforeAll(async () => {
  await init({ backend: "interp" });
});

const GRAPHS = { w1, softmax, keepdimsSoftmax: () => softmax(4, 8, true), layerNorm, mlp, sum12: () => sumOf(12) };

describe("pipeline", () => {
  it("runs inline → canonicalize → attention → moe → fuse → canonicalize → memory-plan, and the same without attention, moe and fuse when unfused", () => {
    expect(pipeline().map((p) => p.stage)).toEqual(["inline", "canonicalize", "attention", "moe", "fuse", "canonicalize.2", "memory-plan"]);
    expect(pipeline({ fuse: false }).map((p) => p.stage)).toEqual(["inline", "canonicalize", "canonicalize.2", "memory-plan"]);
    expect(passNames()).toEqual(["inline", "canonicalize", "attention", "moe", "fuse", "memory-plan"]);
  });

  it("switches a pass off by name (both runs) or by stage name (one run)", () => {
    expect(pipeline({ disable: ["canonicalize"] }).map((p) => p.stage)).toEqual(["inline", "attention", "moe", "fuse", "memory-plan"]);
    expect(pipeline({ disable: ["canonicalize.2", "fuse"] }).map((p) => p.stage)).toEqual(["inline", "canonicalize", "attention", "moe", "memory-plan"]);
    expect(fusions(runPipeline(w1(), { disable: ["fuse"] }).graph)).toEqual([]);
  });

  for (const [name, make] of Object.entries(GRAPHS))
    it(`keeps ${name} verified, printable and parseable after every pass, fused and unfused, with equal results`, () => {
      const g = make();
      const xs = inputsFor(g, 11);
      const want = run(g, xs);
      for (const options of [{ target: limitTarget(8) }, { fuse: false }, { disable: ["canonicalize"] }]) {
        const stages = stagesOf(g, options); // verifies and round-trips each stage
        for (const s of stages) expectClose(run(s.graph, xs), want);
      }
    });

  it("inlines jit calls first, so fusion sees through them", () => {
    const inner = softmax();
    const b = new GraphBuilder("outer");
    const x = b.input({ dtype: "f32", shape: [4, 8] }, "x");
    const g = b.build(b.add("jit", [x], { callee: inner }));
    const out = stagesOf(g).at(-1)!.graph;
    expect(out.nodes.map((n) => n.prim)).toEqual(["fusion"]);
  });

  it("writes notes a dump shows: what canonicalize changed, why each group ended, the memory plan", () => {
    const { stages } = runPipeline(mlp(), { target: limitTarget(8) });
    const notes = Object.fromEntries(stages.map((s) => [s.pass, s.notes.join("\n")]));
    expect(notes["canonicalize"]).toMatch(/constant folded/);
    expect(notes["fuse"]).toMatch(/@matmul_0 .* ends: next op is a dot_general/);
    expect(notes["memory-plan"]).toMatch(/peak/);
  });

  it("leaves a graph with nothing to fuse unchanged in meaning", () => {
    const t = new Tb("g");
    const x = t.input("f32", [3, 2], "x");
    const g = t.build([t.op("transpose", [x], { perm: [1, 0] })]);
    expect(stagesOf(g).at(-1)!.graph.nodes.map((n) => n.prim)).toEqual(["transpose"]);
  });
});

describe("pipeline through jit: the frontend's own spellings fuse as promised", () => {
  /** `lower` takes abstract arguments in place of tensors (jax.ShapeDtypeStruct). */
  const S = (type: string) => spec(type) as unknown as Tensor;
  const fusedKinds = (low: Lowered) =>
    low.after("memory-plan").nodes.map((n) => (n.prim === "fusion" ? (n.params as { kind: string }).kind : n.prim));

  it("nn.softmax and nn.layerNorm are one reduction kernel each", () => {
    expect(fusedKinds(jit((x: Tensor) => nn.softmax(x)).lower(S("f32[16,32]")))).toEqual(["reduction"]);
    const ln = jit((x: Tensor, g: Tensor, b: Tensor) => nn.layerNorm(x, g, b));
    expect(fusedKinds(ln.lower(S("f32[16,32]"), S("f32[32]"), S("f32[32]")))).toEqual(["reduction"]);
  });

  it("the MLP with nn.gelu is two matmul kernels, and unfused compiles one node per primitive", () => {
    const f = (x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor) =>
      np.add(np.matmul(nn.gelu(np.add(np.matmul(x, w1), b1)), w2), b2);
    const args = [S("f32[4,8]"), S("f32[8,16]"), S("f32[16]"), S("f32[16,8]"), S("f32[8]")] as const;
    expect(fusedKinds(jit(f).lower(...args))).toEqual(["matmul", "matmul"]);
    const unfused = jit(f, { fuse: false }).lower(...args);
    expect(unfused.passes).not.toContain("fuse");
    expect(fusions(unfused.after("memory-plan"))).toEqual([]);
  });

  it("a transformer block (W8 shape) keeps the round-trip law after every pass and fuses norms into reductions", () => {
    const [L, D, H] = [8, 16, 2]; // sequence, model width, heads
    const block = (x: Tensor, g1: Tensor, b1: Tensor, wqkv: Tensor, wo: Tensor, g2: Tensor, b2: Tensor, w1: Tensor, w2: Tensor) => {
      const qkv = np.matmul(nn.layerNorm(x, g1, b1), wqkv);
      const head = (i: number) => np.transpose(np.reshape(np.slice(qkv, [null, [i * D, (i + 1) * D]]), [L, H, D / H]), [1, 0, 2]);
      const a = np.reshape(np.transpose(nn.attention(head(0), head(1), head(2), { causal: true }), [1, 0, 2]), [L, D]);
      const x2 = np.add(x, np.matmul(a, wo));
      return np.add(x2, np.matmul(nn.gelu(np.matmul(nn.layerNorm(x2, g2, b2), w1), { approximate: true }), w2));
    };
    const types = [`f32[${L},${D}]`, `f32[${D}]`, `f32[${D}]`, `f32[${D},${3 * D}]`, `f32[${D},${D}]`, `f32[${D}]`, `f32[${D}]`, `f32[${D},${4 * D}]`, `f32[${4 * D},${D}]`];
    const args = types.map((t) => S(t)) as Parameters<typeof block>;
    const low = jit(block).lower(...args);
    for (const p of low.passes) roundTrip(low.after(p));
    const kinds = fusedKinds(low);
    expect(kinds.filter((k) => k === "reduction").length).toBeGreaterThanOrEqual(2); // two layer norms (the softmax is in flash_attention)
    // flash_attention reads q, k, v through the head split and stores through the head merge: one attention kernel.
    expect(low.after("memory-plan").nodes.filter((n) => n.prim === "flash_attention")).toHaveLength(0);
    expect(kinds.filter((k) => k === "attention")).toHaveLength(1);
    expect(kinds.filter((k) => k === "matmul").length).toBe(2); // the MLP's two matmuls with gelu and the residual
    const unfused = jit(block, { fuse: false }).lower(...args).after("memory-plan");
    expect(kinds.length).toBeLessThan(unfused.nodes.length / 3);
  });

  it("fused and unfused calls agree on the interpreter", async () => {
    const f = (x: Tensor, g: Tensor, b: Tensor) => nn.softmax(np.add(nn.layerNorm(x, g, b), 1));
    const xs = inputsFor(layerNorm(8, 16), 5).map((a) => fromHost(a.dtype, a.shape, a.data));
    const a = await (jit(f)(xs[0]!, xs[1]!, xs[2]!) as Tensor).data();
    const b = await (jit(f, { fuse: false })(xs[0]!, xs[1]!, xs[2]!) as Tensor).data();
    expectClose([{ dtype: "f32", shape: [a.length], data: a }], [{ dtype: "f32", shape: [b.length], data: b }]);
  });
});
