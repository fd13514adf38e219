/**
 * Every kernel the lowering produces for every primitive (on the shapes of the lowering
 * corpus and generated cases, unfused and fused), and the hand-built kernels, compile cleanly with nvcc for sm_80 and sm_90 and
 * assemble with ptxas: no error and no warning. One nvcc call per architecture.
 */
import { describe, expect, it } from "vitest";
import { cudaKernelKey, renderCuda } from "../../codegen/render/cuda.js";
import type { Kernel } from "../../codegen/kernel.js";
import { lowerGraph } from "../../codegen/program.js";
import { CUDA_SM80_TARGET } from "../../codegen/target.js";
import { allPrimitives } from "../../ir/primitives.js";
import { CudaCompileError, chooseArch, compileCudaModule } from "../../runtime/cuda-compile.js";
import { primitivesUsed } from "../ir/corpus.js";
import { generatedCases } from "../../scripts/cuda-cases.js";
import { compiledGraph, loweringCorpus } from "./cuda-corpus.js";
import { HAND_KERNELS, elementwiseKernel } from "./cuda-kernels.js";
import { REQUIRE_NVCC, checkKernels, nvccMissing } from "./cuda-nvcc.js";

/**
 * Every distinct kernel of every corpus graph and generated case, unfused and fused,
 * renamed by graph so one module holds them all.
 */
function corpusKernels(): Kernel[] {
  const seen = new Set<string>();
  return [...loweringCorpus(), ...generatedCases(1, 64)].flatMap(({ graph }, i) =>
    [false, true].flatMap((fuse) =>
      lowerGraph(compiledGraph(graph, fuse, CUDA_SM80_TARGET), CUDA_SM80_TARGET).launches
        .filter((l) => !seen.has(cudaKernelKey(l.kernel)) && !!seen.add(cudaKernelKey(l.kernel)))
        .map((l) => ({ ...l.kernel, name: `g${i}${fuse ? "f" : ""}_${l.kernel.name}` }))));
}

const missing = nvccMissing();
if (missing) {
  if (REQUIRE_NVCC) throw new Error(`SMELT_REQUIRE_NVCC=1 but ${missing}`);
  console.warn(`skipping CUDA compile tests: ${missing}`);
}

describe("the lowering corpus", () => {
  it("applies every primitive in the registry", () => {
    const used = new Set<string>();
    for (const { graph } of loweringCorpus()) primitivesUsed(graph, used);
    expect(allPrimitives().filter((p) => !used.has(p))).toEqual([]);
  });

  it("includes a launch past 65,535 workgroups, split across x and y", () => {
    expect(corpusKernels().some((k) => k.grid[1] > 1 && k.grid[0] * k.grid[1] > 65535)).toBe(true);
  });
});

describe.skipIf(!!missing)("nvcc and ptxas accept every kernel", () => {
  const kernels = [...corpusKernels(), ...HAND_KERNELS.map((make) => make())];
  for (const arch of [80, 90]) {
    it(`compiles all ${kernels.length} kernels for sm_${arch} and assembles them without a warning`, () => {
      const r = checkKernels(kernels, arch);
      expect(r.diagnostics).toBe("");
      expect(r.ok).toBe(true);
    });
  }

  it("reports nvcc's diagnostics and the kernel names when a module does not compile", () => {
    const bad = renderCuda(elementwiseKernel()).replace("erff(", "no_such_function(");
    let err: unknown;
    try {
      compileCudaModule({ source: bad, kernels: ["erf_select"], sm: 80, format: "ptx", noCache: true });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CudaCompileError);
    expect((err as Error).message).toMatch(/erf_select/);
    expect((err as Error).message).toMatch(/no_such_function/);
  });
});

describe("architecture choice", () => {
  it("compiles for the device's own sm when the toolkit knows it, else the newest it knows below", () => {
    expect(chooseArch(90, [75, 80, 86, 90])).toBe(90);
    expect(chooseArch(100, [75, 80, 86, 90])).toBe(90);
    expect(chooseArch(87, [75, 80, 86, 90])).toBe(86);
    expect(() => chooseArch(70, [75, 80])).toThrow(/sm_75 and newer/);
  });
});
