/** `smelt kernels`: the kernel list of a compilation and each kernel's source. */
import { renderCudaForGraph } from "../codegen/cuda.js";
import type { Lowered } from "../frontend/jit.js";

export function printKernels(lowered: Lowered, target: "wgsl" | "cuda"): string {
  if (target === "cuda") {
    // CUDA source needs no device: the optimised graph is lowered for an sm_80-class target.
    const kernels = renderCudaForGraph(lowered.optimized);
    return [
      `// @${lowered.graph.name}: ${kernels.length} CUDA kernel(s) for sm_80+`,
      ...kernels.flatMap((k) => [`// kernel ${k.name} grid=[${k.grid.join(",")}] block=[${k.block.join(",")}]`, k.source]),
    ].join("\n");
  }
  const lines: string[] = [`// @${lowered.graph.name}: ${lowered.kernels.length} kernel(s) on ${lowered.backend}, peak ${lowered.peakBytes} bytes`];
  for (const k of lowered.kernels) {
    lines.push(`// kernel ${k.name}(${k.inputs.join(", ")}) -> (${k.outputs.join(", ")}) workgroups=[${k.workgroups.join(",")}]`);
    if (target === "wgsl" && k.source) lines.push(k.source);
  }
  return lines.join("\n");
}
