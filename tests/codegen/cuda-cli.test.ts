/** `smelt kernels --target cuda` prints CUDA C without a GPU or driver. */
import { describe, expect, it } from "vitest";
import { printKernels } from "../../cli/kernels.js";
import { renderGraphKernels } from "../../codegen/render/index.js";
import { CUDA_SM80_TARGET } from "../../codegen/target.js";
import type { Tensor } from "../../frontend/core.js";
import { init } from "../../frontend/init.js";
import { jit, spec } from "../../frontend/jit.js";
import * as np from "../../frontend/np.js";

describe("smelt kernels --target cuda", () => {
  it("prints one extern \"C\" __global__ kernel per launch of the optimised graph, with its launch shape", async () => {
    await init({ backend: "interp" });
    const f = jit((x: Tensor, w: Tensor) => np.tanh(np.matmul(x, w)), { name: "layer" });
    const lowered = f.lower(spec("f32[8,16]"), spec("f32[16,4]"));
    const text = printKernels(lowered, "cuda");
    const kernels = renderGraphKernels(lowered.optimized, CUDA_SM80_TARGET);
    expect(kernels.length).toBeGreaterThan(0);
    expect(text.split("\n")[0]).toBe(`// @layer: ${kernels.length} CUDA kernel(s) for sm_80+`);
    expect(text.match(/extern "C" __global__/g)).toHaveLength(kernels.length);
    for (const k of kernels) expect(text).toContain(`// kernel ${k.name} grid=[${k.grid.join(",")}] block=[${k.block.join(",")}]`);
    expect(text).toContain("tanhf(");
  });
});
