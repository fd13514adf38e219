/**
 * memory plan: liveness-based reuse of the buffers one compiled call allocates.
 *
 * Every value a top-level node defines needs a device buffer from the node that
 * defines it to the last node that reads it (results: to the end of the call; inputs
 * belong to the caller and are not planned). Walking the nodes in order, each value
 * takes a free slot (best fit: the smallest free slot that holds it, else the largest
 * free slot, grown) and its slot is freed after its last use, never earlier, so no two
 * values that are live at the same time share a slot. A kernel never writes a slot it
 * reads in the same launch: a value dying at node i frees its slot after node i.
 *
 * Backends read the plan with `planMemory(graph)` (memoised per graph) to allocate one
 * buffer per slot and to report `peakBytes`.
 */
import { deviceBytes, sizeOf } from "../ir/dtype.js";
import type { Graph, Value } from "../ir/graph.js";
import type { Pass } from "./pipeline.js";

export interface MemorySlot {
  readonly id: number;
  /** Bytes of the largest value the slot holds. */
  readonly bytes: number;
  /** The values stored in it, in the order they take it. */
  readonly values: readonly Value[];
  /** Whether its last value is a result of the call (the caller will own that buffer). */
  readonly result: boolean;
}

export interface MemoryPlan {
  readonly slots: readonly MemorySlot[];
  readonly assignment: ReadonlyMap<Value, number>;
  /** Node index that defines each planned value and the last that reads it (results: Infinity). */
  readonly liveRange: ReadonlyMap<Value, readonly [number, number]>;
  /** Bytes the call holds at its peak under this plan: every slot, plus copies of results that are inputs or repeats. */
  readonly peakBytes: number;
  /** The most bytes ever live at once (a lower bound for any plan). */
  readonly peakLiveBytes: number;
  /** Bytes without reuse: one buffer per value. */
  readonly unplannedBytes: number;
}

export const bytesOf = (v: Value) => deviceBytes(v.type.dtype) * sizeOf(v.type.shape);

const plans = new WeakMap<Graph, MemoryPlan>();

export function planMemory(g: Graph): MemoryPlan {
  const cached = plans.get(g);
  if (cached) return cached;
  const plan = computePlan(g);
  plans.set(g, plan);
  return plan;
}

interface MutableSlot {
  id: number;
  bytes: number;
  values: Value[];
  result: boolean;
  /** Last node index its current value is read at. */
  busyUntil: number;
}

function computePlan(g: Graph): MemoryPlan {
  const results = new Set(g.outputs);
  const inputs = new Set(g.inputs);
  const liveRange = new Map<Value, [number, number]>();
  g.nodes.forEach((n, i) => {
    for (const v of n.outputs) liveRange.set(v, [i, results.has(v) ? Infinity : i]);
    for (const v of n.inputs) {
      const r = liveRange.get(v);
      if (r && r[1] !== Infinity) r[1] = Math.max(r[1], i);
    }
  });

  const slots: MutableSlot[] = [];
  const assignment = new Map<Value, number>();
  let live = 0, peakLive = 0, unplanned = 0;
  const dying: Value[][] = g.nodes.map(() => []);
  g.nodes.forEach((n, i) => {
    for (const v of n.outputs) {
      const need = bytesOf(v), last = liveRange.get(v)![1];
      unplanned += need;
      const free = slots.filter((s) => s.busyUntil < i);
      const fits = free.filter((s) => s.bytes >= need).sort((a, b) => a.bytes - b.bytes || a.id - b.id)[0];
      const slot =
        fits ??
        free.sort((a, b) => b.bytes - a.bytes || a.id - b.id)[0] ??
        slots[slots.push({ id: slots.length, bytes: 0, values: [], result: false, busyUntil: -1 }) - 1]!;
      slot.bytes = Math.max(slot.bytes, need);
      slot.values.push(v);
      slot.result = results.has(v);
      slot.busyUntil = last;
      assignment.set(v, slot.id);
      live += need;
      if (last !== Infinity) dying[last]!.push(v);
    }
    peakLive = Math.max(peakLive, live);
    for (const v of dying[i]!) live -= bytesOf(v);
  });

  // A result that is an input, or repeats, is copied into a fresh buffer by the backend.
  let copies = 0;
  const seen = new Set<Value>();
  for (const v of g.outputs) {
    if (inputs.has(v) || seen.has(v)) copies += bytesOf(v);
    seen.add(v);
  }
  const slotBytes = slots.reduce((s, x) => s + x.bytes, 0);
  return {
    slots: slots.map(({ id, bytes, values, result }) => ({ id, bytes, values, result })),
    assignment,
    liveRange,
    peakBytes: slotBytes + copies,
    peakLiveBytes: peakLive + copies,
    unplannedBytes: unplanned + copies,
  };
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** Leaves the graph as it is; the note reports the plan backends will use. */
export const memoryPlanPass: Pass = {
  name: "memory-plan",
  run(g, ctx) {
    const p = planMemory(g);
    ctx.notes.push(
      `memory-plan: ${p.assignment.size} buffer(s) in ${p.slots.length} slot(s), peak ${formatBytes(p.peakBytes)} ` +
        `(${formatBytes(p.unplannedBytes)} without reuse, ${formatBytes(p.peakLiveBytes)} live at most)`,
    );
    return g;
  },
};
