/**
 * The matmul templates rendered as CUDA: 4-vector bindings become float4 pointers, subgroup
 * broadcasts __shfl_sync over width-`size` segments, and every template (subgroup,
 * registers, workgroup) over every layout, with and without an epilogue, compiles with
 * nvcc and assembles with ptxas without a warning.
 */
import { describe, expect, it } from "vitest";
import { renderCuda } from "../../codegen/render/cuda.js";
import type { Kernel } from "../../codegen/kernel.js";
import { matmulKernel } from "../../codegen/matmul.js";
import { lowerGraph } from "../../codegen/program.js";
import { CUDA_SM80_TARGET, type Target } from "../../codegen/target.js";
import { REQUIRE_NVCC, checkKernels, nvccMissing } from "./cuda-nvcc.js";
import { BIAS_GELU_RESIDUAL, LAYOUTS, epilogueSpec, matmulGraph, strategyTarget } from "./matmul-cases.js";

const SUBGROUP_TARGET: Target = { ...CUDA_SM80_TARGET, subgroupSize: 8 };
const STRATEGIES = ["subgroup", "registers", "workgroup"] as const;

function kernels(): Kernel[] {
  const out: Kernel[] = [];
  for (const strategy of STRATEGIES) {
    const target = strategyTarget(SUBGROUP_TARGET, strategy)!;
    for (const layout of LAYOUTS)
      for (const [m, n, k] of [[64, 64, 64], [65, 63, 7], [1, 129, 3]] as const) {
        const [launch] = lowerGraph(matmulGraph(layout, m, n, k, [2]), target).launches;
        out.push({ ...launch!.kernel, name: `mm_${strategy}_${LAYOUTS.indexOf(layout)}_${m}_${n}_${k}` });
      }
    for (const [m, n, k] of [[64, 64, 32], [33, 70, 19]] as const)
      out.push({ ...matmulKernel(epilogueSpec([2, 3], m, n, k, BIAS_GELU_RESIDUAL), target), name: `mm_${strategy}_epilogue_${m}_${n}_${k}` });
  }
  return out;
}

describe("matmul templates as CUDA C", () => {
  it("binds 4-vector operands as float4 and exchanges A across 8-lane warp segments", () => {
    const target = strategyTarget(SUBGROUP_TARGET, "subgroup")!;
    const [launch] = lowerGraph(matmulGraph("A·B", 64, 64, 64), target).launches;
    const src = renderCuda(launch!.kernel);
    // One k per step: A's values at k are scalars, B's row of 4 columns and C are 4-vectors.
    expect(src).toContain("const float* __restrict__ lhs");
    expect(src).toContain("const float4* __restrict__ rhs");
    expect(src).toContain("float4* __restrict__ out");
    expect(src).toMatch(/__shfl_sync\(0xffffffffu, a0, 0, 8\)/);
    expect(src).toContain("(threadIdx.x % 8u)");
    expect(src).toMatch(/out\[.*\] = make_float4\(/);
    // A stored m-contiguous (Aᵀ·B), with a tile of 32 rows, is read as 4 rows at one k.
    const [transposed] = lowerGraph(matmulGraph("Aᵀ·B", 512, 512, 512), target).launches;
    const srcT = renderCuda(transposed!.kernel);
    expect(srcT).toContain("const float4* __restrict__ lhs");
    expect(srcT).toMatch(/__shfl_sync\(0xffffffffu, a0\.x, 0, 8\)/);
  });

  it("keeps scalar float pointers where no axis allows 4-vectors", () => {
    const [launch] = lowerGraph(matmulGraph("A·B", 65, 63, 7), strategyTarget(SUBGROUP_TARGET, "subgroup")!).launches;
    expect(renderCuda(launch!.kernel)).toContain("const float* __restrict__ lhs");
  });
});

const missing = nvccMissing();
if (missing && REQUIRE_NVCC) throw new Error(`SMELT_REQUIRE_NVCC=1 but ${missing}`);

describe.skipIf(!!missing)("nvcc and ptxas accept the matmul templates", () => {
  const all = kernels();
  for (const arch of [80, 90]) {
    it(`compiles ${all.length} matmul kernels (3 templates, 4 layouts, epilogues) for sm_${arch} without a warning`, () => {
      const r = checkKernels(all, arch);
      expect(r.diagnostics).toBe("");
      expect(r.ok).toBe(true);
    });
  }
});
