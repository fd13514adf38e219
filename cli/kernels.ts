/** `smelt kernels`: the kernel list of a compilation and each kernel's source, or (CUDA) its nvcc/ptxas statistics. */
import { renderGraphKernels } from "../codegen/render/index.js";
import { CUDA_SM80_TARGET } from "../codegen/target.js";
import type { Lowered } from "../frontend/jit.js";
import { cudaKernelStats, formatKernelStats } from "../runtime/cuda-stats.js";

interface ListingOptions {
  /** Each kernel's registers, spills, shared memory, occupancy and main-loop mix instead of its source (CUDA only). */
  readonly stats?: boolean;
}

/** What `--target` lists: the kernels the active backend compiled, or a device-free compile for CUDA. */
const LISTINGS: { readonly [T in "wgsl" | "cuda"]: (lowered: Lowered, options: ListingOptions) => string } = {
  wgsl: (lowered, { stats }) => {
    if (stats) throw new Error("smelt kernels: --stats needs --target cuda (the statistics come from nvcc and ptxas)");
    const lines: string[] = [`// @${lowered.graph.name}: ${lowered.kernels.length} kernel(s) on ${lowered.backend}, peak ${lowered.peakBytes} bytes`];
    for (const k of lowered.kernels) {
      lines.push(`// kernel ${k.name}(${k.inputs.join(", ")}) -> (${k.outputs.join(", ")}) workgroups=[${k.workgroups.join(",")}]`);
      if (k.source) lines.push(k.source);
    }
    return lines.join("\n");
  },
  // CUDA source needs no device: the optimised graph is lowered for an sm_80-class target.
  cuda: (lowered, { stats }) => {
    const kernels = renderGraphKernels(lowered.optimized, CUDA_SM80_TARGET);
    return [
      `// @${lowered.graph.name}: ${kernels.length} CUDA kernel(s) for sm_80+`,
      ...kernels.flatMap((k) => [
        `// kernel ${k.name} grid=[${k.grid.join(",")}] block=[${k.block.join(",")}]`,
        stats ? formatKernelStats(cudaKernelStats(k.source, k.name, k.block)) : k.source,
      ]),
    ].join("\n");
  },
};

export function printKernels(lowered: Lowered, target: "wgsl" | "cuda", options: ListingOptions = {}): string {
  const listing = Object.hasOwn(LISTINGS, target) ? LISTINGS[target] : undefined;
  if (!listing) throw new Error(`smelt kernels: unknown --target '${target}' (expected ${Object.keys(LISTINGS).join(" or ")})`);
  return listing(lowered, options);
}
