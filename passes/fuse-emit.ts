/**
 * The fuse pass's output graph (passes/fuse.ts decides the groups): one fusion node per
 * group, in an order every kernel's producers precede, with a note per kernel; views and
 * sources emitted only where something outside every kernel reads them; matmul and
 * flash_attention results stored through the head merges that follow them; and
 * flash_attention reading its rows through head splits (moe_ffn its weights through
 * transposes) as a fusion of kind "attention" ("moe").
 */
import { formatType } from "../ir/dtype.js";
import { type Graph, GraphBuilder, type Node, type Value } from "../ir/graph.js";
import { type PrimitiveParams, flashRowOperands, moeOperandNames } from "../ir/primitives.js";
import { type StridedView, describeChain, groupStride, storeView, viewThrough } from "../ir/view.js";
import { type FusionGraph, type GroupCheck, roleOf } from "./fuse-rules.js";

export type Legal = Extract<GroupCheck, { ok: true }>;

export interface Group {
  readonly members: Set<Node>;
  /** Nodes that started this group or a group merged into it: never evicted. */
  readonly roots: Set<Node>;
  check: Legal | undefined;
  /** Why producers stayed outside: phrases by producer. */
  readonly stops: Map<Node, string>;
}

/** Phrases explaining why a node did not join a group, by node and group. */
export type Refusals = Map<Node, Map<Group, string>>;

/** What the grouping decided: the groups, each placed node's group, every refusal said, the binding limit. */
export interface Partitioned {
  readonly graph: FusionGraph;
  readonly groups: readonly Group[];
  readonly groupOf: Map<Node, Group>;
  readonly refusals: Refusals;
  readonly bufferLimit: number;
}

/** One scheduling unit: a group, or an opaque node (its own kernel). */
type Unit = { readonly group: Group; readonly first: number } | { readonly node: Node; readonly first: number };

/** Rebuilds the graph with one fusion node per group of two or more nodes, noting each kernel. */
export function emit(g: Graph, partition: Partitioned, notes: string[]): Graph {
  const { units, unitOf } = schedulingUnits(g, partition);
  const top = new TopLevel(g, partition.graph, notes, partition.bufferLimit);
  let fused = 0;
  for (const unit of kernelOrder(units, unitOf, partition.graph)) {
    if ("node" in unit) {
      if (emitTemplate(top, unit.node, partition.graph, fused, notes)) fused++;
      else top.copy(unit.node);
      if (partition.graph.groupable(unit.node)) notes.push(`fuse: ${unit.node.prim} alone`);
    } else if (emitGroup(top, unit.group, partition, fused, notes)) fused++;
  }
  return top.build(g.outputs);
}

/**
 * The units to schedule: each legal, live group, and each node that is its own kernel
 * (opaque, or groupable but in no group). Views and sources are no unit: they are
 * emitted where something reads them.
 */
function schedulingUnits(g: Graph, partition: Partitioned): { units: Unit[]; unitOf: Map<Node, Unit> } {
  const { graph, groups } = partition;
  const units: Unit[] = [];
  const unitOf = new Map<Node, Unit>();
  const add = (unit: Unit, members: Iterable<Node>) => {
    units.push(unit);
    for (const n of members) unitOf.set(n, unit);
  };
  for (const group of groups) {
    // Not a legal kernel (only when the limit is below a node's own arity) or dead: one node each.
    if (!group.check || !group.check.outputs.length) for (const n of group.members) add({ node: n, first: graph.index.get(n)! }, [n]);
    else add({ group, first: Math.min(...[...group.members].map((n) => graph.index.get(n)!)) }, group.members);
  }
  for (const n of g.nodes) {
    const role = roleOf(n);
    if (role === "opaque" || (role !== "view" && role !== "source" && !graph.isSource(n) && !unitOf.has(n))) add({ node: n, first: graph.index.get(n)! }, [n]);
  }
  return { units, unitOf };
}

/** Kahn's algorithm over units, earliest first, so the output reads like the input. */
function kernelOrder(units: readonly Unit[], unitOf: ReadonlyMap<Node, Unit>, graph: FusionGraph): Unit[] {
  const deps = new Map<Unit, Set<Unit>>();
  for (const unit of units) {
    const before = new Set<Unit>();
    for (const n of "group" in unit ? unit.group.members : [unit.node])
      for (const v of n.inputs)
        for (const { source } of graph.sources(v)) {
          const producer = graph.producer.get(source);
          const producerUnit = producer && unitOf.get(producer);
          if (producerUnit && producerUnit !== unit) before.add(producerUnit);
        }
    deps.set(unit, before);
  }
  const order: Unit[] = [];
  const done = new Set<Unit>();
  const pending = [...units].sort((a, b) => a.first - b.first);
  while (pending.length) {
    const ready = pending.findIndex((unit) => [...deps.get(unit)!].every((d) => done.has(d)));
    if (ready < 0) throw new Error("fuse: kernels depend on each other in a cycle (a bug in the cycle check)");
    const [unit] = pending.splice(ready, 1);
    order.push(unit!);
    done.add(unit!);
  }
  return order;
}

/**
 * The output graph as it is built: old values to new. Views and sources are emitted only
 * where something outside every kernel reads them (an opaque node, a result, a matmul
 * operand that is no strided view): then the chain from the loaded values is one
 * elementwise kernel that stores it, noted with its reader. A reshape alone is free (the
 * program aliases its buffer) and is copied as it is.
 */
class TopLevel {
  private readonly builder: GraphBuilder;
  private readonly env = new Map<Value, Value>();
  private materialised = 0;

  constructor(
    g: Graph,
    private readonly graph: FusionGraph,
    private readonly notes: string[],
    /** Storage buffers one kernel may bind (the target's limit). */
    private readonly bufferLimit: number,
  ) {
    this.builder = new GraphBuilder(g.name);
    for (const v of g.inputs) this.env.set(v, this.builder.input(v.type, v.hint));
  }

  /** `v` in the output graph; `reader` says who needs it stored, for the note of a materialised view. */
  value(v: Value, reader: string): Value {
    const hit = this.env.get(v);
    if (hit) return hit;
    const producer = this.graph.producer.get(v);
    if (!producer || !this.lazy(producer)) throw new Error(`fuse: value of ${producer?.prim ?? "?"} used before its kernel`);
    if (producer.prim === "reshape" && !this.graph.isSource(producer)) this.copy(producer);
    else this.materialise(v, reader);
    return this.env.get(v)!;
  }

  copy(n: Node): void {
    const reader = n.prim === "reshape" ? "a reshape" : n.prim;
    this.bind(n.outputs, this.builder.copy(n, n.inputs.map((v) => this.value(v, reader))));
  }

  fusion(check: Legal, params: PrimitiveParams["fusion"]): void {
    const reader = params.kind === "matmul" ? "a dot_general operand that is no strided view" : `@${params.body.name}`;
    this.bind(check.outputs, this.builder.add("fusion", check.inputs.map((v) => this.value(v, reader)), params));
  }

  build(outputs: readonly Value[]): Graph {
    return this.builder.build(outputs.map((v) => this.value(v, "the function's result")));
  }

  /** Emitted where read: layout ops and sources. */
  private lazy(n: Node): boolean {
    return roleOf(n) === "view" || roleOf(n) === "source" || this.graph.isSource(n);
  }

  /** Stores `v`, a view or source, with one kernel evaluating its chain from the values it loads. */
  private materialise(v: Value, reader: string): void {
    const name = `layout_${this.materialised}`;
    const body = new GraphBuilder(name);
    const loaded: Value[] = [];
    const local = new Map<Value, Value>();
    const chain: Node[] = [];
    const inBody = (u: Value): Value => {
      const hit = local.get(u);
      if (hit) return hit;
      const p = this.graph.producer.get(u);
      let mapped: Value;
      if (!p || !this.lazy(p) || this.env.has(u)) {
        loaded.push(u);
        mapped = body.input(u.type, p ? undefined : u.hint);
      } else {
        mapped = body.copy(p, p.inputs.map(inBody))[0]!;
        chain.push(p);
      }
      local.set(u, mapped);
      return mapped;
    };
    const out = inBody(v);
    if (chain.length === 1) {
      const [n] = chain;
      this.bind(n!.outputs, this.builder.copy(n!, n!.inputs.map((u) => this.value(u, reader))));
      this.notes.push(`fuse: ${n!.prim} materialised alone, read by ${reader}`);
      return;
    }
    if (loaded.length + 1 > this.bufferLimit) {
      // One kernel would bind more buffers than the target allows (W9's concatenation of the
      // value and 13 gradients): the chain's ops are emitted one by one, and codegen splits a
      // wide concatenation into kernels that each write their operands' slabs.
      for (const n of chain) this.bind(n.outputs, this.builder.copy(n, n.inputs.map((u) => this.value(u, reader))));
      this.notes.push(
        `fuse: ${chain.map((n) => n.prim).join(" ")} materialised op by op, read by ${reader}: ` +
        `one kernel would bind ${loaded.length + 1} buffers > limit ${this.bufferLimit}`);
      return;
    }
    this.materialised++;
    const params = { body: body.build([out]), kind: "elementwise", reason: `read by ${reader}` };
    this.bind([v], this.builder.add("fusion", loaded.map((u) => this.value(u, reader)), params));
    this.notes.push(`fuse: @${name} (elementwise, ${chain.length} ops: ${chain.map((n) => n.prim).join(" ")}) materialised, read by ${reader}`);
  }

  private bind(olds: readonly Value[], news: readonly Value[]): void {
    olds.forEach((v, i) => this.env.set(v, news[i]!));
  }
}

/**
 * Emits one group: a fusion node named for its kind and `index`, or the node itself when
 * the body is one node. Notes what it holds and why it ended; returns whether it fused.
 */
function emitGroup(top: TopLevel, group: Group, partition: Partitioned, index: number, notes: string[]): boolean {
  const { graph, groupOf, refusals, bufferLimit } = partition;
  // A kernel that loads the product itself (reading it through index maps) needs it stored as it is.
  const loaded = (v: Value) => partition.groups.some((o) => o !== group && o.check?.inputs.includes(v));
  const folds = storeFolds(graph, group, group.check!, loaded);
  const check = { ...group.check!, outputs: group.check!.outputs.map((v) => folds.get(v)?.at(-1)?.outputs[0] ?? v) };
  const body = buildBody(graph, group, group.check!, `${check.kind}_${index}`, folds);
  const ends = endReasons(graph, group, check, groupOf, refusals);
  const stops = [...new Set(group.stops.values())];
  const inputsNote = stops.length ? `; inputs: ${stops.join("; ")}` : "";
  const members = [...group.members].sort((x, y) => graph.index.get(x)! - graph.index.get(y)!);
  if (body.nodes.length === 1) {
    top.copy(members[0]!);
    notes.push(`fuse: ${members[0]!.prim} alone${ends.length ? `; ends: ${ends.join("; ")}` : ""}${inputsNote}`);
    return false;
  }
  const stored = [...folds.values()].map((chain) => `; stores through ${describeChain(chain)}`).join("");
  const reason = (ends.length ? ends.join("; ") : "only graph inputs and results around it") + stored;
  top.fusion(check, { body, kind: check.kind, reason });
  const bindings = check.inputs.length + check.outputs.length;
  notes.push(
    `fuse: @${body.name} (${check.kind}, ${members.length} ops: ${members.map((n) => n.prim).join(" ")}; ` +
      `${check.inputs.length} in + ${check.outputs.length} out = ${bindings}/${bufferLimit} buffers); ` +
      `ends: ${reason}${inputsNote}`,
  );
  return true;
}

/** The group as a sub-graph: cloned views and sources, members in order, stored outputs (through their folded layout ops). */
function buildBody(fg: FusionGraph, group: Group, check: Legal, name: string, folds: ReadonlyMap<Value, readonly Node[]>): Graph {
  const builder = new GraphBuilder(name);
  const local = new Map<Value, Value>();
  for (const v of check.inputs) local.set(v, builder.input(v.type, fg.producer.has(v) ? undefined : v.hint));
  // Views and sources a member reads are cloned into the body on first use.
  const inBody = (v: Value): Value => {
    const hit = local.get(v);
    if (hit) return hit;
    const producer = fg.producer.get(v)!;
    const outs = builder.copy(producer, producer.inputs.map(inBody));
    local.set(v, outs[0]!);
    return outs[0]!;
  };
  const members = [...group.members].sort((x, y) => fg.index.get(x)! - fg.index.get(y)!);
  for (const member of members) {
    const outs = builder.copy(member, member.inputs.map(inBody));
    member.outputs.forEach((o, i) => local.set(o, outs[i]!));
  }
  const stored = (v: Value) => (folds.get(v) ?? []).reduce((x, n) => builder.copy(n, [x])[0]!, local.get(v)!);
  return builder.build(check.outputs.map(stored));
}

/**
 * A matmul kernel's result that leaves only through transposes and reshapes toward readers
 * that cannot take it as a strided view of the product (a flash_attention operand, a
 * function result, a dot_general operand whose view merges transposed axes) is stored
 * through them: the template writes the viewed layout (an affine address per row and
 * column), so no copy kernel runs. At most one per kernel: the template stores one result.
 * Returns the chain of layout ops per folded result.
 */
function storeFolds(fg: FusionGraph, group: Group, check: Legal, loadedElsewhere: (v: Value) => boolean): Map<Value, readonly Node[]> {
  const folds = new Map<Value, readonly Node[]>();
  const dot = [...group.members].find((n) => n.prim === "dot_general");
  if (check.kind !== "matmul" || !dot) return folds;
  const p = dot.params as PrimitiveParams["dot_general"];
  const rank = dot.outputs[0]!.shape.length, nb = p.lhs_batch.length;
  const nm = dot.inputs[0]!.shape.length - nb - p.lhs_contract.length;
  const groups = [[...Array(nb).keys()], [...Array(nm).keys()].map((i) => nb + i), [...Array(rank - nb - nm).keys()].map((i) => nb + nm + i)];
  for (const v of check.outputs) {
    // The template keeps raw accumulators in the stored result: it has the product's type.
    if (loadedElsewhere(v) || v.dtype !== dot.outputs[0]!.dtype) continue;
    const chain: Node[] = [];
    let y = v;
    while (!fg.isResult(y) && fg.readers(y).length === 1) {
      const u = fg.readers(y)[0]!;
      if (u.prim !== "transpose" && u.prim !== "reshape") break;
      chain.push(u);
      y = u.outputs[0]!;
    }
    if (!chain.some((n) => n.prim === "transpose")) continue;
    const view = storeView(v.shape, chain);
    if (!view || groups.some((dims) => groupStride(view.shape, view.strides, dims) === undefined)) continue;
    const readers = fg.consumers(y);
    const needsLayout = readers.result || readers.nodes.some((n) => roleOf(n) === "opaque") || viewThrough(v.shape, chain) === undefined;
    if (!needsLayout) continue;
    folds.set(v, chain);
    break;
  }
  return folds;
}

/** Why the group ended downstream: for each outside reader of an output, the refusal phrase. */
function endReasons(fg: FusionGraph, group: Group, check: Legal, groupOf: Map<Node, Group>, refusals: Refusals): string[] {
  const out = new Set<string>();
  for (const v of check.outputs) {
    const producer = fg.producer.get(v)!;
    const readers = fg.consumers(v);
    if (readers.result) out.add("result of the function");
    for (const n of readers.nodes) {
      if (group.members.has(n)) continue;
      const other = groupOf.get(n);
      const said = other && refusals.get(producer)?.get(other);
      out.add(said ?? (fg.groupable(n) ? `${n.prim} ${formatType(n.outputs[0]!.type)} is in another kernel` : `next op is ${n.prim} (its own kernel)`));
    }
  }
  return [...out];
}

/** Template nodes whose kernels take operands through strided views: the fusion kind, and which operands (by name) take what view. */
interface TemplateReads {
  readonly kind: "attention" | "moe";
  readonly operands: ReadonlyMap<number, string>;
  readonly accepts: (v: StridedView) => boolean;
}

function templateReads(n: Node): TemplateReads | undefined {
  if (n.prim === "flash_attention" || n.prim === "flash_attention_bwd") {
    // The flash templates read rows of consecutive elements.
    const rows = flashRowOperands(n.prim, n.params as PrimitiveParams["flash_attention"]);
    return { kind: "attention", operands: rows, accepts: (v) => v.shape.at(-1) === 1 || v.strides.at(-1) === 1 };
  }
  if (n.prim === "moe_ffn") {
    const names = moeOperandNames(n.params as PrimitiveParams["moe_ffn"]);
    return { kind: "moe", operands: new Map([[0, "x"], [1, "gate"], [2, "w1"], [names.indexOf("w2"), "w2"]]), accepts: () => true };
  }
  return undefined;
}

/**
 * A template node (flash_attention and its backward, moe_ffn) whose operands are strided
 * views its kernels can read in place (a head split: slices of a fused QKV projection,
 * heads transposed to the front; a transposed expert weight) becomes a fusion of that
 * kind holding the views, and flash_attention's result leaving through transposes and
 * reshapes toward a reader that cannot take it as a strided view (heads merged back for
 * the output projection) is stored through them: no copy kernel runs. Returns whether it
 * made a fusion.
 */
function emitTemplate(top: TopLevel, node: Node, fg: FusionGraph, index: number, notes: string[]): boolean {
  const spec = templateReads(node);
  if (!spec) return false;
  const loads: Value[] = [];
  const reads = node.inputs.map((v, i) => {
    const { source, views } = fg.source(v);
    const chain = [...views].reverse();
    const view = spec.operands.has(i) && views.length ? viewThrough(source.shape, chain) : undefined;
    const p = fg.producer.get(source);
    const folded = view && spec.accepts(view) && !(p && fg.isSource(p));
    const loaded = folded ? source : v;
    if (!loads.includes(loaded)) loads.push(loaded);
    return { loaded, chain: folded ? chain : [] };
  });
  const out = node.outputs[0]!;
  const chain: Node[] = [];
  for (let y = out; node.prim === "flash_attention" && !fg.isResult(y) && fg.readers(y).length === 1;) {
    const u = fg.readers(y)[0]!;
    if (u.prim !== "transpose" && u.prim !== "reshape") break;
    chain.push(u);
    y = u.outputs[0]!;
  }
  const stored = storeView(out.shape, chain);
  const last = chain.at(-1)?.outputs[0];
  const needsLayout = last && (fg.isResult(last) || fg.consumers(last).nodes.some((n) => roleOf(n) === "opaque") || viewThrough(out.shape, chain) === undefined);
  const storeFold = chain.some((n) => n.prim === "transpose") && stored && stored.strides.at(-1) === 1 && needsLayout ? chain : [];
  if (!storeFold.length && reads.every((r) => !r.chain.length)) return false;

  const name = `${spec.kind}_${index}`;
  const body = new GraphBuilder(name);
  const local = new Map<Value, Value>(loads.map((v) => [v, body.input(v.type, fg.producer.has(v) ? undefined : v.hint)]));
  const operands = reads.map((r) => r.chain.reduce((x, n) => body.copy(n, [x])[0]!, local.get(r.loaded)!));
  const results = [...body.copy(node, operands)];
  results[0] = storeFold.reduce((x, n) => body.copy(n, [x])[0]!, results[0]!);
  const outputs = [storeFold.length ? storeFold.at(-1)!.outputs[0]! : out, ...node.outputs.slice(1)];
  const views = reads.flatMap((r, i) => (r.chain.length ? [`${spec.operands.get(i)} = ${describeChain(r.chain)}`] : []));
  if (storeFold.length) views.push(`out through ${describeChain(storeFold)}`);
  const reason = `${node.prim} with its layout ops folded: ${views.join("; ")}`;
  top.fusion({ ok: true, kind: spec.kind, inputs: loads, outputs }, { body: body.build(results), kind: spec.kind, reason });
  notes.push(`fuse: @${name} (${spec.kind}, ${loads.length} in + ${outputs.length} out); ${reason}`);
  return true;
}

