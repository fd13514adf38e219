/**
 * What the fuse pass may put in one kernel: the role of each primitive, a view of the
 * graph that looks through index-only nodes, and `checkGroup`, which says whether a set
 * of nodes is one legal kernel of kind elementwise, reduction or matmul (the contract
 * codegen relies on; see passes/fuse.ts) or why not.
 *
 * Layout ops (broadcast_in_dim, reshape, transpose, slice, pad) and cheap sources (splat
 * constants, iota, and small elementwise functions of them such as a causal mask
 * iota ≥ iota) never belong to a group: each kernel clones the ones it reads into its
 * body, where they are index expressions (a load's address, a test for pad), so a
 * broadcast bias, a head split or a mask shared by two kernels is read by both instead of
 * being materialised; concatenate too (one operand chosen per element by a test).
 */
import { type AbstractValue, formatType, sameShape, sizeOf } from "../ir/dtype.js";
import { viewThrough } from "../ir/view.js";
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
  transpose: "view",
  slice: "view",
  pad: "view",
  concatenate: "view",
  reduce_sum: "reduce",
  reduce_max: "reduce",
  reduce_min: "reduce",
  dot_general: "contract",
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
  moe_ffn_jvp: "opaque",
  moe_ffn_bwd: "opaque",
};

const ELEMENTWISE: ReadonlySet<string> = new Set([...UNARY_OPS, ...BINARY_OPS, ...COMPARE_OPS]);

export function roleOf(n: Node): Role {
  if (ELEMENTWISE.has(n.prim)) return "elementwise";
  const role = STRUCTURAL_ROLES[n.prim as Structural];
  // A reduction over no axes is a copy; canonicalise removes it, and a group's rows need axes.
  if (role === "reduce" && (n.params as PrimitiveParams[ReduceOp]).axes.length === 0) return "opaque";
  return role;
}

/** Nodes a group may hold by role (FusionGraph.groupable also keeps sources out). */
const isGroupable = (n: Node) => {
  const r = roleOf(n);
  return r === "elementwise" || r === "reduce" || r === "contract";
};

/** Zero-operand nodes a kernel recomputes instead of loading: splat constants and iota. */
function isZeroOperandSource(n: Node): boolean {
  if (n.prim === "iota") return true;
  return n.prim === "constant" && (n.params as PrimitiveParams["constant"]).value.length === 1;
}

/**
 * The most nodes of a derived source (a mask built from iota): past this, recomputing it
 * in every kernel that reads it costs more than one kernel storing it.
 */
export const MAX_SOURCE_OPS = 8;

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
  /** Size of each source node (its own and its sources' nodes): see isSource. */
  private readonly sourceSize = new Map<Node, number>();

  constructor(readonly graph: Graph) {
    graph.nodes.forEach((n, i) => {
      this.index.set(n, i);
      this.noteSource(n);
      for (const v of n.outputs) this.producer.set(v, n);
      for (const v of n.inputs) {
        const us = this.users.get(v);
        if (us) us.push(n);
        else this.users.set(v, [n]);
      }
    });
    this.results = new Set(graph.outputs);
  }

  private noteSource(n: Node): void {
    if (isZeroOperandSource(n)) return void this.sourceSize.set(n, 1);
    const role = roleOf(n);
    if ((role !== "elementwise" && role !== "view") || n.inputs.length === 0) return;
    let size = 1;
    for (const v of n.inputs) {
      const s = this.sourceSize.get(this.producer.get(v)!);
      if (s === undefined) return;
      size += s;
    }
    if (size <= MAX_SOURCE_OPS) this.sourceSize.set(n, size);
  }

  /**
   * Whether a kernel recomputes `n` instead of loading it: a splat constant, iota, or a
   * small elementwise/layout function of those (a causal mask), never stored.
   */
  isSource(n: Node): boolean {
    return this.sourceSize.has(n);
  }

  /** Nodes a group may hold: computed ops that are no source. */
  groupable(n: Node): boolean {
    return isGroupable(n) && !this.isSource(n);
  }

  /**
   * Follows single-operand layout ops back from `v`: the value they view (a concatenation
   * ends the chain), and the ops passed, nearest `v` first.
   */
  source(v: Value): Leaf {
    const views: Node[] = [];
    for (let p = this.producer.get(v); p && roleOf(p) === "view" && p.inputs.length === 1; p = this.producer.get(v)) {
      views.push(p);
      v = p.inputs[0]!;
    }
    return { source: v, views };
  }

  /**
   * Every value a kernel reading `v` loads or clones, through layout ops and concatenations
   * (each with the ops on one path to it, nearest `v` first); a value reached twice counts once.
   */
  sources(v: Value): Leaf[] {
    const out: Leaf[] = [];
    const seen = new Set<Value>();
    const walk = (u: Value, views: Node[]) => {
      const p = this.producer.get(u);
      if (p && roleOf(p) === "view") {
        for (const x of p.inputs) walk(x, [...views, p]);
      } else if (!seen.has(u)) {
        seen.add(u);
        out.push({ source: u, views });
      }
    };
    walk(v, []);
    return out;
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

  /** The nodes reading `v` directly. */
  readers(v: Value): readonly Node[] {
    return this.users.get(v) ?? [];
  }

  isResult(v: Value): boolean {
    return this.results.has(v);
  }

  /** Whether `v` is read outside `members` (so a kernel of `members` must store it). */
  escapes(v: Value, members: ReadonlySet<Node>): boolean {
    const c = this.consumers(v);
    return c.result || c.nodes.some((n) => !members.has(n));
  }
}

/**
 * "attention": one flash_attention reading q, k, v through views and storing through a head
 * merge; "moe": one moe_ffn reading its activations and weights through views (no group
 * check makes these: fuse-emit.ts does).
 */
export type FusionKind = "elementwise" | "reduction" | "matmul" | "attention" | "moe";

export type GroupCheck =
  | { readonly ok: true; readonly kind: FusionKind; readonly inputs: readonly Value[]; readonly outputs: readonly Value[] }
  | { readonly ok: false; readonly reason: string };

const fail = (reason: string): GroupCheck => ({ ok: false, reason });

/** A value a kernel loads or clones, and the layout ops between it and the reader (nearest the reader first). */
export interface Leaf {
  readonly source: Value;
  readonly views: readonly Node[];
}

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
      const leaves = fg.sources(v);
      const inGroup = (l: Leaf) => {
        const p = fg.producer.get(l.source);
        return p !== undefined && members.has(p);
      };
      if (m.prim === "dot_general") {
        // The tiled matmul template loads its operands from memory: no prologue.
        if (leaves.some(inGroup)) return fail("next op is a dot_general (its operands are read from memory)");
        for (const x of dotOperandLoads(fg, v, leaves)) inputs.add(x);
        continue;
      }
      for (const l of leaves) {
        const p = fg.producer.get(l.source);
        if (inGroup(l)) edges.push({ source: l.source, views: l.views, consumer: m });
        else if (!(p && fg.isSource(p))) inputs.add(l.source);
      }
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

/**
 * What a matmul kernel binds to read operand `v` (whose `leaves` no member produces): the
 * buffer a strided view reads (the template's address map); `v` itself when it is plain,
 * or when transposes and reshapes of a matmul's or attention's result merge axes no single
 * stride describes (that kernel stores it through them); otherwise (pads, concatenations,
 * such merges of other values) the loaded values, the operand evaluated per element as an
 * index expression.
 */
export function dotOperandLoads(fg: FusionGraph, v: Value, leaves: readonly Leaf[]): Value[] {
  const [one] = leaves;
  if (leaves.length === 1 && one!.views.length === 0) return [v];
  // Recomputing iota or a constant per element of the k-loop costs more than storing it once.
  if (leaves.some((l) => { const p = fg.producer.get(l.source); return p !== undefined && fg.isSource(p); })) return [v];
  if (leaves.length === 1) {
    if (viewThrough(one!.source.shape, [...one!.views].reverse())) return [one!.source];
    // A matmul or attention kernel producing the source stores it through these (fuse.ts, storeFolds).
    const p = fg.producer.get(one!.source);
    const stores = p && (p.prim === "dot_general" || p.prim === "flash_attention") && fg.readers(one!.source).length === 1;
    if (stores && one!.views.every((n) => n.prim === "transpose" || n.prim === "reshape")) return [v];
  }
  return leaves.map((l) => l.source);
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
