/**
 * A whole graph lowered for a target: the buffers it uses (inputs, constants with their host
 * data, and arrays that live in the memory plan's slots) and the steps of one call (allocate a
 * slot, launch a kernel, free a slot). The slots are the memory plan's (ir/memory-plan.ts), so
 * `peakBytes` is what the memory-plan pass reports plus any kernel scratch, and what the
 * runtime's executor allocates. Target-neutral: rendering the kernels for a device is the
 * runtime's job. Prints like the graph (jax-js: a compiled program is a readable object).
 */
import { type DType, type HostData, type Shape, allocHost, formatType } from "../ir/dtype.js";
import type { Graph, Node, Value } from "../ir/graph.js";
import { inlineCalls } from "../ir/inline.js";
import { type MemoryPlan, bytesOf, isDenseConstant, planMemory } from "../ir/memory-plan.js";
import { block, render } from "../ir/pretty.js";
import { printNode, valueNames } from "../ir/print.js";
import { checkArray } from "./indexing.js";
import { type Kernel, kernelText } from "./kernel.js";
import { type LoweredKernel, kernelStem, lowerNode } from "./lower.js";
import { hostValue } from "./elementwise.js";
import type { Target } from "./target.js";

/** `temp` and `output` arrays live in a slot; an output is a result the caller will own. */
export type BufferRole = "input" | "output" | "temp" | "constant";

export interface ProgramBuffer {
  readonly id: number;
  readonly dtype: DType;
  readonly shape: Shape;
  readonly bytes: number;
  readonly role: BufferRole;
  /** The memory slot holding a temp or output array. */
  readonly slot?: number;
  /** Host data of a constant, uploaded once when the program is loaded. */
  readonly data?: HostData;
}

/** One device buffer per call; `result` slots end the call holding a result and are never freed. */
export interface ProgramSlot {
  readonly id: number;
  readonly bytes: number;
  readonly result: boolean;
}

export type LaunchStep = { readonly op: "launch"; readonly kernel: Kernel; readonly args: readonly number[] };
export type Step = { readonly op: "alloc"; readonly slot: number } | LaunchStep | { readonly op: "free"; readonly slot: number };

export class Program {
  constructor(
    readonly name: string,
    /** Every array a kernel binds, indexed by id (`$id` in the listing). */
    readonly buffers: ReadonlyArray<ProgramBuffer>,
    /** The memory plan's slots (`#id`): one device buffer each per call. */
    readonly slots: ReadonlyArray<ProgramSlot>,
    /** Buffer ids of the parameters and of the results, in order. */
    readonly inputs: readonly number[],
    readonly outputs: readonly number[],
    readonly steps: readonly Step[],
  ) {}

  get launches(): LaunchStep[] {
    return this.steps.filter((s): s is LaunchStep => s.op === "launch");
  }

  /** Bytes one call holds on the device at its peak: every slot (the memory plan's peak, kernel scratch included). */
  get peakBytes(): number {
    return this.slots.reduce((sum, s) => sum + s.bytes, 0);
  }

  toString(): string {
    const name = (id: number) => `$${id}`;
    const declarations = this.buffers.flatMap((b) => {
      if (b.role === "constant") return [`const ${name(b.id)}: ${formatType(b)}`];
      return b.slot === undefined ? [] : [`${name(b.id)}: ${formatType(b)} in #${b.slot}`];
    });
    const steps = this.steps.map((s) => {
      if (s.op === "alloc") return `alloc #${s.slot}: ${this.slots[s.slot]!.bytes} B${this.slots[s.slot]!.result ? " result" : ""}`;
      if (s.op === "free") return `free #${s.slot}`;
      return `launch ${s.kernel.name}(${s.args.map(name).join(", ")}) grid=[${s.kernel.grid}] workgroup=[${s.kernel.workgroupSize}]  // ${s.kernel.source}`;
    });
    const params = this.inputs.map((i) => `${name(i)}: ${formatType(this.buffers[i]!)}`).join(", ");
    return render(block(`program @${this.name}(${params}) -> (${this.outputs.map(name).join(", ")}) {`, [...declarations, ...steps], "}")) + "\n";
  }

  /** Every kernel's IR (SMELT_DEBUG=3). */
  kernelsText(): string {
    return this.launches.map((l) => kernelText(l.kernel)).join("\n\n");
  }
}

/** The kernels of each node, in node order (none for views and dense constants: they need no launch). */
function lowerNodes(g: Graph, target: Target): LoweredKernel[][] {
  const names = valueNames(g);
  return g.nodes.map((n, i) => {
    if (n.prim === "reshape" || isDenseConstant(n)) return [];
    return lowerNode(n, { target, name: `${kernelStem(n)}_${i}`, source: printNode(n, names) });
  });
}

/** The buffer table under construction: every array a kernel binds, with its slot. */
class BufferTable {
  readonly buffers: ProgramBuffer[] = [];
  readonly of = new Map<Value, number>();
  constructor(readonly target: Target) {}

  add(type: { dtype: DType; shape: Shape }, role: BufferRole, extra: { slot?: number; data?: HostData } = {}): number {
    checkArray(`${role} buffer`, type.dtype, type.shape, this.target);
    const id = this.buffers.length;
    this.buffers.push({ id, dtype: type.dtype, shape: type.shape, bytes: bytesOf(type), role, ...extra });
    return id;
  }
}

/** Inputs, constants and the stored values of every node; a view binds its storage's buffer. */
function placeValues(g: Graph, plan: MemoryPlan, table: BufferTable): number[] {
  const inputs = g.inputs.map((v) => {
    const id = table.add(v.type, "input");
    table.of.set(v, id);
    return id;
  });
  for (const n of g.nodes)
    for (const v of n.outputs) {
      const storage = plan.storage.get(v)!;
      if (storage !== v) table.of.set(v, table.of.get(storage)!);
      else if (isDenseConstant(n)) table.of.set(v, table.add(v.type, "constant", { data: constantData(n) }));
      else table.of.set(v, table.add(v.type, "temp", { slot: plan.assignment.get(v)! }));
    }
  return inputs;
}

function constantData(n: Node): HostData {
  const v = n.outputs[0]!;
  const { value } = n.params as { value: readonly number[] };
  const data = allocHost(v.dtype, value.length);
  value.forEach((x, k) => (data[k] = hostValue(v.dtype, x)));
  return data;
}

/** Each node's kernels bound to buffers; kernel scratch arrays take the slots the plan gave them. */
function bindLaunches(g: Graph, kernels: readonly LoweredKernel[][], plan: MemoryPlan, table: BufferTable): LaunchStep[] {
  const launches: LaunchStep[] = [];
  g.nodes.forEach((n, i) => {
    const scratchSlots = plan.scratch.get(n) ?? [];
    // A node's kernels share its scratch arrays (moe_ffn's route writes what align reads).
    const scratch: number[] = [];
    for (const k of kernels[i]!) {
      for (const t of k.temps ?? []) scratch.push(table.add(t, "temp", { slot: scratchSlots[scratch.length]! }));
      const args = k.args.map((a) => (a.kind === "temp" ? scratch[a.index]! : table.of.get(a.kind === "in" ? n.inputs[a.index]! : n.outputs[a.index]!)!));
      launches.push({ op: "launch", kernel: k.kernel, args });
    }
  });
  return launches;
}

/**
 * The buffer each result is returned in: its own, a buffer of the result's type over its
 * storage's slot (a view), or a fresh slot filled by a copy kernel (an input, a constant, or
 * a result returned twice: the caller must own every result buffer).
 */
function placeResults(g: Graph, plan: MemoryPlan, table: BufferTable, target: Target, launches: LaunchStep[]): number[] {
  return g.outputs.map((v, k) => {
    const { slot, copy } = plan.results[k]!;
    const id = table.of.get(v)!;
    if (!copy && plan.storage.get(v) === v) {
      table.buffers[id] = { ...table.buffers[id]!, role: "output" };
      return id;
    }
    const out = table.add(v.type, "output", { slot });
    if (copy) {
      const node = { prim: "reshape", inputs: [v], outputs: [v], params: { shape: [...v.shape] } } as Node;
      for (const c of lowerNode(node, { target, name: `copy_${k}`, source: `copy to result ${k}` }))
        launches.push({ op: "launch", kernel: c.kernel, args: [id, out] });
    }
    return out;
  });
}

/** Allocate each slot before its first launch and free it after its last; result slots stay. */
function scheduleSteps(launches: readonly LaunchStep[], slots: readonly ProgramSlot[], buffers: readonly ProgramBuffer[]): Step[] {
  const last = new Map<number, number>();
  launches.forEach((l, i) => l.args.forEach((id) => buffers[id]!.slot !== undefined && last.set(buffers[id]!.slot!, i)));
  const steps: Step[] = [];
  const allocated = new Set<number>(), freed = new Set<number>();
  const alloc = (slot: number) => {
    if (allocated.has(slot)) return;
    allocated.add(slot);
    steps.push({ op: "alloc", slot });
  };
  const free = (slot: number) => {
    if (slots[slot]!.result || freed.has(slot)) return;
    freed.add(slot);
    steps.push({ op: "free", slot });
  };
  launches.forEach((l, i) => {
    const used = [...new Set(l.args.map((id) => buffers[id]!.slot).filter((s) => s !== undefined))];
    used.forEach(alloc);
    steps.push(l);
    for (const s of used) if (last.get(s) === i) free(s);
  });
  // Slots no kernel touches (empty arrays, results nothing writes) are still the plan's.
  for (const s of slots) alloc(s.id);
  for (const s of slots) free(s.id);
  return steps;
}

/** Lowers a graph to a program of kernel launches for `target`, its buffers placed by the memory plan. */
export function lowerGraph(g: Graph, target: Target): Program {
  const flat = inlineCalls(g);
  const kernels = lowerNodes(flat, target);
  const plan = planMemory(flat, (_, i) => kernels[i]!.flatMap((k) => k.temps ?? []));
  const table = new BufferTable(target);
  const inputs = placeValues(flat, plan, table);
  const launches = bindLaunches(flat, kernels, plan, table);
  const outputs = placeResults(flat, plan, table, target, launches);
  const slots = plan.slots.map(({ id, bytes, result }) => ({ id, bytes, result }));
  return new Program(g.name, table.buffers, slots, inputs, outputs, scheduleSteps(launches, slots, table.buffers));
}
