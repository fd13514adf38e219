/**
 * The flash-attention kernels on WebGPU against the interpreter (which evaluates the node's
 * body, the materialised decomposition), for both template families: sequence lengths on
 * and off the tile, below one tile and off an invocation's block of 4 rows, Sq ≠ Sk, head
 * dims 32..256 (the GPU family's tiled template and, past its tiles, the one-row one), grouped-query ratios,
 * causal or not, bias and mask; and the tiled backward (flash_attention_bwd's two kernels)
 * inside a whole gradient graph, against the interpreter's materialised backward.
 */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { lowerGraph } from "../../codegen/program.js";
import { runPipeline } from "../../passes/pipeline.js";
import type { Target } from "../../codegen/target.js";
import { evalGraph } from "../../runtime/interp.js";
import { type FlashCase, flashGradGraph, flashGraph, flashInputs } from "./attention-cases.js";
import { gpu, mismatch, runProgram } from "../runtime/webgpu-helpers.js";
import { strategyTarget } from "./matmul-cases.js";

const TOL = { rtol: 2e-4, atol: 2e-4 };

async function expectFlash(c: FlashCase, target: Target, seed = 1, g = flashGraph(c)): Promise<void> {
  const inputs = flashInputs(g, seed);
  const got = await runProgram(lowerGraph(g, target), inputs);
  const want = evalGraph(g, inputs);
  got.forEach((x, i) => {
    const m = mismatch(x, want[i]!, TOL);
    if (m) throw new Error(`${JSON.stringify(c)} result ${i}: ${m}`);
  });
}

const caseArb = fc.record({
  g: fc.constantFrom(1, 4), rep: fc.constantFrom(1, 2, 4), sq: fc.integer({ min: 1, max: 70 }), sk: fc.integer({ min: 1, max: 90 }),
  d: fc.constantFrom(32, 64, 80, 128), dv: fc.constantFrom(32, 64, 80), causal: fc.boolean(),
  bias: fc.boolean(), mask: fc.boolean(), seed: fc.integer({ min: 1, max: 1000 }),
}).map(({ g, rep, sq, sk, bias, mask, seed, ...rest }) => {
  const r = Math.min(rep, g);
  const c: FlashCase = { g, rep: r, sq, sk, ...rest };
  if (bias) c.bias = [1, sq, sk];
  if (mask) c.mask = [g, 1, sk];
  return { c, seed };
});

describe.skipIf(!gpu)("flash_attention on WebGPU matches the interpreter", () => {
  for (const strategy of ["subgroup", "workgroup"] as const) {
    const target = gpu && strategyTarget(gpu.target, strategy);
    describe.skipIf(!target)(`${strategy} template`, () => {
      test("W6's shape shrunk: causal, 2 heads × 100 × 64", () =>
        expectFlash({ g: 2, rep: 1, sq: 100, sk: 100, d: 64, dv: 64, causal: true }, target!));
      test("one query row, keys below one tile", () =>
        expectFlash({ g: 1, rep: 1, sq: 1, sk: 5, d: 32, dv: 32, causal: false }, target!));
      test("Sq ≠ Sk, causal (top-left), grouped-query 4:1, bias and mask", () =>
        expectFlash({ g: 4, rep: 4, sq: 37, sk: 20, d: 80, dv: 64, causal: true, bias: [4, 37, 20], mask: [1, 1, 20] }, target!));
      test("rows past the end inside an invocation's block (Sq = 7), causal, a per-row bias and mask", () =>
        expectFlash({ g: 2, rep: 1, sq: 7, sk: 45, d: 32, dv: 32, causal: true, bias: [2, 7, 45], mask: [2, 7, 45] }, target!));
      test("head dims 128 and 256, where the tiled template's tiles may not fit the adapter's workgroup storage", async () => {
        await expectFlash({ g: 2, rep: 2, sq: 19, sk: 33, d: 128, dv: 128, causal: true }, target!);
        await expectFlash({ g: 1, rep: 1, sq: 9, sk: 21, d: 256, dv: 256, causal: false }, target!);
      });
      test("head dims that are not a multiple of 4: k, v and out read and written as scalars", async () => {
        await expectFlash({ g: 2, rep: 1, sq: 40, sk: 37, d: 30, dv: 18, causal: true }, target!);
        await expectFlash({ g: 4, rep: 2, sq: 9, sk: 70, d: 33, dv: 64, causal: false, bias: [4, 9, 70] }, target!);
      });
      test("property: generated shapes, flags and layouts", async () => {
        await fc.assert(fc.asyncProperty(caseArb, async ({ c, seed }) => expectFlash(c, target!, seed)), { numRuns: 12 });
      }, 600_000);
    });
  }
});

describe.skipIf(!gpu)("the GPU family's flash forward", () => {
  test("is the tiled template at head dims 32 to 80: four query rows per invocation, Q, K, V and P in workgroup memory as 4-vectors", () => {
    const target = strategyTarget(gpu!.target, "workgroup")!;
    for (const [d, dv] of [[32, 32], [64, 64], [80, 64], [80, 80]] as const) {
      const [launch] = lowerGraph(flashGraph({ g: 2, rep: 1, sq: 100, sk: 100, d, dv, causal: true }), target).launches;
      const shared = launch!.kernel.shared;
      expect(shared.map((a) => a.name), `d ${d}, dv ${dv}`).toEqual(["Qs", "Ks", "Vs", "Ps", "Rs"]);
      expect(shared.every((a) => a.width === 4)).toBe(true);
    }
  });
});

describe.skipIf(!gpu)("grad through flash_attention on WebGPU matches the interpreter", () => {
  const target = gpu?.target;
  // Fused first, so the loss around the node costs few kernels to compile.
  const grad = (c: FlashCase, seed = 1) => expectFlash(c, target!, seed, runPipeline(flashGradGraph(c, false), { target: target! }).graph);
  test("causal, 2 heads × 70 × 64 (off the tile)", () => grad({ g: 2, rep: 1, sq: 70, sk: 70, d: 64, dv: 64, causal: true }));
  test("non-causal, Sq ≠ Sk, grouped-query 4:1, head dims 80 and 32", () =>
    grad({ g: 4, rep: 4, sq: 21, sk: 45, d: 80, dv: 32, causal: false }));
  test("causal (top-left) with Sq > Sk, bias and mask", () =>
    grad({ g: 2, rep: 2, sq: 33, sk: 9, d: 32, dv: 32, causal: true, bias: [2, 33, 9], mask: [1, 1, 9] }));
  test("one query row, one key", () => grad({ g: 1, rep: 1, sq: 1, sk: 1, d: 32, dv: 32, causal: false }));
  test("property: generated shapes and flags", async () => {
    await fc.assert(fc.asyncProperty(caseArb, async ({ c, seed }) => grad(c, seed)), { numRuns: 4 });
  }, 600_000);
});

describe.skipIf(!gpu)("flash-decoding on WebGPU matches the interpreter", () => {
  const target = gpu?.target;
  const decode = async (c: FlashCase) => {
    const names = lowerGraph(flashGraph(c), target!).launches.map((l) => l.kernel.name);
    expect(names.some((n) => n.endsWith("_split")) && names.some((n) => n.endsWith("_merge")), names.join()).toBe(true);
    await expectFlash(c, target!, 2);
  };
  test("one query row × 700 keys (a partial last chunk)", () => decode({ g: 2, rep: 1, sq: 1, sk: 700, d: 64, dv: 64, causal: false }));
  test("three rows × 1030 keys, grouped-query 4:1, head dims 32 and 80, bias and mask", () =>
    decode({ g: 4, rep: 4, sq: 3, sk: 1030, d: 32, dv: 80, causal: false, bias: [4, 3, 1030], mask: [1, 1, 1030] }));
  test("causal (top-left): chunks past the rows' diagonal are fully masked", () =>
    decode({ g: 1, rep: 1, sq: 4, sk: 600, d: 32, dv: 32, causal: true }));
});
