import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Graph, Node } from "../../ir/graph.js";
import { parseIRSync } from "../../ir/parse.js";
import { printIR } from "../../ir/print.js";
import { runPipeline } from "../../passes/pipeline.js";
import { lowerGraph } from "../../codegen/program.js";
import { MAX_ROW_FOR_EPILOGUE } from "../../passes/fuse-rules.js";
import {
  Tb, contractViolations, expectClose, finalGraph, fusions, gelu, inputsFor, layerNorm, limitTarget, mlp, run, softmax,
  stagesOf, sumOf, w1,
} from "./graphs.js";
import { buildProgram, programArb } from "./random-graphs.js";

const VIEWS_AND_SOURCES = new Set(["broadcast_in_dim", "reshape", "constant", "iota"]);
/** Top-level nodes that launch a kernel (views and constants are folded into their readers). */
const kernels = (g: Graph) => g.nodes.filter((n) => !VIEWS_AND_SOURCES.has(n.prim));
const fuseNotes = (g: Graph, limit = 8) =>
  runPipeline(g, { target: limitTarget(limit) }).stages.find((s) => s.pass === "fuse")!.notes.join("\n");

/** The fused graph, checked: one kernel per the fusion contract, same numbers as the original. */
function fused(g: Graph, limit = 8): Graph {
  const out = finalGraph(g, { target: limitTarget(limit) });
  for (const f of fusions(out)) expect(contractViolations(f, limit)).toEqual([]);
  const xs = inputsFor(g, 3);
  expectClose(run(out, xs), run(g, xs));
  return out;
}

/** Every reduction node, at the top level and inside fusion bodies. */
const reductionsIn = (g: Graph): Node[] =>
  g.nodes.flatMap((n) => (n.prim === "fusion" ? reductionsIn((n as Node<"fusion">).params.body) : n.prim.startsWith("reduce_") ? [n] : []));

describe("fuse: the kernel counts fusion promises", () => {
  it("W1, an elementwise chain of ten ops over a vector, is one elementwise kernel", () => {
    const g = fused(w1());
    expect(g.nodes.map((n) => n.prim)).toEqual(["fusion"]);
    expect(fusions(g)[0]!.params.kind).toBe("elementwise");
  });

  it("softmax over a row is one reduction kernel holding both reductions", () => {
    for (const keepdims of [false, true]) {
      const g = fused(softmax(4, 8, keepdims));
      expect(g.nodes.map((n) => n.prim)).toEqual(["fusion"]);
      const f = fusions(g)[0]!;
      expect(f.params.kind).toBe("reduction");
      expect(f.params.body.nodes.map((n) => n.prim).filter((p) => p.startsWith("reduce_"))).toEqual(["reduce_max", "reduce_sum"]);
    }
  });

  it("layer norm over a row is one reduction kernel", () => {
    const g = fused(layerNorm());
    expect(g.nodes.map((n) => n.prim)).toEqual(["fusion"]);
    expect(fusions(g)[0]!.params.kind).toBe("reduction");
  });

  it("the MLP gelu(x·W1+b1)·W2+b2 is two matmul kernels with their epilogues", () => {
    const g = fused(mlp());
    expect(g.nodes.map((n) => n.prim)).toEqual(["fusion", "fusion"]);
    expect(fusions(g).map((f) => f.params.kind)).toEqual(["matmul", "matmul"]);
    expect(fusions(g)[0]!.params.reason).toMatch(/next op is a dot_general/);
  });

  it("unfused compilation keeps one kernel per primitive", () => {
    const g = finalGraph(mlp(), { fuse: false });
    expect(fusions(g)).toEqual([]);
    expect(kernels(g).length).toBeGreaterThan(10);
  });
});

describe("fuse: hard rules", () => {
  it("never binds more storage buffers than the target allows: a sum of 12 inputs splits", () => {
    const g = fused(sumOf(12), 8);
    expect(fusions(g).length).toBeGreaterThan(1);
    for (const f of fusions(g)) expect(f.inputs.length + f.outputs.length).toBeLessThanOrEqual(8);
    expect(fuseNotes(sumOf(12))).toMatch(/would bind 9 buffers > limit 8/);
    expect(fusions(fused(sumOf(12), 16))).toHaveLength(1);
  });

  it("a stored layout chain wider than the limit (a result concatenating 12 transposed inputs) is emitted op by op, and every kernel it lowers to fits", () => {
    const t = new Tb("concat_of");
    const xs = Array.from({ length: 12 }, (_, i) => t.input("f32", [3, 4], `x${i}`));
    const g = t.build([t.op("concatenate", xs.map((x) => t.op("transpose", [x], { perm: [1, 0] })), { axis: 0 })]);
    const out = fused(g, 8);
    expect(fuseNotes(g, 8)).toMatch(/materialised op by op, read by the function's result: one kernel would bind 13 buffers > limit 8/);
    const launches = lowerGraph(out, limitTarget(8)).launches;
    expect(launches.length).toBeGreaterThan(1);
    for (const l of launches) expect(l.kernel.bindings.length).toBeLessThanOrEqual(8);
    // Under a limit that holds it, the chain is one kernel.
    expect(fuseNotes(g, 16)).toMatch(/@layout_0 \(elementwise, 13 ops: transpose .* concatenate\) materialised/);
  });

  it("reads the limit from the target: a limit of 4 gives kernels of at most 4 bindings", () => {
    const g = fused(sumOf(12), 4);
    for (const f of fusions(g)) expect(f.inputs.length + f.outputs.length).toBeLessThanOrEqual(4);
  });

  it("materialises a computed value that would be recomputed per element of a broadcast into a reduction", () => {
    const t = new Tb("g");
    const x = t.input("f32", [64, 32], "x");
    const b = t.input("f32", [32], "b");
    const y = t.op("reduce_sum", [t.op("mul", [x, t.bcast(gelu(t, b), [64, 32], [1])])], { axes: [1] });
    const g = fused(t.build([y]));
    const [first, second] = fusions(g);
    expect(first!.outputs[0]!.shape).toEqual([32]); // gelu(b) once, as its own kernel
    expect(second!.params.kind).toBe("reduction");
    expect(fuseNotes(t.build([y]))).toMatch(/f32\[32\] would be recomputed per element of a broadcast into a reduction's rows; materialised/);
  });

  it("materialises a computed value broadcast into a matmul epilogue", () => {
    const t = new Tb("g");
    const x = t.input("f32", [8, 4], "x"), w = t.input("f32", [4, 16], "w"), b = t.input("f32", [16], "b");
    const y = t.op("add", [t.op("dot_general", [x, w], { lhs_contract: [1], rhs_contract: [0], lhs_batch: [], rhs_batch: [] }), t.bcast(t.op("tanh", [b]), [8, 16], [1])]);
    const g = fused(t.build([y]));
    expect(kernels(g).map((n) => n.prim)).toEqual(["tanh", "fusion"]);
  });

  it("ends a group at a reduction over another axis", () => {
    const t = new Tb("g");
    const x = t.input("f32", [4, 8], "x");
    const rows = t.op("reduce_sum", [x], { axes: [1] });
    const cols = t.op("reduce_sum", [t.op("mul", [x, t.bcast(rows, [4, 8], [0])])], { axes: [0] });
    const g = fused(t.build([cols]));
    expect(reductionsIn(g)).toHaveLength(2);
    expect(fusions(g)).toHaveLength(1);
    expect(fuseNotes(t.build([cols]))).toMatch(/consumer is a reduction over another axis/);
  });

  it("never duplicates a reduction, whoever reads it", () => {
    const t = new Tb("g");
    const x = t.input("f32", [4, 8], "x");
    const m = t.op("reduce_max", [x], { axes: [1] });
    const a = t.op("sub", [x, t.bcast(m, [4, 8], [0])]);
    const b = t.op("dot_general", [a, t.input("f32", [8, 8], "w")], { lhs_contract: [1], rhs_contract: [0], lhs_batch: [], rhs_batch: [] });
    const g = fused(t.build([t.op("exp", [m]), b, t.op("add", [a, a])]));
    expect(reductionsIn(g)).toHaveLength(1);
  });

  it("stores a value read outside its group as an extra output of the fusion", () => {
    const t = new Tb("g");
    const x = t.input("f32", [16], "x");
    const e = t.op("exp", [x]);
    const g = fused(t.build([e, t.op("add", [t.op("mul", [e, e]), x])]));
    expect(g.nodes.map((n) => n.prim)).toEqual(["fusion"]);
    expect(fusions(g)[0]!.outputs).toHaveLength(2);
  });

  it("computes a value read by two chains once, in one kernel with both results (multi-output fusion)", () => {
    const t = new Tb("g");
    const x = t.input("f32", [16], "x");
    const a = t.op("exp", [x]);
    const g = fused(t.build([t.op("neg", [a]), t.op("abs", [a])]));
    expect(g.nodes.map((n) => n.prim)).toEqual(["fusion"]);
    expect(fusions(g)[0]!.outputs).toHaveLength(2);
  });

  it("does not revisit a row too long for one workgroup: softmax over a huge row is split", () => {
    const g = fused(softmax(2, MAX_ROW_FOR_EPILOGUE + 1));
    expect(kernels(g).length).toBeGreaterThan(1);
    expect(reductionsIn(g)).toHaveLength(2);
  });

  it("explains every group: which ops, how many buffers, why it ended", () => {
    const notes = fuseNotes(mlp());
    expect(notes).toMatch(/@matmul_0 \(matmul, 11 ops: dot_general add .*; 3 in \+ 1 out = 4\/8 buffers\); ends: next op is a dot_general/);
    expect(notes).toMatch(/@matmul_1 .* ends: result of the function/);
  });
});

describe("fuse: dumps that come back", () => {
  it("compiles a parsed fused dump again to the same kernels (fusion nodes stay as they are)", () => {
    const g = finalGraph(mlp(), { target: limitTarget(8) });
    const again = finalGraph(parseIRSync(printIR(g)), { target: limitTarget(8) });
    expect(printIR(again)).toBe(printIR(g));
  });
});

describe("fuse: property tests on random programs", () => {
  it("fused equals unfused equals the original on the interpreter, and every fusion keeps the contract", () => {
    fc.assert(
      fc.property(programArb, fc.constantFrom(4, 5, 8), fc.nat(), (p, limit, seed) => {
        const g = buildProgram(p);
        const xs = inputsFor(g, seed);
        const want = run(g, xs);
        const fusedStages = stagesOf(g, { target: limitTarget(limit) });
        const f = fusedStages.at(-1)!.graph;
        const u = stagesOf(g, { fuse: false }).at(-1)!.graph;
        for (const n of fusions(f)) expect(contractViolations(n, limit)).toEqual([]);
        expectClose(run(f, xs), want);
        expectClose(run(u, xs), want);
        expect(kernels(f).length).toBeLessThanOrEqual(kernels(u).length);
        expect(reductionsIn(f).length).toBe(reductionsIn(u).length);
      }),
      { numRuns: 120 },
    );
  });
});
