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
 * Layout ops (transpose, slice, reshape, broadcast_in_dim, pad, concatenate) and cheap
 * sources (iota, splat constants, small elementwise functions of them such as a causal
 * mask) are never members: each kernel clones those it reads into its body, where they are
 * index expressions. What remains outside every kernel is stored only where something
 * needs it stored (a function result, an opaque node's operand): one elementwise kernel
 * per such chain, noted "materialised" with its reader. A matmul's or flash_attention's
 * result that leaves through transposes and reshapes no strided read can take (heads
 * merged back) is stored through them instead (storeFolds), and flash_attention (and its
 * backward) reading q, k, v through a head split becomes a fusion of kind "attention",
 * moe_ffn reading transposed weights one of kind "moe".
 *
 * ## The contract with codegen (what a fusion node of each kind means)
 *
 * Common: operands are the body's inputs, results its outputs (same order and types);
 * body inputs + outputs ≤ maxStorageBuffersPerShaderStage. A body holds only unary,
 * binary and compare ops, select, cast, splat constants, iota, the layout ops, and per
 * kind reduce_sum/max/min, one dot_general, or one flash_attention(_bwd). Every body value
 * is evaluated at an index of its own shape: elementwise ops pass the index through; a
 * layout op maps it to its operand (broadcast_in_dim: axis k reads output axis dims[k], or
 * 0 where the operand has size 1; reshape: through the row-major linear index; transpose:
 * permuted; slice: start + index · stride; pad: the operand inside, the pad value outside;
 * concatenate: the operand whose range holds the index along the axis); an input is
 * loaded at its row-major offset; a splat constant is its value; iota is the index along
 * `dim`.
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
 * - "matmul": exactly one dot_general, whose two operands are made from body inputs by
 *   layout ops alone (never computed in the kernel): a strided view of one input is the
 *   template's address map (strides and offset), anything else (a pad, a concatenation,
 *   a merge of transposed axes) is evaluated per element as an index expression. Every
 *   other computed value has the product's shape O and is evaluated per element of C after
 *   accumulation (bias, activation, residual). The product itself is an output only when
 *   read elsewhere. One output may be transposes and reshapes of a product-shaped value:
 *   the template stores that value through them (affine per batch, row and column).
 * - "attention": one flash_attention or flash_attention_bwd whose row operands (q, k, v;
 *   the backward's out and its cotangent) are strided views of inputs with contiguous
 *   rows, the others inputs; the forward's output may be stored through transposes and
 *   reshapes with contiguous rows. The flash templates read and write those row layouts.
 * - "moe": one moe_ffn whose x, gate, w1 and w2 are strided views of inputs (any strides:
 *   the grouped matmuls' address maps), the biases inputs.
 */
import { WEBGPU_DEFAULT_LIMITS } from "../codegen/target.js";
import { formatType, sameShape } from "../ir/dtype.js";
import type { Graph, Node } from "../ir/graph.js";
import { type Group, type Legal, type Partitioned, type Refusals, emit } from "./fuse-emit.js";
import { FusionGraph, checkGroup, roleOf } from "./fuse-rules.js";
import type { Pass, PassContext } from "./pipeline.js";

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
class Partition implements Partitioned {
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

export const fusePass: Pass = { name: "fuse", run: (g, ctx) => fuse(g, ctx) };
