/**
 * Autotuning's candidates (codegen/matmul.ts: matmulCandidates) on WebGPU against the
 * interpreter: every tiling the autotuner may pick, in every template family the device can
 * run, on shapes on and off the tiles, transposed operands, batches and the epilogue hook.
 * A candidate that computed something else would be a wrong answer the tuner could choose.
 */
import { describe, expect, test } from "vitest";
import type { Graph } from "../../ir/graph.js";
import type { Kernel } from "../../codegen/kernel.js";
import { Program, lowerGraph } from "../../codegen/program.js";
import type { Target } from "../../codegen/target.js";
import { evalGraph } from "../../runtime/interp.js";
import { fill } from "../runtime/webgpu-arbitraries.js";
import { gpu, mismatch, runProgram } from "../runtime/webgpu-helpers.js";
import { type Layout, matmulGraph, strategyTarget } from "./matmul-cases.js";
import { expectEpilogue } from "./matmul-epilogue-webgpu.js";

const TOL = { rtol: 1e-4, atol: 1e-4 };

/** The program with its one launch running candidate `i`. */
function withCandidate(p: Program, i: number): Program {
  const steps = p.steps.map((s) => {
    if (s.op !== "launch") return s;
    const { candidates, ...kernel } = s.kernel.candidates![i]!.kernel as Kernel;
    expect(candidates).toBeUndefined();
    return { ...s, kernel };
  });
  return new Program(p.name, p.buffers, p.slots, p.inputs, p.outputs, steps);
}

/** Runs every candidate of `g`'s matmul; returns their labels. */
async function expectCandidates(g: Graph, target: Target, seed: number): Promise<string[]> {
  const program = lowerGraph(g, { ...target, autotune: true });
  const kernel = program.launches[0]!.kernel;
  const labels = (kernel.candidates ?? []).map((c) => c.label);
  // The first candidate is what lowering without autotuning gives.
  const plain = lowerGraph(g, target).launches[0]!.kernel;
  expect(JSON.stringify(kernel.candidates?.[0]?.kernel)).toBe(JSON.stringify(plain));
  const inputs = g.inputs.map((v, i) => fill("f32", v.shape, seed + i, -1, 1));
  const want = evalGraph(g, inputs)[0]!;
  for (let i = 0; i < labels.length; i++) {
    const [got] = await runProgram(withCandidate(program, i), inputs);
    const m = mismatch(got!, want, TOL);
    if (m) throw new Error(`candidate ${labels[i]} on ${g.inputs.map((v) => `[${v.shape}]`).join(" x ")}: ${m}`);
  }
  return labels;
}

describe.skipIf(!gpu)("autotune candidates match the interpreter", () => {
  const device = gpu!.target;
  const cases: Record<"subgroup" | "registers" | "workgroup", readonly (readonly [Layout, number, number, number, number[]?])[]> = {
    subgroup: [["A·B", 70, 130, 33], ["Aᵀ·B", 40, 64, 20], ["A·Bᵀ", 64, 36, 64, [2]], ["Aᵀ·Bᵀ", 33, 65, 7]],
    registers: [["A·B", 70, 130, 33], ["Aᵀ·Bᵀ", 65, 33, 9, [2]]],
    workgroup: [["A·B", 129, 130, 20], ["Aᵀ·B", 64, 128, 12], ["A·Bᵀ", 100, 72, 9, [2]]],
  };
  for (const strategy of ["subgroup", "registers", "workgroup"] as const) {
    const target = strategyTarget(device, strategy);
    describe.skipIf(!target)(`${strategy} template`, () => {
      test(`every candidate on ${cases[strategy].map(([l, m, n, k]) => `${l} ${m}×${n}×${k}`).join(", ")}`, async () => {
        for (const [layout, m, n, k, batch] of cases[strategy]) {
          const labels = await expectCandidates(matmulGraph(layout, m, n, k, batch ?? []), target!, m + n + k);
          expect(labels.length).toBeGreaterThanOrEqual(2);
          expect(new Set(labels).size).toBe(labels.length);
        }
      });

      test("every candidate applies the epilogue (bias, GELU, residual, batch index)", async () => {
        const tuning = { ...target!, autotune: true };
        const count = matmulCandidatesOf(tuning, 70, 133, 19);
        expect(count).toBeGreaterThanOrEqual(2);
        for (let i = 0; i < count; i++) await expectEpilogue(tuning, [2, 1], 70, 133, 19, (k) => k.candidates![i]!.kernel);
      });
    });
  }

  test("a target without autotune gets no candidates, and a matmul with one tiling none either", () => {
    expect(lowerGraph(matmulGraph("A·B", 70, 130, 33), device).launches[0]!.kernel.candidates).toBeUndefined();
    // A 1-row product clamps every subgroup tile to one size.
    const sub = strategyTarget(device, "subgroup");
    if (sub) expect(lowerGraph(matmulGraph("A·B", 1, 64, 16), { ...sub, autotune: true }).launches[0]!.kernel.candidates).toBeUndefined();
  });
});

function matmulCandidatesOf(target: Target, m: number, n: number, k: number): number {
  return lowerGraph(matmulGraph("A·B", m, n, k, [2, 1]), target).launches[0]!.kernel.candidates?.length ?? 0;
}
