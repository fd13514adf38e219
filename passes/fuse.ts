/**
 * fuse: partitions the graph into kernels and replaces each group of two or more
 * nodes by a `fusion` node whose `body` is the group as a sub-graph.
 *
 * Grouping is consumer-driven (XLA's instruction fusion): walking the graph backwards,
 * each node not yet placed starts a group, which pulls in producers nearest-first while
 * the group stays one legal kernel (fuse-rules.ts), binds no more storage buffers than the
 * target allows, and creates no cycle between kernels. A producer already placed in another
 * group merges the two groups when the union is one legal kernel (multi-output fusion); a
 * matmul or reduction reached by an elementwise group evicts the small broadcast values it
 * cannot hold (they are materialised). Nodes are never duplicated, so no reduction is
 * computed twice; a member read outside its group becomes an extra output. Groups of one
 * node stay plain nodes. One note per group says what it holds and why it ended.
 *
 * ## The contract with codegen (what a fusion node of each kind means)
 *
 * Common: operands are the body's inputs, results its outputs (same order and types);
 * body inputs + outputs ≤ maxStorageBuffersPerShaderStage. A body holds only unary,
 * binary and compare ops, select, cast, splat constants, iota, broadcast_in_dim, reshape,
 * and per kind reduce_sum/max/min or one dot_general. Every body value is evaluated at an
 * index of its own shape: elementwise ops pass the index through; broadcast_in_dim maps
 * it to the operand (axis k reads output axis dims[k], or 0 where the operand has size 1);
 * reshape maps it through the row-major linear index; an input is loaded at its row-major
 * offset; a splat constant is its value; iota is the index along `dim`.
 *
 * - "elementwise": every output has the same shape, the domain. One invocation per domain
 *   element evaluates every output there. Values smaller than the domain (reached through
 *   broadcasts) are recomputed per element: they are cheap by construction.
 * - "reduction": all reductions reduce the same axes A of the same operand shape D; let K
 *   be D without A (one row per element of K). Every computed value has shape D (one per
 *   element of the row) or K (one per row); a K value reaches a D value only through
 *   broadcast_in_dim with dims = the kept axes, so it always reads the current row. The
 *   kernel runs one workgroup (or other team) per row: for each reduction in body order, a
 *   pass over the row accumulating its operand (which may read earlier reductions of the
 *   row: softmax's max before its sum), then one pass storing the D-shaped outputs and
 *   one store per row of the K-shaped ones. Inputs of other shapes (a layer-norm gain of
 *   shape [C]) are only ever loaded through index maps.
 * - "matmul": exactly one dot_general, whose two operands are body inputs (loaded by the
 *   tiled template, never computed in the kernel); every other computed value has the
 *   product's shape O and is evaluated per output element after accumulation (bias,
 *   activation, residual). The product itself is an output only when read elsewhere.
 */
import { WEBGPU_DEFAULT_LIMITS } from "../codegen/target.js";
import { formatType, sameShape } from "../ir/dtype.js";
import { type Graph, GraphBuilder, type Node, type Value } from "../ir/graph.js";
import { type PrimitiveParams, flashRowOperands } from "../ir/primitives.js";
import { FusionGraph, type GroupCheck, checkGroup, roleOf } from "./fuse-rules.js";
import { describeChain, groupStride, storeView, viewThrough } from "../ir/view.js";
import type { Pass, PassContext } from "./pipeline.js";

interface Group {
  readonly members: Set<Node>;
  /** Nodes that started this group or a group merged into it: never evicted. */
  readonly roots: Set<Node>;
  check: Legal | undefined;
  /** Why producers stayed outside: phrases by producer. */
  readonly stops: Map<Node, string>;
}

/** Phrases explaining why a node did not join a group, by node and group. */
type Refusals = Map<Node, Map<Group, string>>;

/** Candidates by node index, latest first: a producer is tried after all its consumers in the group. */
class NearestFirst {
  private readonly items: Node[] = [];
  constructor(private readonly index: Map<Node, number>) {}
  push(n: Node) {
    this.items.push(n);
    this.items.sort((a, b) => this.index.get(a)! - this.index.get(b)!);
  }
  pop(): Node | undefined {
    return this.items.pop();
  }
}

type Legal = Extract<GroupCheck, { ok: true }>;

export function fuse(g: Graph, ctx: PassContext): Graph {
  const limit = ctx.target?.limits.maxStorageBuffersPerShaderStage ?? WEBGPU_DEFAULT_LIMITS.maxStorageBuffersPerShaderStage;
  const partition = new Partition(new FusionGraph(g), limit);
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const root = g.nodes[i]!;
    if (partition.graph.groupable(root) && !partition.groupOf.has(root)) partition.growFrom(root);
  }
  return emit(g, partition, ctx.notes);
}

/** The grouping as it grows: the groups, the group of each placed node, and every refusal said so far. */
class Partition {
  readonly groups: Group[] = [];
  readonly groupOf = new Map<Node, Group>();
  readonly refusals: Refusals = new Map();

  constructor(
    readonly graph: FusionGraph,
    readonly bufferLimit: number,
  ) {}

  /** Starts a group at `root` and pulls its producers in, nearest first, while the group stays one kernel. */
  growFrom(root: Node): void {
    let group = this.startGroup(root);
    const candidates = new NearestFirst(this.graph.index);
    this.queueProducers(root, group, candidates);
    for (let producer = candidates.pop(); producer; producer = candidates.pop()) {
      if (group.members.has(producer) || group.stops.has(producer)) continue;
      if (!group.check) break; // a root that is no legal kernel alone (binding limit below its arity) stays alone
      const owner = this.groupOf.get(producer);
      if (owner) group = this.joinOwner(owner, group, producer);
      else if (this.tryAdd(group, producer)) this.queueProducers(producer, group, candidates);
    }
  }

  private startGroup(root: Node): Group {
    const first = checkGroup(this.graph, new Set([root]), this.bufferLimit);
    const group: Group = { members: new Set([root]), roots: new Set([root]), check: first.ok ? first : undefined, stops: new Map() };
    this.groups.push(group);
    this.groupOf.set(root, group);
    return group;
  }

  private refuse(producer: Node, group: Group, why: string): void {
    group.stops.set(producer, why);
    let byGroup = this.refusals.get(producer);
    if (!byGroup) this.refusals.set(producer, (byGroup = new Map()));
    byGroup.set(group, why);
  }

  /** The producers `member` reads (through views) that may join `group`; a dot_general's operands never do. */
  private queueProducers(member: Node, group: Group, candidates: NearestFirst): void {
    for (const v of member.inputs)
      for (const { source } of this.graph.sources(v)) {
        const producer = this.graph.producer.get(source);
        if (!producer || this.graph.isSource(producer) || group.members.has(producer)) continue;
        if (member.prim === "dot_general") this.refuse(producer, group, "next op is a dot_general (its operands are read from memory)");
        else candidates.push(producer);
      }
  }

  /**
   * `producer` feeds two kernels: one kernel computing both (XLA's multi-output fusion)
   * reads it from registers. Returns the group that grows on: `owner` after a merge.
   */
  private joinOwner(owner: Group, group: Group, producer: Node): Group {
    const merged = mergeGroups(this.graph, owner, group, this.groupOf, this.bufferLimit);
    if (typeof merged === "string") {
      this.refuse(producer, group, `producer is in another kernel, which cannot take this one (${merged})`);
      return group;
    }
    for (const n of group.members) this.groupOf.set(n, owner);
    for (const n of group.members) owner.members.add(n);
    for (const n of group.roots) owner.roots.add(n);
    for (const [n, why] of group.stops) if (!owner.stops.has(n)) owner.stops.set(n, why);
    for (const byGroup of this.refusals.values()) if (byGroup.has(group) && !byGroup.has(owner)) byGroup.set(owner, byGroup.get(group)!);
    owner.check = merged;
    this.groups.splice(this.groups.indexOf(group), 1);
    return owner;
  }

  /** Adds `producer` to `group` when the union is one legal kernel without a cycle; otherwise notes why not. */
  private tryAdd(group: Group, producer: Node): boolean {
    if (!this.graph.groupable(producer)) {
      this.refuse(producer, group, `${producer.prim} is its own kernel`);
      return false;
    }
    const trial = new Set(group.members).add(producer);
    const check = checkGroup(this.graph, trial, this.bufferLimit);
    if (!check.ok) {
      // An elementwise group may have taken a small value (a vector broadcast into the
      // domain) that a matmul or reduction cannot hold; the anchor is worth more.
      const evicted = evictForAnchor(this.graph, group, producer, this.bufferLimit, this.groupOf);
      if (!evicted) {
        this.refuse(producer, group, check.reason);
        return false;
      }
      for (const [n, why] of evicted) {
        group.members.delete(n);
        this.groupOf.delete(n);
        if (why) this.refuse(n, group, why);
      }
      group.check = checkGroup(this.graph, new Set(group.members).add(producer), this.bufferLimit) as Legal;
    } else if (closesCycle(this.graph, trial, [producer], this.groupOf)) {
      this.refuse(producer, group, "fusing it would make two kernels wait on each other");
      return false;
    } else group.check = check;
    group.members.add(producer);
    this.groupOf.set(producer, group);
    return true;
  }
}

/** The check of `a ∪ b` as one kernel, or why they stay two. */
function mergeGroups(fg: FusionGraph, a: Group, b: Group, groupOf: Map<Node, Group>, limit: number): Legal | string {
  if (a === b || !a.check || !b.check) return "not a legal kernel";
  const union = new Set([...a.members, ...b.members]);
  const c = checkGroup(fg, union, limit);
  if (!c.ok) return c.reason;
  return closesCycle(fg, union, union, groupOf) ? "the two would wait on each other" : c;
}

/** The most nodes one cycle check visits before it refuses the fusion instead. */
const MAX_CYCLE_SEARCH = 1024;

/**
 * Whether making `union` one kernel closes a cycle between kernels: a path from a node of
 * `from` (those whose outgoing edges are new to the kernel) leaving `union` and coming
 * back. Entering any member of another group reaches all of that group's outputs.
 */
function closesCycle(fg: FusionGraph, union: ReadonlySet<Node>, from: Iterable<Node>, groupOf: Map<Node, Group>): boolean {
  const next = (n: Node) => n.outputs.flatMap((v) => fg.consumers(v).nodes);
  const start = [...from].flatMap(next).filter((n) => !union.has(n));
  const seen = new Set<Node>(start);
  const queue = [...start];
  while (queue.length) {
    // The search walks everything downstream; on a graph of 100,000 ops, once per candidate,
    // that is quadratic. Past a bound, answer as if it closed a cycle: the kernels stay apart.
    if (seen.size > MAX_CYCLE_SEARCH) return true;
    const reached = queue.pop()!;
    if (union.has(reached)) return true;
    const owner = groupOf.get(reached);
    for (const member of owner ? owner.members : [reached])
      for (const n of [member, ...next(member)])
        if (!seen.has(n)) {
          seen.add(n);
          queue.push(n);
        }
  }
  return false;
}

/**
 * When `anchor` (a dot_general or reduction) cannot join the anchorless group `group`
 * only because of members shaped off its product or rows, the members to evict so it
 * can: those misfits and their producers inside the group (an evicted value must not be
 * computed from the group's own, or the two kernels would wait on each other). Returns
 * the evicted nodes with the phrase to note for the misfits, or undefined.
 */
function evictForAnchor(
  fg: FusionGraph, group: Group, anchor: Node, limit: number, groupOf: Map<Node, Group>,
): Map<Node, string | undefined> | undefined {
  const role = roleOf(anchor);
  if ((role !== "contract" && role !== "reduce") || [...group.members].some((m) => roleOf(m) !== "elementwise")) return undefined;
  const fits: (s: readonly number[]) => boolean =
    role === "contract"
      ? (s) => sameShape(s, anchor.outputs[0]!.shape)
      : (s) => sameShape(s, anchor.inputs[0]!.shape) || sameShape(s, anchor.outputs[0]!.shape);
  const where = role === "contract" ? "a matmul epilogue" : "a reduction's rows";
  const evict = new Map<Node, string | undefined>();
  const queue: Node[] = [];
  for (const member of group.members)
    if (!fits(member.outputs[0]!.shape)) {
      evict.set(member, `${formatType(member.outputs[0]!.type)} would be recomputed per element of a broadcast into ${where}; materialised`);
      queue.push(member);
    }
  if (!evict.size) return undefined;
  for (let member = queue.pop(); member; member = queue.pop())
    for (const v of member.inputs)
      for (const { source } of fg.sources(v)) {
        const producer = fg.producer.get(source);
        if (producer && group.members.has(producer) && !evict.has(producer)) {
          evict.set(producer, undefined);
          queue.push(producer);
        }
      }
  if ([...group.roots].some((r) => evict.has(r))) return undefined;
  const kept = new Set([...group.members].filter((m) => !evict.has(m)));
  if (!checkGroup(fg, new Set(kept).add(anchor), limit).ok) return undefined;
  // Evicted nodes go back to being unplaced while the cycle check runs.
  for (const n of evict.keys()) groupOf.delete(n);
  const cyclic = closesCycle(fg, new Set(kept).add(anchor), [anchor], groupOf);
  for (const n of evict.keys()) groupOf.set(n, group);
  return cyclic ? undefined : evict;
}

/** One scheduling unit: a group, or an opaque node (its own kernel). */
type Unit = { readonly group: Group; readonly first: number } | { readonly node: Node; readonly first: number };

/** Rebuilds the graph with one fusion node per group of two or more nodes, noting each kernel. */
function emit(g: Graph, partition: Partition, notes: string[]): Graph {
  const { units, unitOf } = schedulingUnits(g, partition);
  const top = new TopLevel(g, partition.graph, notes);
  let fused = 0;
  for (const unit of kernelOrder(units, unitOf, partition.graph)) {
    if ("node" in unit) {
      if ((unit.node.prim === "flash_attention" || unit.node.prim === "flash_attention_bwd") && emitAttention(top, unit.node, partition.graph, fused, notes)) fused++;
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
function schedulingUnits(g: Graph, partition: Partition): { units: Unit[]; unitOf: Map<Node, Unit> } {
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
function emitGroup(top: TopLevel, group: Group, partition: Partition, index: number, notes: string[]): boolean {
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
    if (loadedElsewhere(v)) continue;
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

/**
 * flash_attention reads its q, k and v rows through strided views whose rows are
 * contiguous (a head split: slices of a fused QKV projection, heads transposed to the
 * front) and stores its output through transposes and reshapes toward a reader that
 * cannot take it as a strided view (heads merged back for the output projection): then
 * it becomes a fusion of kind "attention" holding the views, and no copy kernel runs.
 * Returns whether it did.
 */
function emitAttention(top: TopLevel, node: Node, fg: FusionGraph, index: number, notes: string[]): boolean {
  const prim = node.prim as "flash_attention" | "flash_attention_bwd";
  const rowOperands = flashRowOperands(prim, node.params as PrimitiveParams["flash_attention"]);
  const loads: Value[] = [];
  const reads = node.inputs.map((v, i) => {
    const { source, views } = fg.source(v);
    const chain = [...views].reverse();
    const view = rowOperands.has(i) && views.length ? viewThrough(source.shape, chain) : undefined;
    const p = fg.producer.get(source);
    const folded = view && (view.shape.at(-1) === 1 || view.strides.at(-1) === 1) && !(p && fg.isSource(p));
    const loaded = folded ? source : v;
    if (!loads.includes(loaded)) loads.push(loaded);
    return { loaded, chain: folded ? chain : [] };
  });
  const out = node.outputs[0]!;
  const chain: Node[] = [];
  for (let y = out; prim === "flash_attention" && !fg.isResult(y) && fg.readers(y).length === 1;) {
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

  const name = `attention_${index}`;
  const body = new GraphBuilder(name);
  const local = new Map<Value, Value>(loads.map((v) => [v, body.input(v.type, fg.producer.has(v) ? undefined : v.hint)]));
  const operands = reads.map((r) => r.chain.reduce((x, n) => body.copy(n, [x])[0]!, local.get(r.loaded)!));
  const results = [...body.copy(node, operands)];
  results[0] = storeFold.reduce((x, n) => body.copy(n, [x])[0]!, results[0]!);
  const outputs = [storeFold.length ? storeFold.at(-1)!.outputs[0]! : out, ...node.outputs.slice(1)];
  const views = reads.flatMap((r, i) => (r.chain.length ? [`${rowOperands.get(i)} = ${describeChain(r.chain)}`] : []));
  if (storeFold.length) views.push(`out through ${describeChain(storeFold)}`);
  const reason = `${prim} with its layout ops folded: ${views.join("; ")}`;
  top.fusion({ ok: true, kind: "attention", inputs: loads, outputs }, { body: body.build(results), kind: "attention", reason });
  notes.push(`fuse: @${name} (attention, ${loads.length} in + ${outputs.length} out); ${reason}`);
  return true;
}

export const fusePass: Pass = { name: "fuse", run: (g, ctx) => fuse(g, ctx) };
