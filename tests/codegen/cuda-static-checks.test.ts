/**
 * Issue 16's static bar for GPU-grade kernels, proven without a GPU: the CUDA kernels of a
 * 1024³ f32 matmul, a fused gelu(x·w + b) at 1024³, W5's two matmuls and W6's flash attention
 * forward, through nvcc and ptxas (runtime/cuda-stats.ts), break none of gpuGradeViolations'
 * rules on sm_80 and sm_90. The old 64×64 template (4×4 per invocation, scalar loads) failed
 * every matmul here with 2 FMAs per shared load and 32-bit shared and global loads;
 * codegen/matmul-gpu.ts clears it, on sm_80+ with its tiles double-buffered and filled by
 * 16-byte cp.async copies. The one-row flash forward failed with 4 FMAs per shared load,
 * 32-bit global loads and a 256-byte stack frame; codegen/attention-gpu.ts clears it.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_SIZES, workload } from "../../bench/workloads.js";
import { renderGraphKernels } from "../../codegen/render/index.js";
import { CUDA_SM80_TARGET } from "../../codegen/target.js";
import type { Tensor } from "../../frontend/core.js";
import { init } from "../../frontend/init.js";
import { jit, spec } from "../../frontend/jit.js";
import * as nn from "../../frontend/nn.js";
import * as np from "../../frontend/np.js";
import { type GpuGradeKind, type KernelStats, cudaKernelStats, formatKernelStats, gpuGradeViolations } from "../../runtime/cuda-stats.js";
import { REQUIRE_NVCC, nvccMissing } from "./cuda-nvcc.js";

const missing = nvccMissing();
if (missing) {
  if (REQUIRE_NVCC) throw new Error(`SMELT_REQUIRE_NVCC=1 but ${missing}`);
  console.warn(`skipping the GPU-grade static checks: ${missing}`);
}

/** Kernel names by what they are judged as. */
const KERNELS: Readonly<Record<GpuGradeKind, RegExp>> = { matmul: /matmul|dot_general|expert/, attention: /flash_attention/, reduction: /reduction/ };

/** Statistics of the `count` kernels of `kind` smelt renders for CUDA from `fn` traced on `inputs` (fused). */
async function kernelStats(
  name: string, fn: (...xs: Tensor[]) => Tensor, inputs: readonly string[], count: number, kind: GpuGradeKind,
): Promise<KernelStats[]> {
  await init({ backend: "interp" });
  const lowered = jit(fn, { name }).lower(...inputs.map((t) => spec(t)));
  const kernels = renderGraphKernels(lowered.optimized, CUDA_SM80_TARGET).filter((k) => KERNELS[kind].test(k.name));
  expect(kernels.map((k) => k.name)).toHaveLength(count);
  return kernels.map((k) => cudaKernelStats(k.source, k.name, k.block));
}

/** Every violation of the `matmuls` kernels of `kind` smelt renders for CUDA from `fn` traced on `inputs` (fused), each kernel's statistics printed. */
async function violations(
  name: string, fn: (...xs: Tensor[]) => Tensor, inputs: readonly string[], matmuls: number, kind: GpuGradeKind = "matmul",
): Promise<string[]> {
  const found: string[] = [];
  for (const stats of await kernelStats(name, fn, inputs, matmuls, kind)) {
    const v = gpuGradeViolations(stats, { kind }).map((m) => `@${name} ${m}`);
    console.log(`${formatKernelStats(stats)}\n${v.length ? v.map((m) => `  VIOLATION ${m}`).join("\n") : "  clears the GPU-grade bar"}`);
    found.push(...v);
  }
  return found;
}

const { tokens, d, hidden } = DEFAULT_SIZES.W5;

describe.runIf(!missing)("GPU-grade static checks (issue 16): matmul kernels on sm_80 and sm_90", () => {
  it("the f32 matmul 1024³ spills nothing, does ≥ 8 FMAs per shared load, loads 128 bits at a time and keeps 2 blocks per H100 SM", async () => {
    const v = await violations("matmul1024", (a, b) => np.matmul(a, b!), ["f32[1024,1024]", "f32[1024,1024]"], 1);
    expect(v).toEqual([]);
  });

  it("the f32 matmul 1024³ fills its tiles by cp.async: 16-byte copies into two stages, no plain global load in its main loop", async () => {
    const [stats] = await kernelStats("matmul1024", (a, b) => np.matmul(a, b!), ["f32[1024,1024]", "f32[1024,1024]"], 1, "matmul");
    const mix = stats!.mainLoop!.mix;
    expect(mix.cpAsync).toEqual({ 128: 2 });
    expect(mix.ldGlobal).toEqual({});
    expect(mix.stShared).toEqual({});
    expect(mix.barriers).toBe(1);
    for (const a of stats!.archs) expect(a.sharedBytes).toBe(16 * 1024);
  });

  it("the fused gelu(x·w + b) at 1024³ clears the same bar with its epilogue", async () => {
    const v = await violations(
      "gelu_linear1024",
      (x, w, b) => nn.gelu(np.add(np.matmul(x, w!), b!), { approximate: true }),
      ["f32[1024,1024]", "f32[1024,1024]", "f32[1024]"],
      1,
    );
    expect(v).toEqual([]);
  });

  it(`W5's two fused matmuls (tokens ${tokens}, d ${d}, hidden ${hidden}) clear it`, async () => {
    const v = await violations("W5", workload("W5").fn, [`f32[${tokens},${d}]`, `f32[${d},${hidden}]`, `f32[${hidden}]`, `f32[${hidden},${d}]`, `f32[${d}]`], 2);
    expect(v).toEqual([]);
  });

  it("row reductions load 128 bits at a time: W2's softmax and W3's layer norm at [4096,1024], and a softmax over rows of 32,768 that loops", async () => {
    const v = [
      ...(await violations("W2", workload("W2").fn, ["f32[4096,1024]"], 1, "reduction")),
      ...(await violations("W3", workload("W3").fn, ["f32[4096,1024]", "f32[1024]", "f32[1024]"], 1, "reduction")),
      ...(await violations("softmax_long", (x) => nn.softmax(x), ["f32[64,32768]"], 1, "reduction")),
    ];
    expect(v).toEqual([]);
  });

  it("W7's grouped expert matmuls (1024 tokens × 512, 8 experts of hidden 1024, top-2), gathering rows and scattering results, clear the matmul bar", async () => {
    const { tokens: T, d: dm, experts: E, hidden: h } = DEFAULT_SIZES.W7;
    const v = await violations("W7", workload("W7").fn, [`f32[${T},${dm}]`, `f32[${dm},${E}]`, `f32[${E},${dm},${h}]`, `f32[${E},${h},${dm}]`], 2);
    expect(v).toEqual([]);
  });

  it("W6's flash attention forward (8 heads × 1024 × 64, causal) spills nothing, keeps no stack frame, does ≥ 8 FMAs per 128-bit shared load over each key tile, loads K and V 128 bits at a time and keeps 2 blocks per H100 SM", async () => {
    const { heads, seq, dHead } = DEFAULT_SIZES.W6;
    const t = `f32[${heads},${seq},${dHead}]`;
    const v = await violations("W6", workload("W6").fn, [t, t, t], 1, "attention");
    expect(v).toEqual([]);
  });
});
