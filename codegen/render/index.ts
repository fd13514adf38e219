/**
 * The renderer registry: each target kind owns its renderer, so backends and tools ask for
 * "the source of this kernel on this target" and never branch on the target's name. A new
 * target adds one entry here (the table is total over TargetName, so the type-checker asks).
 */
import type { Graph } from "../../ir/graph.js";
import type { Kernel } from "../kernel.js";
import { lowerGraph } from "../program.js";
import type { Target, TargetName } from "../target.js";
import { renderCuda } from "./cuda.js";
import { renderWGSL } from "./wgsl.js";

export interface TargetRenderer {
  /** The language kernels are written in, for listings. */
  readonly language: string;
  /** Standalone source of one kernel: the target's rewrites, then printing. Deterministic. */
  readonly kernel: (k: Kernel) => string;
}

export const RENDERERS: { readonly [T in TargetName]: TargetRenderer } = {
  webgpu: { language: "WGSL", kernel: renderWGSL },
  cuda: { language: "CUDA", kernel: renderCuda },
};

/** The source of `k` in the language of `target`. */
export function renderKernel(target: Target, k: Kernel): string {
  return RENDERERS[target.name].kernel(k);
}

export interface KernelSource {
  readonly name: string;
  readonly grid: readonly number[];
  readonly block: readonly number[];
  /** Standalone source (helpers included). */
  readonly source: string;
}

/**
 * The source of every kernel a graph (after passes) lowers to for `target`, without a
 * device: what `smelt kernels --target cuda` prints.
 */
export function renderGraphKernels(g: Graph, target: Target): KernelSource[] {
  return lowerGraph(g, target).launches.map(({ kernel: k }) => ({
    name: k.name, grid: k.grid, block: k.workgroupSize, source: renderKernel(target, k),
  }));
}
