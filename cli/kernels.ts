/** `smelt kernels`: the kernel list of a compilation and each kernel's source. */
import type { Lowered } from "../frontend/jit.js";

export function printKernels(lowered: Lowered, target: "wgsl" | "cuda"): string {
  const lines: string[] = [`// @${lowered.graph.name}: ${lowered.kernels.length} kernel(s) on ${lowered.backend}, peak ${lowered.peakBytes} bytes`];
  for (const k of lowered.kernels) {
    lines.push(`// kernel ${k.name}(${k.inputs.join(", ")}) -> (${k.outputs.join(", ")}) workgroups=[${k.workgroups.join(",")}]`);
    if (target === "wgsl" && k.source) lines.push(k.source);
  }
  return lines.join("\n");
}
