/**
 * Fused kernels are target-neutral kernel IR: every fused kernel of the benchmark
 * workloads and of generated programs renders as CUDA C and compiles with nvcc for sm_80
 * and sm_90 and assembles with ptxas, without a warning, in both the GPU layouts (teams,
 * register rows, workgroup-memory matmul) and the CPU-adapter ones (a row per invocation, no barriers).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TINY_SIZES, workload } from "../../bench/workloads.js";
import type { Kernel } from "../../codegen/kernel.js";
import { lowerGraph } from "../../codegen/program.js";
import { CUDA_SM80_TARGET, type Target } from "../../codegen/target.js";
import type { Tensor } from "../../frontend/core.js";
import { ShapeDtype, jit } from "../../frontend/jit.js";
import * as np from "../../frontend/np.js";
import type { Graph } from "../../ir/graph.js";
import { chainArb, chainFn, chainInputs, matmulArb, matmulFn, matmulInputs } from "./fused-programs.js";
import { REQUIRE_NVCC, checkKernels, nvccMissing } from "./cuda-nvcc.js";

type Fn = (...xs: Tensor[]) => Tensor | Tensor[];
const fusedGraph = (f: Fn, shapes: readonly (readonly number[])[]): Graph =>
  jit(f, { backend: "interp" }).lower(...shapes.map((s) => new ShapeDtype(s))).optimized;

/** The fused graphs: the fusion workloads, and generated chains and matmuls (a fixed sample). */
function graphs(): Graph[] {
  const out = (["W1", "W2", "W3", "W5", "W8"] as const).map((id) => {
    const w = workload(id, TINY_SIZES[id]);
    return fusedGraph(w.fn as Fn, w.inputs().map((i) => i.shape));
  });
  // bool results: a comparison ending an elementwise chain, and one ending a matmul epilogue (a scratch C).
  out.push(fusedGraph(((a: Tensor, w: Tensor, x: Tensor) => [np.greater(np.matmul(a, w), 0.1), np.less(np.tanh(x), 0)]) as unknown as Fn,
    [[33, 17], [17, 20], [12, 8]]));
  for (const c of fc.sample(chainArb, { numRuns: 12, seed: 7 })) out.push(fusedGraph(chainFn(c) as Fn, chainInputs(c, 1).map((a) => a.shape)));
  for (const c of fc.sample(matmulArb, { numRuns: 6, seed: 7 })) out.push(fusedGraph(matmulFn(c) as Fn, matmulInputs(c, 1).map((a) => a.shape)));
  return out;
}

const CPU_FLAVOURED: Target = { ...CUDA_SM80_TARGET, cpuAdapter: true };

function fusedKernels(target: Target): Kernel[] {
  return graphs().flatMap((g, i) =>
    lowerGraph(g, target).launches.filter((l) => l.kernel.name.startsWith("fusion_")).map((l) => ({ ...l.kernel, name: `g${i}_${l.kernel.name}` })));
}

const missing = nvccMissing();
if (missing) {
  if (REQUIRE_NVCC) throw new Error(`SMELT_REQUIRE_NVCC=1 but ${missing}`);
  console.warn(`skipping fused CUDA compile tests: ${missing}`);
}

describe("fused kernels for CUDA", () => {
  it("lower every kind in both layouts", () => {
    const kinds = (ks: Kernel[]) => new Set(ks.map((k) => k.name.replace(/^g\d+_fusion_(\w+?)_\d+$/, "$1")));
    // "attention": flash attention reading its rows through a head split (W8's block).
    expect(kinds(fusedKernels(CUDA_SM80_TARGET))).toEqual(new Set(["elementwise", "reduction", "matmul", "attention"]));
    expect(fusedKernels(CUDA_SM80_TARGET).some((k) => k.shared.some((s) => s.name.startsWith("partial")))).toBe(true);
    // The CPU layout: one invocation walks a row, with no workgroup memory and no barrier.
    const cpuRows = fusedKernels(CPU_FLAVOURED).filter((k) => k.name.includes("_reduction_"));
    expect(cpuRows.length).toBeGreaterThan(0);
    expect(cpuRows.every((k) => k.shared.length === 0 && !JSON.stringify(k.body).includes('"k":"barrier"'))).toBe(true);
  });

  it("split a launch past 65,535 workgroups across x and y", () => {
    const g = fusedGraph(((x: Tensor) => np.exp(np.tanh(np.multiply(x, 2)))) as Fn, [[2 ** 26 + 3]]);
    const [k] = lowerGraph(g, CUDA_SM80_TARGET).launches.map((l) => l.kernel);
    expect(k!.name).toBe("fusion_elementwise_0");
    expect(k!.grid[1]).toBeGreaterThan(1);
  });
});

describe.skipIf(!!missing)("nvcc and ptxas accept every fused kernel", () => {
  const kernels = [...fusedKernels(CUDA_SM80_TARGET), ...fusedKernels(CPU_FLAVOURED).map((k) => ({ ...k, name: `cpu_${k.name}` }))];
  for (const arch of [80, 90])
    it(`compiles all ${kernels.length} fused kernels for sm_${arch} without a warning`, () => {
      const r = checkKernels(kernels, arch);
      expect(r.diagnostics).toBe("");
      expect(r.ok).toBe(true);
    }, 300_000);
});
