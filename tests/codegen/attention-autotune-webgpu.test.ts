/**
 * Autotuning's flash-attention candidates (codegen/attention.ts: attentionTilings) on WebGPU
 * against the interpreter: every form the autotuner may pick, in the subgroup family (query
 * rows per subgroup) and the tiled GPU family (blockings), causal and not, off the tiles,
 * grouped-query, with a bias and a mask. A candidate that computed something else would be a
 * wrong answer the tuner could choose.
 */
import { describe, expect, test } from "vitest";
import type { Kernel } from "../../codegen/kernel.js";
import { Program, lowerGraph } from "../../codegen/program.js";
import type { Target } from "../../codegen/target.js";
import { evalGraph } from "../../runtime/interp.js";
import { gpu, mismatch, runProgram } from "../runtime/webgpu-helpers.js";
import { type FlashCase, flashGraph, flashInputs } from "./attention-cases.js";
import { strategyTarget } from "./matmul-cases.js";

const TOL = { rtol: 2e-4, atol: 2e-4 };

/** The program with its attention launch running candidate `i`. */
function withCandidate(p: Program, i: number): Program {
  const steps = p.steps.map((s) => {
    if (s.op !== "launch" || !s.kernel.candidates) return s;
    const { candidates, ...kernel } = s.kernel.candidates[i]!.kernel as Kernel;
    expect(candidates).toBeUndefined();
    return { ...s, kernel };
  });
  return new Program(p.name, p.buffers, p.slots, p.inputs, p.outputs, steps);
}

async function expectCandidates(c: FlashCase, target: Target, seed: number): Promise<string[]> {
  const g = flashGraph(c);
  const program = lowerGraph(g, { ...target, autotune: true });
  const tunable = program.launches.filter((l) => l.kernel.candidates);
  expect(tunable).toHaveLength(1);
  const labels = tunable[0]!.kernel.candidates!.map((x) => x.label);
  // The first candidate is what lowering without autotuning gives.
  const plain = lowerGraph(g, target).launches.find((l) => l.kernel.name === tunable[0]!.kernel.name)!.kernel;
  expect(JSON.stringify(tunable[0]!.kernel.candidates![0]!.kernel)).toBe(JSON.stringify(plain));
  const inputs = flashInputs(g, seed);
  const want = evalGraph(g, inputs);
  for (let i = 0; i < labels.length; i++) {
    const got = await runProgram(withCandidate(program, i), inputs);
    for (const [o, w] of want.entries()) {
      const m = mismatch(got[o]!, w, TOL);
      if (m) throw new Error(`candidate ${labels[i]} on ${JSON.stringify(c)}, result ${o}: ${m}`);
    }
  }
  return labels;
}

describe.skipIf(!gpu)("flash-attention autotune candidates match the interpreter", () => {
  const cases: FlashCase[] = [
    { g: 2, rep: 1, sq: 70, sk: 70, d: 16, dv: 16, causal: true },
    { g: 4, rep: 2, sq: 33, sk: 50, d: 32, dv: 16, causal: false, bias: [1, 33, 50] },
    { g: 2, rep: 2, sq: 65, sk: 65, d: 16, dv: 32, causal: true, mask: [2, 1, 65] },
  ];
  for (const strategy of ["subgroup", "workgroup"] as const) {
    const target = strategyTarget(gpu!.target, strategy);
    test.skipIf(!target)(`${strategy} family: every candidate, causal and not, GQA, bias and mask, off the tiles`, async () => {
      for (const [i, c] of cases.entries()) {
        const labels = await expectCandidates(c, target!, 40 + i);
        expect(labels.length).toBeGreaterThanOrEqual(2);
        expect(new Set(labels).size).toBe(labels.length);
      }
    }, 600_000);
  }

  test("a target without autotune gets no candidates", () => {
    expect(lowerGraph(flashGraph(cases[0]!), gpu!.target).launches.some((l) => l.kernel.candidates)).toBe(false);
  });
});
