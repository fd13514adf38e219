/**
 * The memory-plan pass: reports the plan (ir/memory-plan.ts) that the lowering and the
 * runtime's executor allocate from, for the graph as it leaves the pipeline.
 */
import type { Graph } from "../ir/graph.js";
import { inlineCalls } from "../ir/inline.js";
import { planMemory } from "../ir/memory-plan.js";
import type { Pass } from "./pipeline.js";

export { type MemoryPlan, type MemorySlot, bytesOf, planMemory } from "../ir/memory-plan.js";

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** The note for a lowered program whose kernel scratch raised the peak above the pass's plan. */
export function scratchNote(graph: Graph, programPeak: number): string[] {
  const planned = planMemory(inlineCalls(graph)).peakBytes;
  if (programPeak === planned) return [];
  return [`memory-plan: lowered, peak ${formatBytes(programPeak)} with kernel scratch (split-K partials, routing tables, unstored products)`];
}

/**
 * Leaves the graph as it is; the note reports the plan. Kernel scratch arrays (a fused
 * matmul whose product is stored by no result) join the plan at lowering, which the
 * compiled program's `peakBytes` includes.
 */
export const memoryPlanPass: Pass = {
  name: "memory-plan",
  run(g, ctx) {
    const p = planMemory(inlineCalls(g));
    ctx.notes.push(
      `memory-plan: ${p.arrays} buffer(s) in ${p.slots.length} slot(s), peak ${formatBytes(p.peakBytes)} ` +
        `(${formatBytes(p.unplannedBytes)} without reuse, ${formatBytes(p.peakLiveBytes)} live at most)`,
    );
    return g;
  },
};
