/**
 * A whole graph lowered for a target: the buffers it uses (inputs, outputs, temporaries,
 * constants with their host data) and the steps of one call (allocate, launch a kernel,
 * free), with temporaries freed right after their last use. Target-neutral: rendering the
 * kernels for a device is the runtime's job. Prints like the graph (jax-js: a compiled
 * program is a readable object).
 */
import { type DType, type HostData, type Shape, allocHost, deviceBytes, formatType, sizeOf } from "../ir/dtype.js";
import type { Graph, Node, Value } from "../ir/graph.js";
import { primitiveDef } from "../ir/primitives.js";
import { block, render } from "../ir/pretty.js";
import { checkArray } from "./indexing.js";
import { type Kernel, kernelText } from "./kernel.js";
import { lowerFusion } from "./fused.js";
import { lowerNode } from "./lower.js";
import { hostValue } from "./elementwise.js";
import type { Target } from "./target.js";

export type BufferRole = "input" | "output" | "temp" | "constant";

export interface ProgramBuffer {
  readonly id: number;
  readonly dtype: DType;
  readonly shape: Shape;
  readonly bytes: number;
  readonly role: BufferRole;
  /** Host data of a constant, uploaded once when the program is loaded. */
  readonly data?: HostData;
}

export type Step =
  | { readonly op: "alloc"; readonly buffer: number }
  | { readonly op: "launch"; readonly kernel: Kernel; readonly args: readonly number[] }
  | { readonly op: "free"; readonly buffer: number };

export class Program {
  constructor(
    readonly name: string,
    readonly buffers: readonly ProgramBuffer[],
    readonly inputs: readonly number[],
    readonly outputs: readonly number[],
    readonly steps: readonly Step[],
  ) {}

  get launches(): Extract<Step, { op: "launch" }>[] {
    return this.steps.filter((s): s is Extract<Step, { op: "launch" }> => s.op === "launch");
  }

  /** Peak bytes of temporaries and outputs alive at once during a call. */
  get peakBytes(): number {
    let live = 0, peak = 0;
    for (const s of this.steps) {
      if (s.op === "alloc") peak = Math.max(peak, (live += this.buffers[s.buffer]!.bytes));
      if (s.op === "free") live -= this.buffers[s.buffer]!.bytes;
    }
    return peak;
  }

  toString(): string {
    const name = (id: number) => `$${id}`;
    const type = (b: ProgramBuffer) => formatType(b) + (b.role === "constant" ? " const" : "");
    const steps = this.steps.map((s) => {
      if (s.op === "alloc") return `alloc ${name(s.buffer)}: ${type(this.buffers[s.buffer]!)}`;
      if (s.op === "free") return `free ${name(s.buffer)}`;
      return `launch ${s.kernel.name}(${s.args.map(name).join(", ")}) grid=[${s.kernel.grid}] workgroup=[${s.kernel.workgroupSize}]  // ${s.kernel.source}`;
    });
    const consts = this.buffers.filter((b) => b.role === "constant").map((b) => `const ${name(b.id)}: ${type(b)}`);
    const params = this.inputs.map((i) => `${name(i)}: ${formatType(this.buffers[i]!)}`).join(", ");
    return render(block(`program @${this.name}(${params}) -> (${this.outputs.map(name).join(", ")}) {`, [...consts, ...steps], "}")) + "\n";
  }

  /** Every kernel's IR (SMELT_DEBUG=3). */
  kernelsText(): string {
    return this.launches.map((l) => kernelText(l.kernel)).join("\n\n");
  }
}

/** One node as IR text, for kernel comments: `%3 = add %1, %2 : f32[4]`. */
function nodeText(n: Node, names: Map<Value, string>): string {
  const def = primitiveDef(n.prim);
  const attrs = Object.entries(def.params)
    .map(([k, kind]) => {
      const v = (n.params as Record<string, unknown>)[k];
      if (kind === "graph") return `${k}=@${(v as Graph).name}`;
      const text = Array.isArray(v) ? (v.length > 8 ? `[${v.slice(0, 8).join(", ")}, …]` : `[${v.join(", ")}]`) : String(v);
      return `${k}=${text}`;
    });
  const outs = n.outputs.map((v) => names.get(v)).join(", ");
  const ins = n.inputs.map((v) => names.get(v)).join(", ");
  return `${outs} = ${n.prim}${ins ? " " + ins : ""}${attrs.length ? ` {${attrs.join(", ")}}` : ""} : ${n.outputs.map((v) => formatType(v.type)).join(", ")}`;
}

/** Flattens `jit` calls into their bodies; a fusion or flash_attention node stays whole (its own kernels). */
function flatten(g: Graph): { nodes: Node[]; alias: Map<Value, Value> } {
  const nodes: Node[] = [];
  const alias = new Map<Value, Value>();
  const resolve = (v: Value): Value => alias.get(v) ?? v;
  const visit = (h: Graph, args: readonly Value[]) => {
    h.inputs.forEach((v, i) => alias.set(v, resolve(args[i]!)));
    for (const n of h.nodes) {
      const def = primitiveDef(n.prim);
      const callee = n.prim !== "jit" ? undefined : Object.entries(def.params).find(([, kind]) => kind === "graph");
      if (callee) {
        const body = (n.params as Record<string, unknown>)[callee[0]] as Graph;
        visit(body, n.inputs.map(resolve));
        n.outputs.forEach((v, i) => alias.set(v, resolve(body.outputs[i]!)));
      } else nodes.push({ ...n, inputs: n.inputs.map(resolve) });
    }
  };
  visit(g, g.inputs);
  return { nodes, alias };
}

/** Lowers a graph to a program of kernel launches for `target`. */
export function lowerGraph(g: Graph, target: Target): Program {
  const { nodes, alias } = flatten(g);
  const resolve = (v: Value): Value => alias.get(v) ?? v;
  const buffers: ProgramBuffer[] = [];
  const bufferOf = new Map<Value, number>();
  const names = new Map<Value, string>();
  g.inputs.forEach((v, i) => names.set(v, `%${v.hint ?? `arg${i}`}`));
  const newBuffer = (dtype: DType, shape: Shape, role: BufferRole, data?: HostData): number => {
    checkArray(`${role} buffer`, dtype, shape, target);
    const id = buffers.length;
    const bytes = sizeOf(shape) * deviceBytes(dtype);
    buffers.push(data ? { id, dtype, shape, bytes, role, data } : { id, dtype, shape, bytes, role });
    return id;
  };
  const inputs = g.inputs.map((v) => {
    const id = newBuffer(v.dtype, v.shape, "input");
    bufferOf.set(v, id);
    return id;
  });

  type Pending = { kernels: ReturnType<typeof lowerNode>; node: Node };
  const planned: Pending[] = [];
  nodes.forEach((n, i) => {
    n.outputs.forEach((v, j) => names.set(v, `%${i}${n.outputs.length > 1 ? `.${j}` : ""}`));
    if (n.prim === "reshape") {
      // Same bytes in the same order: the result aliases its operand's buffer.
      bufferOf.set(n.outputs[0]!, bufferOf.get(n.inputs[0]!)!);
      return;
    }
    const p = n.params as { value?: number[] };
    if (n.prim === "constant" && p.value!.length > 1) {
      const v = n.outputs[0]!;
      const data = allocHost(v.dtype, sizeOf(v.shape));
      p.value!.forEach((x, k) => (data[k] = hostValue(v.dtype, x)));
      bufferOf.set(v, newBuffer(v.dtype, v.shape, "constant", data));
      return;
    }
    for (const v of n.outputs) bufferOf.set(v, newBuffer(v.dtype, v.shape, "temp"));
    const ctx = { target, name: `${n.prim}_${i}`, source: nodeText(n, names) };
    if (n.prim !== "fusion") return planned.push({ node: n, kernels: lowerNode(n, ctx) });
    const kind = (n as Node<"fusion">).params.kind;
    planned.push({ node: n, kernels: lowerFusion(n as Node<"fusion">, { ...ctx, name: `fusion_${kind}_${i}` }) });
  });

  // Outputs must be buffers the caller owns: copy one that is an input, a constant, or
  // already returned by an earlier output.
  const outputs: number[] = [];
  const copies: Step[] = [];
  for (const v of g.outputs.map(resolve)) {
    let id = bufferOf.get(v)!;
    const b = buffers[id]!;
    if (b.role === "input" || b.role === "constant" || outputs.includes(id)) {
      const src = id;
      id = newBuffer(v.dtype, v.shape, "output");
      const copy = lowerNode(
        { prim: "reshape", inputs: [v], outputs: [v], params: { shape: [...v.shape] } } as Node,
        { target, name: `copy_${outputs.length}`, source: `copy of ${names.get(v) ?? "value"} to result ${outputs.length}` },
      );
      for (const k of copy) copies.push({ op: "launch", kernel: k.kernel, args: [src, id] });
    } else if (b.role === "temp") buffers[id] = { ...b, role: "output" };
    outputs.push(id);
  }

  // Liveness: a temporary is freed after the last launch that reads or writes it.
  const last = new Map<number, number>();
  const launches: { kernel: Kernel; args: number[] }[] = [];
  for (const p of planned)
    for (const k of p.kernels) {
      const temps = (k.temps ?? []).map((t) => newBuffer(t.dtype, t.shape, "temp"));
      const args = k.args.map((a) => (a.kind === "temp" ? temps[a.index]! : bufferOf.get(a.kind === "in" ? p.node.inputs[a.index]! : p.node.outputs[a.index]!)!));
      args.forEach((id) => last.set(id, launches.length));
      launches.push({ kernel: k.kernel, args });
    }
  for (const s of copies) if (s.op === "launch") s.args.forEach((id) => last.set(id, launches.length + copies.length));
  const steps: Step[] = [];
  const allocated = new Set<number>();
  const alloc = (id: number) => {
    const role = buffers[id]!.role;
    if ((role === "temp" || role === "output") && !allocated.has(id)) {
      allocated.add(id);
      steps.push({ op: "alloc", buffer: id });
    }
  };
  launches.forEach((l, i) => {
    l.args.forEach(alloc);
    steps.push({ op: "launch", ...l });
    for (const id of new Set(l.args)) if (buffers[id]!.role === "temp" && last.get(id) === i) steps.push({ op: "free", buffer: id });
  });
  for (const c of copies) {
    if (c.op === "launch") c.args.forEach(alloc);
    steps.push(c);
  }
  // Outputs nothing writes (empty arrays, or results no kernel touched) still need a buffer.
  outputs.forEach(alloc);
  // Temporaries never launched on (empty arrays) are freed at the end.
  for (const id of allocated) if (buffers[id]!.role === "temp" && !steps.some((s) => s.op === "free" && s.buffer === id)) steps.push({ op: "free", buffer: id });
  return new Program(g.name, buffers, inputs, outputs, steps);
}
