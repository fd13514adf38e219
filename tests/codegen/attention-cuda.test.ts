/**
 * The flash-attention templates rendered as CUDA C compile with nvcc and assemble with
 * ptxas for sm_80 and sm_90 without a warning: the subgroup template and the GPU family's
 * (the tiled one for head dims 32..128, the one-row one at 256 and at 30), lengths off the
 * tile, grouped-query, causal, bias and mask; the tiled backward's kernels and flash-decoding's.
 */
import { describe, expect, it } from "vitest";
import { renderCuda } from "../../codegen/render/cuda.js";
import type { Kernel } from "../../codegen/kernel.js";
import { lowerGraph } from "../../codegen/program.js";
import { CUDA_SM80_TARGET, type Target } from "../../codegen/target.js";
import { runPipeline } from "../../passes/pipeline.js";
import { flashGradGraph, flashGraph } from "./attention-cases.js";
import { REQUIRE_NVCC, checkKernels, nvccMissing } from "./cuda-nvcc.js";
import { strategyTarget } from "./matmul-cases.js";

const SUBGROUP_TARGET: Target = { ...CUDA_SM80_TARGET, subgroupSize: 8 };

function kernels(): Kernel[] {
  const out: Kernel[] = [];
  for (const strategy of ["subgroup", "workgroup"] as const) {
    const target = strategyTarget(SUBGROUP_TARGET, strategy)!;
    const cases = [
      { g: 8, rep: 1, sq: 1024, sk: 1024, d: 64, dv: 64, causal: true },
      { g: 4, rep: 4, sq: 37, sk: 20, d: 80, dv: 80, causal: false, bias: [4, 37, 20], mask: [1, 1, 20] },
      { g: 2, rep: 2, sq: 5, sk: 300, d: 256, dv: 256, causal: true },
      { g: 1, rep: 1, sq: 3, sk: 7, d: 30, dv: 32, causal: false },
      { g: 2, rep: 1, sq: 70, sk: 70, d: 128, dv: 128, causal: true },
      { g: 2, rep: 2, sq: 9, sk: 33, d: 32, dv: 32, causal: true, bias: [2, 9, 33], mask: [2, 9, 33] },
    ];
    cases.forEach((c, i) => {
      const [launch] = lowerGraph(flashGraph(c), target).launches;
      out.push({ ...launch!.kernel, name: `flash_${strategy}_${i}` });
    });
  }
  // The tiled backward's two kernels and flash-decoding's split and merge kernels.
  const target = SUBGROUP_TARGET;
  const extra = [
    ...[{ g: 8, rep: 1, sq: 256, sk: 256, d: 64, dv: 64, causal: true }, { g: 4, rep: 2, sq: 37, sk: 20, d: 80, dv: 32, causal: false, bias: [4, 37, 20], mask: [1, 1, 20] }]
      .flatMap((c) => lowerGraph(runPipeline(flashGradGraph(c, false), { target }).graph, target).launches),
    ...lowerGraph(flashGraph({ g: 32, rep: 1, sq: 1, sk: 4096, d: 128, dv: 128, causal: false }), target).launches,
    ...lowerGraph(flashGraph({ g: 4, rep: 4, sq: 3, sk: 1030, d: 32, dv: 80, causal: true, bias: [4, 3, 1030], mask: [1, 1, 1030] }), target).launches,
  ].map((l) => l.kernel).filter((k) => /_(dkdv|dq|split|merge)$/.test(k.name));
  extra.forEach((k, i) => out.push({ ...k, name: `${k.name.replace(/.*_/, "flash_")}_${i}` }));
  return out;
}

describe("flash attention as CUDA C", () => {
  it("uses exp2f for the online softmax and float4 rows of k and v in the subgroup template", () => {
    const [launch] = lowerGraph(flashGraph({ g: 2, rep: 1, sq: 64, sk: 64, d: 64, dv: 64, causal: true }), strategyTarget(SUBGROUP_TARGET, "subgroup")!).launches;
    const src = renderCuda(launch!.kernel);
    expect(src).toContain("exp2f(");
    expect(src).not.toMatch(/\bexpf\(/);
    // q is read as scalars (once, into a private array); k, v and out as 4-vectors.
    expect(src).toContain("const float* __restrict__ q");
    expect(src).toContain("const float4* __restrict__ k");
    expect(src).toContain("const float4* __restrict__ v");
  });
});

const missing = nvccMissing();
if (missing && REQUIRE_NVCC) throw new Error(`SMELT_REQUIRE_NVCC=1 but ${missing}`);

describe.skipIf(!!missing)("nvcc and ptxas accept the flash-attention templates", () => {
  const all = kernels();
  for (const arch of [80, 90])
    it(`compiles ${all.length} flash kernels for sm_${arch} without a warning`, () => {
      const r = checkKernels(all, arch);
      expect(r.diagnostics).toBe("");
      expect(r.ok).toBe(true);
    }, 300_000);
});
