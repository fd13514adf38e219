/**
 * The memory-plan pass: reports the plan (ir/memory-plan.ts) that the lowering and the
 * runtime's executor allocate from, for the graph as it leaves the pipeline.
 */
import { inlineCalls } from "../ir/inline.js";
import { planMemory } from "../ir/memory-plan.js";
import type { Pass } from "./pipeline.js";

export { type MemoryPlan, type MemorySlot, bytesOf, planMemory } from "../ir/memory-plan.js";

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
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
