/**
 * Every kernel the CUDA suites render compiles cleanly with nvcc for sm_80 and sm_90 and
 * assembles with ptxas: no error and no warning. One nvcc call per architecture.
 */
import { describe, expect, it } from "vitest";
import { renderCuda } from "../../codegen/cuda.js";
import { CudaCompileError, chooseArch, compileCudaModule } from "../../runtime/cuda-compile.js";
import { HAND_KERNELS, elementwiseKernel } from "./cuda-kernels.js";
import { REQUIRE_NVCC, checkKernels, nvccMissing } from "./cuda-nvcc.js";

const missing = nvccMissing();
if (missing) {
  if (REQUIRE_NVCC) throw new Error(`SMELT_REQUIRE_NVCC=1 but ${missing}`);
  console.warn(`skipping CUDA compile tests: ${missing}`);
}

describe.skipIf(!!missing)("nvcc and ptxas accept the rendered kernels", () => {
  const kernels = HAND_KERNELS.map((make) => make());
  for (const arch of [80, 90]) {
    it(`compiles the hand-built kernels for sm_${arch} without a warning`, () => {
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
