/** The routed moe_ffn kernels render to CUDA C that nvcc compiles without a warning for sm_80 and sm_90. */
import { describe, expect, test } from "vitest";
import { lowerGraph } from "../../codegen/program.js";
import { CUDA_SM80_TARGET } from "../../codegen/target.js";
import { checkKernels, nvccMissing, REQUIRE_NVCC } from "./cuda-nvcc.js";
import { moeBwdGraph, moeGraph } from "./moe-cases.js";

const missing = nvccMissing();
if (missing && REQUIRE_NVCC) throw new Error(`SMELT_REQUIRE_NVCC=1 but ${missing}`);

describe.skipIf(!!missing)("moe_ffn routed kernels compile with nvcc", () => {
  const cases = [
    { T: 40, d: 32, E: 8, h: 64, k: 2, b1: true, b2: true },
    { T: 7, d: 6, E: 3, h: 5, k: 1, activation: "silu" as const },
    { T: 9, d: 8, E: 4, h: 6, k: 2, b1: true, activation: "silu" as const, gated: true, router: "softmax_topk_norm" as const },
    { T: 5, d: 8, E: 4, h: 8, k: 3, router: "softmax_topk" as const, capacity: 2 },
  ];
  for (const arch of [80, 90])
    test(`sm_${arch}: vector and scalar grouped matmuls, biases, relu and silu, gated experts, softmax-then-top-k routers, a capacity`, () => {
      for (const c of cases) {
        const kernels = lowerGraph(moeGraph(c), CUDA_SM80_TARGET).launches.map((l) => l.kernel);
        const stages = ["logits", "route", "align", ...(c.gated ? ["expert1_up"] : []), "expert1", "expert2", "combine"];
        expect(kernels.map((k) => k.name)).toEqual(stages.map((s) => `moe_ffn_0_${s}`));
        const r = checkKernels(kernels, arch);
        expect(r.diagnostics).toBe("");
        expect(r.ok).toBe(true);
      }
    }, 120_000);
  for (const arch of [80, 90])
    test(`sm_${arch}: the routed backward (activation derivative, k-ranged weight gradients, bias sums, the router's derivative)`, () => {
      for (const c of [cases[0]!, cases[2]!, cases[3]!]) {
        const kernels = lowerGraph(moeBwdGraph(c), CUDA_SM80_TARGET).launches.map((l) => l.kernel).filter((k) => k.name.startsWith("moe_ffn_bwd"));
        expect(kernels.map((k) => k.name)).toEqual(expect.arrayContaining(["act", "dw1", "dw2", "router", "dx"].map((s) => expect.stringMatching(new RegExp(`_${s}$`)))));
        const r = checkKernels(kernels, arch);
        expect(r.diagnostics).toBe("");
        expect(r.ok).toBe(true);
      }
    }, 120_000);
});
