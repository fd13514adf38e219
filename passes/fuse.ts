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
import { FusionGraph, type GroupCheck, checkGroup, isClonable, isGroupable, roleOf } from "./fuse-rules.js";
import type { Pass, PassContext } from "./pipeline.js";

interface Group {
  readonly members: Set<Node>;
  /** Nodes that started this group or a group merged into it: never evicted. */
  readonly roots: Set<Node>;
  check: Extract<GroupCheck, { ok: true }> | undefined;
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
  const fg = new FusionGraph(g);
  const groupOf = new Map<Node, Group>();
  const groups: Group[] = [];
  const refusals: Refusals = new Map();
  const refuse = (p: Node, grp: Group, why: string) => {
    grp.stops.set(p, why);
    let m = refusals.get(p);
    if (!m) refusals.set(p, (m = new Map()));
    m.set(grp, why);
  };

  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const root = g.nodes[i]!;
    if (!isGroupable(root) || groupOf.has(root)) continue;
    let grp: Group = { members: new Set([root]), roots: new Set([root]), check: undefined, stops: new Map() };
    const first = checkGroup(fg, grp.members, limit);
    grp.check = first.ok ? first : undefined;
    groups.push(grp);
    groupOf.set(root, grp);
    const work = new NearestFirst(fg.index);
    const pushProducers = (m: Node) => {
      for (const v of m.inputs) {
        const p = fg.producer.get(fg.source(v).source);
        if (!p || isClonable(p) || grp.members.has(p)) continue;
        if (m.prim === "dot_general") refuse(p, grp, "next op is a dot_general (its operands are read from memory)");
        else work.push(p);
      }
    };
    pushProducers(root);
    for (let p = work.pop(); p; p = work.pop()) {
      if (grp.members.has(p) || grp.stops.has(p)) continue;
      if (!grp.check) break; // a root that is no legal kernel alone (binding limit below its arity) stays alone
      const owner = groupOf.get(p);
      if (owner) {
        // p feeds two kernels: one kernel computing both (XLA's multi-output fusion) reads it from registers.
        const merged = mergeGroups(fg, owner, grp, groupOf, limit);
        if (typeof merged === "string") {
          refuse(p, grp, `producer is in another kernel, which cannot take this one (${merged})`);
          continue;
        }
        for (const n of grp.members) groupOf.set(n, owner);
        for (const n of grp.members) owner.members.add(n);
        for (const n of grp.roots) owner.roots.add(n);
        for (const [n, why] of grp.stops) if (!owner.stops.has(n)) owner.stops.set(n, why);
        for (const m of refusals.values()) if (m.has(grp) && !m.has(owner)) m.set(owner, m.get(grp)!);
        owner.check = merged;
        groups.splice(groups.indexOf(grp), 1);
        grp = owner;
        continue;
      }
      if (!isGroupable(p)) {
        refuse(p, grp, `${p.prim} is its own kernel`);
        continue;
      }
      const trial = new Set(grp.members).add(p);
      const c = checkGroup(fg, trial, limit);
      if (!c.ok) {
        // An elementwise group may have taken a small value (a vector broadcast into the
        // domain) that a matmul or reduction cannot hold; the anchor is worth more.
        const evicted = evictForAnchor(fg, grp, p, limit, groupOf);
        if (!evicted) {
          refuse(p, grp, c.reason);
          continue;
        }
        for (const [n, why] of evicted) {
          grp.members.delete(n);
          groupOf.delete(n);
          if (why) refuse(n, grp, why);
        }
        grp.check = checkGroup(fg, new Set(grp.members).add(p), limit) as Legal;
      } else if (closesCycle(fg, trial, [p], groupOf)) {
        refuse(p, grp, "fusing it would make two kernels wait on each other");
        continue;
      } else grp.check = c;
      grp.members.add(p);
      groupOf.set(p, grp);
      pushProducers(p);
    }
  }
  return emit(g, fg, groups, groupOf, refusals, limit, ctx.notes);
}

/** The check of `a ∪ b` as one kernel, or why they stay two. */
function mergeGroups(fg: FusionGraph, a: Group, b: Group, groupOf: Map<Node, Group>, limit: number): Legal | string {
  if (a === b || !a.check || !b.check) return "not a legal kernel";
  const union = new Set([...a.members, ...b.members]);
  const c = checkGroup(fg, union, limit);
  if (!c.ok) return c.reason;
  return closesCycle(fg, union, union, groupOf) ? "the two would wait on each other" : c;
}

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
    const x = queue.pop()!;
    if (union.has(x)) return true;
    const owner = groupOf.get(x);
    for (const y of owner ? owner.members : [x])
      for (const c of [y, ...next(y)])
        if (!seen.has(c)) {
          seen.add(c);
          queue.push(c);
        }
  }
  return false;
}

/**
 * When anchor `p` (a dot_general or reduction) cannot join the anchorless group `grp`
 * only because of members shaped off its product or rows, the members to evict so it
 * can: those misfits and their producers inside the group (an evicted value must not be
 * computed from the group's own, or the two kernels would wait on each other). Returns
 * the evicted nodes with the phrase to note for the misfits, or undefined.
 */
function evictForAnchor(
  fg: FusionGraph, grp: Group, p: Node, limit: number, groupOf: Map<Node, Group>,
): Map<Node, string | undefined> | undefined {
  const role = roleOf(p);
  if ((role !== "contract" && role !== "reduce") || [...grp.members].some((m) => roleOf(m) !== "elementwise")) return undefined;
  const fits: (s: readonly number[]) => boolean =
    role === "contract"
      ? (s) => sameShape(s, p.outputs[0]!.shape)
      : (s) => sameShape(s, p.inputs[0]!.shape) || sameShape(s, p.outputs[0]!.shape);
  const where = role === "contract" ? "a matmul epilogue" : "a reduction's rows";
  const evict = new Map<Node, string | undefined>();
  const queue: Node[] = [];
  for (const m of grp.members)
    if (!fits(m.outputs[0]!.shape)) {
      evict.set(m, `${formatType(m.outputs[0]!.type)} would be recomputed per element of a broadcast into ${where}; materialised`);
      queue.push(m);
    }
  if (!evict.size) return undefined;
  for (let m = queue.pop(); m; m = queue.pop())
    for (const v of m.inputs) {
      const q = fg.producer.get(fg.source(v).source);
      if (q && grp.members.has(q) && !evict.has(q)) {
        evict.set(q, undefined);
        queue.push(q);
      }
    }
  if ([...grp.roots].some((r) => evict.has(r))) return undefined;
  const kept = new Set([...grp.members].filter((m) => !evict.has(m)));
  if (!checkGroup(fg, new Set(kept).add(p), limit).ok) return undefined;
  // Evicted nodes go back to being unplaced while the cycle check runs.
  for (const n of evict.keys()) groupOf.delete(n);
  const cyclic = closesCycle(fg, new Set(kept).add(p), [p], groupOf);
  for (const n of evict.keys()) groupOf.set(n, grp);
  return cyclic ? undefined : evict;
}

/** One scheduling unit: a group, or an opaque node (its own kernel). */
type Unit = { readonly group: Group; readonly first: number } | { readonly node: Node; readonly first: number };

function emit(
  g: Graph, fg: FusionGraph, groups: Group[], groupOf: Map<Node, Group>, refusals: Refusals, limit: number, notes: string[],
): Graph {
  const units: Unit[] = [];
  const unitOf = new Map<Node, Unit>();
  for (const grp of groups) {
    if (!grp.check || !grp.check.outputs.length) {
      // Not a legal kernel (only when the limit is below a node's own arity) or dead: one node each.
      for (const n of grp.members) {
        const u = { node: n, first: fg.index.get(n)! };
        units.push(u);
        unitOf.set(n, u);
      }
      continue;
    }
    const u = { group: grp, first: Math.min(...[...grp.members].map((n) => fg.index.get(n)!)) };
    units.push(u);
    for (const n of grp.members) unitOf.set(n, u);
  }
  for (const n of g.nodes) {
    const r = roleOf(n);
    if (r === "opaque" || (r !== "view" && r !== "source" && !unitOf.has(n))) {
      const u = { node: n, first: fg.index.get(n)! };
      units.push(u);
      unitOf.set(n, u);
    }
  }

  // Kahn's algorithm over units, earliest first, so the output reads like the input.
  const deps = new Map<Unit, Set<Unit>>();
  for (const u of units) {
    const ns = "group" in u ? [...u.group.members] : [u.node];
    const d = new Set<Unit>();
    for (const n of ns)
      for (const v of n.inputs) {
        const p = fg.producer.get(fg.source(v).source);
        const pu = p && unitOf.get(p);
        if (pu && pu !== u) d.add(pu);
      }
    deps.set(u, d);
  }
  const order: Unit[] = [];
  const done = new Set<Unit>();
  let pending = [...units].sort((a, b) => a.first - b.first);
  while (pending.length) {
    const k = pending.findIndex((u) => [...deps.get(u)!].every((d) => done.has(d)));
    if (k < 0) throw new Error("fuse: kernels depend on each other in a cycle (a bug in the cycle check)");
    const u = pending[k]!;
    order.push(u);
    done.add(u);
    pending = [...pending.slice(0, k), ...pending.slice(k + 1)];
  }

  const b = new GraphBuilder(g.name);
  const env = new Map<Value, Value>();
  for (const v of g.inputs) env.set(v, b.input(v.type, v.hint));
  // Views and sources are emitted at the top level only where something there reads them.
  const top = (v: Value): Value => {
    const hit = env.get(v);
    if (hit) return hit;
    const p = fg.producer.get(v);
    if (!p || (roleOf(p) !== "view" && roleOf(p) !== "source")) throw new Error(`fuse: value of ${p?.prim ?? "?"} used before its kernel`);
    const outs = b.copy(p, p.inputs.map(top));
    p.outputs.forEach((o, i) => env.set(o, outs[i]!));
    return env.get(v)!;
  };

  let fused = 0;
  for (const u of order) {
    if ("node" in u) {
      const outs = b.copy(u.node, u.node.inputs.map(top));
      u.node.outputs.forEach((o, i) => env.set(o, outs[i]!));
      if (isGroupable(u.node)) notes.push(`fuse: ${u.node.prim} alone`);
      continue;
    }
    const check = u.group.check!;
    const body = buildBody(fg, u.group, check, `${check.kind}_${fused}`);
    const ends = endReasons(fg, u.group, check, groupOf, refusals);
    const stops = [...new Set(u.group.stops.values())];
    const members = [...u.group.members].sort((x, y) => fg.index.get(x)! - fg.index.get(y)!);
    if (body.nodes.length === 1) {
      const n = members[0]!;
      const outs = b.copy(n, n.inputs.map(top));
      n.outputs.forEach((o, i) => env.set(o, outs[i]!));
      notes.push(`fuse: ${n.prim} alone${ends.length ? `; ends: ${ends.join("; ")}` : ""}${stops.length ? `; inputs: ${stops.join("; ")}` : ""}`);
      continue;
    }
    const reason = ends.length ? ends.join("; ") : "only graph inputs and results around it";
    const outs = b.add("fusion", check.inputs.map(top), { body, kind: check.kind, reason });
    check.outputs.forEach((o, i) => env.set(o, outs[i]!));
    const bindings = check.inputs.length + check.outputs.length;
    notes.push(
      `fuse: @${body.name} (${check.kind}, ${members.length} ops: ${members.map((n) => n.prim).join(" ")}; ` +
        `${check.inputs.length} in + ${check.outputs.length} out = ${bindings}/${limit} buffers); ` +
        `ends: ${reason}${stops.length ? `; inputs: ${stops.join("; ")}` : ""}`,
    );
    fused++;
  }
  return b.build(g.outputs.map(top));
}

/** The group as a sub-graph: cloned views and sources, members in order, stored outputs. */
function buildBody(fg: FusionGraph, grp: Group, check: Extract<GroupCheck, { ok: true }>, name: string): Graph {
  const b = new GraphBuilder(name);
  const local = new Map<Value, Value>();
  for (const v of check.inputs) local.set(v, b.input(v.type, fg.producer.has(v) ? undefined : v.hint));
  const get = (v: Value): Value => {
    const hit = local.get(v);
    if (hit) return hit;
    const p = fg.producer.get(v)!;
    const outs = b.copy(p, p.inputs.map(get));
    local.set(v, outs[0]!);
    return outs[0]!;
  };
  const members = [...grp.members].sort((x, y) => fg.index.get(x)! - fg.index.get(y)!);
  for (const m of members) {
    const outs = b.copy(m, m.inputs.map(get));
    m.outputs.forEach((o, i) => local.set(o, outs[i]!));
  }
  return b.build(check.outputs.map((v) => local.get(v)!));
}

/** Why the group ended downstream: for each outside reader of an output, the refusal phrase. */
function endReasons(fg: FusionGraph, grp: Group, check: Extract<GroupCheck, { ok: true }>, groupOf: Map<Node, Group>, refusals: Refusals): string[] {
  const out = new Set<string>();
  for (const v of check.outputs) {
    const p = fg.producer.get(v)!;
    const c = fg.consumers(v);
    if (c.result) out.add("result of the function");
    for (const n of c.nodes) {
      if (grp.members.has(n)) continue;
      const other = groupOf.get(n);
      const said = other && refusals.get(p)?.get(other);
      out.add(said ?? (isGroupable(n) ? `${n.prim} ${formatType(n.outputs[0]!.type)} is in another kernel` : `next op is ${n.prim} (its own kernel)`));
    }
  }
  return [...out];
}

export const fusePass: Pass = { name: "fuse", run: (g, ctx) => fuse(g, ctx) };
