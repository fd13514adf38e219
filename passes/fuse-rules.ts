/**
 * What the fuse pass may put in one kernel: the role of each primitive, a view of the
 * graph that looks through index-only nodes, and `checkGroup`, which says whether a set
 * of nodes is one legal kernel of kind elementwise, reduction or matmul (the contract
 * codegen relies on; see passes/fuse.ts) or why not.
 *
 * Index-only nodes (broadcast_in_dim, reshape) and cheap sources (splat constants, iota)
 * never belong to a group: each kernel clones the ones it reads, so a broadcast bias or
 * a constant shared by two kernels is read by both instead of being materialised.
 */
import { type AbstractValue, formatType, sameShape, sizeOf } from "../ir/dtype.js";
import type { Graph, Node, Value } from "../ir/graph.js";
import {
  BINARY_OPS, COMPARE_OPS, type Primitive, type PrimitiveParams, REDUCE_OPS, type ReduceOp, UNARY_OPS,
} from "../ir/primitives.js";

/**
 * elementwise: computed per element; reduce: reduce_sum/max/min; contract: dot_general;
 * view: index remapping only; source: no operands (constant, iota); opaque: its own kernel.
 */
export type Role = "elementwise" | "reduce" | "contract" | "view" | "source" | "opaque";

type Structural = Exclude<Primitive, (typeof UNARY_OPS)[number] | (typeof BINARY_OPS)[number] | (typeof COMPARE_OPS)[number]>;

const STRUCTURAL_ROLES: { readonly [P in Structural]: Role } = {
  select: "elementwise",
  cast: "elementwise",
  iota: "source",
  constant: "source",
  broadcast_in_dim: "view",
  reshape: "view",
  reduce_sum: "reduce",
  reduce_max: "reduce",
  reduce_min: "reduce",
  dot_general: "contract",
  // A transpose, slice or pad could be an index map too, but an uncoalesced load inside a
  // fused loop costs more than the copy kernel it saves; they stay their own kernels.
  transpose: "opaque",
  slice: "opaque",
  pad: "opaque",
  concatenate: "opaque",
  argmax: "opaque",
  gather: "opaque",
  scatter_add: "opaque",
  top_k: "opaque",
  cumsum: "opaque",
  jit: "opaque",
  fusion: "opaque",
  flash_attention: "opaque",
  flash_attention_jvp: "opaque",
  flash_attention_bwd: "opaque",
  moe_ffn: "opaque",
};

const ELEMENTWISE: ReadonlySet<string> = new Set([...UNARY_OPS, ...BINARY_OPS, ...COMPARE_OPS]);

export function roleOf(n: Node): Role {
  if (ELEMENTWISE.has(n.prim)) return "elementwise";
  const role = STRUCTURAL_ROLES[n.prim as Structural];
  // A reduction over no axes is a copy; canonicalise removes it, and a group's rows need axes.
  if (role === "reduce" && (n.params as PrimitiveParams[ReduceOp]).axes.length === 0) return "opaque";
  return role;
}

/** Nodes a group may hold (everything else is cloned, lazily emitted, or its own kernel). */
export const isGroupable = (n: Node) => {
  const r = roleOf(n);
  return r === "elementwise" || r === "reduce" || r === "contract";
};

/** Zero-operand nodes a kernel recomputes instead of loading: splat constants and iota. */
export function isClonable(n: Node): boolean {
  if (n.prim === "iota") return true;
  return n.prim === "constant" && (n.params as PrimitiveParams["constant"]).value.length === 1;
}

const isReduce = (n: Node) => (REDUCE_OPS as readonly string[]).includes(n.prim);

/**
 * A reduction whose result feeds elements of its own row again (softmax's division)
 * revisits the row inside one workgroup; past this length that leaves the device idle,
 * so such an epilogue becomes its own kernel.
 */
export const MAX_ROW_FOR_EPILOGUE = 16384;

/**
 * The most primitives one kernel holds. Checking a group costs time in its size, and a
 * group grows one node at a time, so without a bound a chain of n ops fuses in O(n²);
 * past a hundred ops a kernel saves no memory traffic worth its compile time.
 */
export const MAX_FUSION_OPS = 128;

/** The graph as the fuse pass reads it: producers, users, and paths through views. */
export class FusionGraph {
  readonly producer = new Map<Value, Node>();
  readonly index = new Map<Node, number>();
  private readonly users = new Map<Value, Node[]>();
  private readonly results: ReadonlySet<Value>;
  private readonly consumerMemo = new Map<Value, { nodes: Node[]; result: boolean }>();

  constructor(readonly graph: Graph) {
    graph.nodes.forEach((n, i) => {
      this.index.set(n, i);
      for (const v of n.outputs) this.producer.set(v, n);
      for (const v of n.inputs) {
        const us = this.users.get(v);
        if (us) us.push(n);
        else this.users.set(v, [n]);
      }
    });
    this.results = new Set(graph.outputs);
  }

  /** Follows index-only nodes back from `v`: the value a kernel loads, and the views passed. */
  source(v: Value): { source: Value; views: Node[] } {
    const views: Node[] = [];
    for (let p = this.producer.get(v); p && roleOf(p) === "view"; p = this.producer.get(v)) {
      views.push(p);
      v = p.inputs[0]!;
    }
    return { source: v, views };
  }

  /** The producer of `v` when a kernel would clone it (after looking through views). */
  clonable(v: Value): boolean {
    const p = this.producer.get(this.source(v).source);
    return p !== undefined && isClonable(p);
  }

  /** Every non-view node reading `v`, looking through views, and whether `v` reaches a result. */
  consumers(v: Value): { nodes: Node[]; result: boolean } {
    const memo = this.consumerMemo.get(v);
    if (memo) return memo;
    const out = { nodes: [] as Node[], result: this.results.has(v) };
    for (const u of this.users.get(v) ?? []) {
      if (roleOf(u) !== "view") {
        if (!out.nodes.includes(u)) out.nodes.push(u);
        continue;
      }
      const through = this.consumers(u.outputs[0]!);
      for (const c of through.nodes) if (!out.nodes.includes(c)) out.nodes.push(c);
      out.result ||= through.result;
    }
    this.consumerMemo.set(v, out);
    return out;
  }

  /** Whether `v` is read outside `members` (so a kernel of `members` must store it). */
  escapes(v: Value, members: ReadonlySet<Node>): boolean {
    const c = this.consumers(v);
    return c.result || c.nodes.some((n) => !members.has(n));
  }
}

export type FusionKind = "elementwise" | "reduction" | "matmul";

export type GroupCheck =
  | { readonly ok: true; readonly kind: FusionKind; readonly inputs: readonly Value[]; readonly outputs: readonly Value[] }
  | { readonly ok: false; readonly reason: string };

const fail = (reason: string): GroupCheck => ({ ok: false, reason });

/** An edge inside a group: `consumer` reads `source` (a member's value) through `views`. */
interface Edge {
  readonly source: Value;
  readonly views: readonly Node[];
  readonly consumer: Node;
}

/**
 * Whether `members` form one kernel under a binding limit, and its kind, inputs
 * (distinct values loaded, in first-use order) and outputs (member values read outside).
 */
export function checkGroup(fg: FusionGraph, members: ReadonlySet<Node>, limit: number): GroupCheck {
  if (members.size > MAX_FUSION_OPS) return fail(`a kernel holds at most ${MAX_FUSION_OPS} ops`);
  const sorted = [...members].sort((a, b) => fg.index.get(a)! - fg.index.get(b)!);
  const inputs = new Set<Value>();
  const outputs: Value[] = [];
  const edges: Edge[] = [];
  const dots = sorted.filter((n) => n.prim === "dot_general");
  const reds = sorted.filter(isReduce);
  if (dots.length > 1) return fail("a kernel holds one dot_general");
  if (dots.length && reds.length) return fail("a matmul and a reduction do not share a kernel");

  for (const m of sorted) {
    for (const v of m.inputs) {
      const { source, views } = fg.source(v);
      const p = fg.producer.get(source);
      if (m.prim === "dot_general") {
        // The tiled matmul template loads its operands from memory: no prologue.
        if (p && members.has(p)) return fail("next op is a dot_general (its operands are read from memory)");
        inputs.add(v);
      } else if (p && members.has(p)) edges.push({ source, views, consumer: m });
      else if (!(p && isClonable(p))) inputs.add(source);
    }
    for (const v of m.outputs) if (fg.escapes(v, members)) outputs.push(v);
  }

  const kind: FusionKind = dots.length ? "matmul" : reds.length ? "reduction" : "elementwise";
  const why =
    kind === "matmul" ? checkMatmul(dots[0]!, sorted, edges)
    : kind === "reduction" ? checkReduction(reds, sorted, edges)
    : checkElementwise(outputs);
  if (why) return fail(why);
  const bindings = inputs.size + outputs.length;
  if (bindings > limit) return fail(`would bind ${bindings} buffers > limit ${limit}`);
  return { ok: true, kind, inputs: [...inputs], outputs };
}

function checkElementwise(outputs: readonly Value[]): string | undefined {
  const domain = outputs[0];
  const odd = outputs.find((v) => !sameShape(v.shape, domain!.shape));
  return odd && `results differ in shape (${formatType(odd.type)} vs ${formatType(domain!.type)})`;
}

/** A member of the wrong shape: materialised if it is smaller (it would be recomputed per element). */
function misfit(v: AbstractValue, where: string, shapes: readonly AbstractValue[]): string {
  const n = sizeOf(shapes[0]!.shape);
  return sizeOf(v.shape) < n
    ? `${formatType(v)} would be recomputed per element of a broadcast into ${where}; materialised`
    : `${formatType(v)} does not fit ${where} (${shapes.map(formatType).join(" / ")})`;
}

/** Epilogue only: every member is shaped like the product, and reads other members directly. */
function checkMatmul(dot: Node, sorted: readonly Node[], edges: readonly Edge[]): string | undefined {
  const out = dot.outputs[0]!.type;
  for (const m of sorted) if (!sameShape(m.outputs[0]!.shape, out.shape)) return misfit(m.outputs[0]!.type, "a matmul epilogue", [out]);
  const viewed = edges.find((e) => e.views.length);
  return viewed && `${viewed.views[0]!.prim} of a computed value inside a matmul epilogue`;
}

/**
 * One row structure: every reduction reduces the same axes of the same shape D; every
 * other member is shaped D (per element) or K = D without the axes (per row); a row
 * value reaches D only by broadcast_in_dim along the kept axes.
 */
function checkReduction(reds: readonly Node[], sorted: readonly Node[], edges: readonly Edge[]): string | undefined {
  const first = reds[0]!;
  const axesOf = (n: Node) => [...(n.params as PrimitiveParams[ReduceOp]).axes].sort((a, b) => a - b);
  const d = first.inputs[0]!.type, axes = axesOf(first);
  for (const r of reds.slice(1)) {
    const x = r.inputs[0]!.type;
    if (!sameShape(x.shape, d.shape) || !sameShape(axesOf(r), axes))
      return `consumer is a reduction over another axis (${r.prim} over [${axesOf(r)}] of ${formatType(x)} vs [${axes}] of ${formatType(d)})`;
  }
  const kept = d.shape.flatMap((_, i) => (axes.includes(i) ? [] : [i]));
  const k: AbstractValue = { dtype: d.dtype, shape: kept.map((i) => d.shape[i]!) };
  for (const m of sorted) {
    const s = m.outputs[0]!.shape;
    if (!sameShape(s, d.shape) && !sameShape(s, k.shape)) return misfit(m.outputs[0]!.type, "a reduction's rows", [d, k]);
  }
  for (const e of edges) {
    if (!e.views.length) continue;
    const [v] = e.views;
    const p = v!.params as PrimitiveParams["broadcast_in_dim"];
    const rowBroadcast = e.views.length === 1 && v!.prim === "broadcast_in_dim" &&
      sameShape(e.source.shape, k.shape) && sameShape(p.shape, d.shape) && sameShape(p.dims, kept);
    if (!rowBroadcast) return `${v!.prim} of a computed value does not follow the reduction's rows`;
  }
  // Members that read a reduction of this group (directly or not): the epilogue.
  const rowLength = axes.reduce((n, a) => n * d.shape[a]!, 1);
  if (rowLength > MAX_ROW_FOR_EPILOGUE) {
    const dependent = new Set<Node>(reds);
    const producerOf = new Map<Value, Node>(sorted.map((m) => [m.outputs[0]!, m]));
    for (const e of edges) if (dependent.has(producerOf.get(e.source)!)) dependent.add(e.consumer);
    if (sorted.some((m) => !isReduce(m) && dependent.has(m) && sameShape(m.outputs[0]!.shape, d.shape)))
      return `a row of ${rowLength} elements is too long to revisit in one workgroup`;
  }
  return undefined;
}
