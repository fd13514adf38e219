/**
 * The memory plan: liveness-based reuse of the device buffers one compiled call allocates.
 * The memory-plan pass reports it, the lowering (codegen/program.ts) builds its allocate/free
 * steps from it, and the runtime's executor allocates one buffer per slot, so the peak a dump
 * reports is the peak a call reaches.
 *
 * What needs a buffer: every array a node defines, except a view (`reshape`: same bytes in the
 * same order, so it shares its operand's storage) and a dense constant (uploaded once when the
 * program loads); scratch arrays a node's kernels use while they run; and a copy for each result
 * whose storage the caller cannot own (an input, a dense constant, or the storage of an earlier
 * result). Inputs belong to the caller and are not planned.
 *
 * Walking the call in order (node i at time i, then the copies), each array takes a free slot
 * (best fit: the smallest free slot that holds it, else the largest free slot, grown, else a new
 * one) and frees it after its last use, never earlier; a result never frees its slot. So no two
 * arrays live at the same time share a slot, and a kernel never writes a slot it reads in the
 * same launch. Since a new slot opens only when every other slot is busy, all slots are held at
 * once at some point: the peak is the sum of the slots.
 */
import { type AbstractValue, deviceBytes, sizeOf } from "./dtype.js";
import type { Graph, Node, Value } from "./graph.js";

export interface MemorySlot {
  readonly id: number;
  /** Bytes of the largest array the slot holds. */
  readonly bytes: number;
  /** The values whose storage it is, in the order they take it (views, scratch and copies not listed). */
  readonly values: readonly Value[];
  /** Whether its last array is a result of the call (the caller will own that buffer). */
  readonly result: boolean;
}

/** Where a graph result lives for the caller: its slot, and whether a copy kernel must fill it. */
export interface ResultPlacement {
  readonly slot: number;
  readonly copy: boolean;
}

export interface MemoryPlan {
  readonly slots: readonly MemorySlot[];
  /** The slot of every value a node defines that lives in one (a view: its operand's slot). */
  readonly assignment: ReadonlyMap<Value, number>;
  /** The value whose bytes a value is: itself, or for a view, what it views (through views). */
  readonly storage: ReadonlyMap<Value, Value>;
  /** For each value a node defines that is its own storage: the time it is defined and the last time it is read (results: Infinity). */
  readonly liveRange: ReadonlyMap<Value, readonly [number, number]>;
  /** One per graph output, in order. */
  readonly results: readonly ResultPlacement[];
  /** Slots of the scratch arrays of each node that has some, in the order the node asked for them. */
  readonly scratch: ReadonlyMap<Node, readonly number[]>;
  /** Bytes the call holds at its peak: the sum of the slots. */
  readonly peakBytes: number;
  /** The most bytes ever live at once (a lower bound for any plan). */
  readonly peakLiveBytes: number;
  /** Bytes without reuse: one buffer per array. */
  readonly unplannedBytes: number;
  /** Arrays planned: stored values, scratch arrays and result copies. */
  readonly arrays: number;
}

/** Scratch arrays a node's kernels need while they run (the lowering knows them). */
export type ScratchOf = (node: Node, index: number) => readonly AbstractValue[];

export const bytesOf = (v: AbstractValue | Value): number => {
  const t = "type" in v ? v.type : v;
  return deviceBytes(t.dtype) * sizeOf(t.shape);
};

/** A constant holding one number per element: its data is uploaded when the program loads. */
export const isDenseConstant = (n: Node): boolean => n.prim === "constant" && (n.params as { value: readonly number[] }).value.length > 1;

const plans = new WeakMap<Graph, MemoryPlan>();

/**
 * The plan of a graph without `jit` calls (inline them first). Memoised per graph when no
 * node needs scratch, so the pass and the lowering see the same plan object.
 */
export function planMemory(g: Graph, scratchOf?: ScratchOf): MemoryPlan {
  const scratch = g.nodes.map((n, i) => scratchOf?.(n, i) ?? []);
  const plain = scratch.every((s) => s.length === 0);
  const cached = plain ? plans.get(g) : undefined;
  if (cached) return cached;
  const plan = computePlan(g, scratch);
  if (plain) plans.set(g, plan);
  return plan;
}

/** One array to place: its bytes and the times it is defined and last used. */
interface Request {
  readonly bytes: number;
  readonly from: number;
  readonly until: number;
  readonly result: boolean;
  readonly value?: Value;
  place(slot: number): void;
}

interface OpenSlot {
  id: number;
  bytes: number;
  values: Value[];
  result: boolean;
  busyUntil: number;
}

/** Views share storage; inputs and dense constants are storage no slot holds. */
function storageOf(g: Graph): { storage: Map<Value, Value>; unplanned: Set<Value> } {
  const storage = new Map<Value, Value>();
  const unplanned = new Set<Value>(g.inputs);
  for (const v of g.inputs) storage.set(v, v);
  for (const n of g.nodes) {
    if (n.prim === "reshape") storage.set(n.outputs[0]!, storage.get(n.inputs[0]!)!);
    else for (const v of n.outputs) storage.set(v, v);
    if (isDenseConstant(n)) unplanned.add(n.outputs[0]!);
  }
  return { storage, unplanned };
}

/** Definition time and last read of each storage; results and copy sources extended. */
function liveRanges(g: Graph, storage: ReadonlyMap<Value, Value>, copySources: readonly Value[]): Map<Value, [number, number]> {
  const results = new Set(g.outputs.map((v) => storage.get(v)!));
  const ranges = new Map<Value, [number, number]>();
  const readAt = (v: Value, t: number) => {
    const r = ranges.get(storage.get(v)!);
    if (r && r[1] !== Infinity) r[1] = Math.max(r[1], t);
  };
  g.nodes.forEach((n, i) => {
    for (const v of n.inputs) readAt(v, i);
    for (const v of n.outputs) if (storage.get(v) === v) ranges.set(v, [i, results.has(v) ? Infinity : i]);
  });
  copySources.forEach((v, k) => readAt(v, g.nodes.length + k));
  return ranges;
}

/** Best fit over the requests in time order (see the file comment). */
function placeAll(requests: readonly Request[]): OpenSlot[] {
  const slots: OpenSlot[] = [];
  for (const r of requests) {
    const free = slots.filter((s) => s.busyUntil < r.from);
    const fits = free.filter((s) => s.bytes >= r.bytes).sort((a, b) => a.bytes - b.bytes || a.id - b.id)[0];
    const slot =
      fits ??
      free.sort((a, b) => b.bytes - a.bytes || a.id - b.id)[0] ??
      slots[slots.push({ id: slots.length, bytes: 0, values: [], result: false, busyUntil: -1 }) - 1]!;
    slot.bytes = Math.max(slot.bytes, r.bytes);
    if (r.value) slot.values.push(r.value);
    slot.result = r.result;
    slot.busyUntil = r.until;
    r.place(slot.id);
  }
  return slots;
}

/** The most bytes live at one time, each request live from its definition to its last use. */
function peakLive(requests: readonly Request[]): number {
  const events = requests.flatMap((r) => [{ t: r.from, d: r.bytes, end: 0 }, { t: r.until, d: -r.bytes, end: 1 }]);
  events.sort((a, b) => a.t - b.t || a.end - b.end);
  let live = 0, peak = 0;
  for (const e of events) peak = Math.max(peak, (live += e.d));
  return peak;
}

function computePlan(g: Graph, scratch: readonly (readonly AbstractValue[])[]): MemoryPlan {
  const { storage, unplanned } = storageOf(g);

  // Results the caller cannot own take a copy, made after the last node.
  const owned = new Set<Value>();
  const copySources: Value[] = [];
  const isCopy = g.outputs.map((v) => {
    const s = storage.get(v)!;
    const copy = unplanned.has(s) || owned.has(s);
    owned.add(s);
    if (copy) copySources.push(v);
    return copy;
  });
  const liveRange = liveRanges(g, storage, copySources);

  const assignment = new Map<Value, number>();
  const scratchSlots = new Map<Node, number[]>();
  const copySlots: number[] = [];
  const requests: Request[] = [];
  g.nodes.forEach((n, i) => {
    for (const v of n.outputs) {
      if (storage.get(v) !== v || unplanned.has(v)) continue;
      const [from, until] = liveRange.get(v)!;
      requests.push({ bytes: bytesOf(v), from, until, result: until === Infinity, value: v, place: (s) => assignment.set(v, s) });
    }
    if (scratch[i]!.length) {
      const slots: number[] = [];
      scratchSlots.set(n, slots);
      for (const t of scratch[i]!) requests.push({ bytes: bytesOf(t), from: i, until: i, result: false, place: (s) => slots.push(s) });
    }
  });
  copySources.forEach((v, k) => {
    const t = g.nodes.length + k;
    requests.push({ bytes: bytesOf(v), from: t, until: Infinity, result: true, place: (s) => copySlots.push(s) });
  });

  const slots = placeAll(requests);
  for (const n of g.nodes)
    if (n.prim === "reshape") {
      const s = assignment.get(storage.get(n.outputs[0]!)!);
      if (s !== undefined) assignment.set(n.outputs[0]!, s);
    }
  let copies = 0;
  const results = g.outputs.map((v, k) => (isCopy[k] ? { slot: copySlots[copies++]!, copy: true } : { slot: assignment.get(storage.get(v)!)!, copy: false }));
  return {
    slots: slots.map(({ id, bytes, values, result }) => ({ id, bytes, values, result })),
    assignment,
    storage,
    liveRange,
    results,
    scratch: scratchSlots,
    peakBytes: slots.reduce((s, x) => s + x.bytes, 0),
    peakLiveBytes: peakLive(requests),
    unplannedBytes: requests.reduce((s, r) => s + r.bytes, 0),
    arrays: requests.length,
  };
}
