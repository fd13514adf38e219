/**
 * canonicalise: constant folding, algebraic simplification, common-subexpression
 * elimination and dead-code elimination, in one forward sweep plus a backward one.
 *
 * Each node is rebuilt on its already-canonical operands; a simplification rule may
 * replace it by an existing value (x*1 → x) or by another node (double transpose → one
 * transpose), which is simplified again. All primitives are pure, so CSE merges any two
 * nodes with the same primitive, operands and attributes (compared structurally), and DCE
 * drops every node no output depends on. Fusion bodies are left as the fuse pass built them.
 */
import { sameShape } from "../ir/dtype.js";
import { Graph, GraphBuilder, type Node, type Value } from "../ir/graph.js";
import { formatNumber, printIR } from "../ir/print.js";
import { type Primitive, type PrimitiveParams, inferTypes, primitiveDef } from "../ir/primitives.js";
import { type ConstantParams, foldNode, fromFloat, splatValue } from "./fold.js";
import type { Pass } from "./pipeline.js";

/** A node before it is added: what rules look at and produce. */
export interface Spec<P extends Primitive = Primitive> {
  readonly prim: P;
  readonly inputs: readonly Value[];
  readonly params: PrimitiveParams[P];
}

/** How a rule sees the producer of a canonical value (undefined for graph inputs). */
type Producer = (v: Value) => Spec | undefined;

/** A rule returns an existing value to use instead, a replacement node, or undefined. */
type Rule<P extends Primitive> = (s: Spec<P>, producer: Producer) => { value: Value; why: string } | { spec: Spec; why: string } | undefined;

const spec = <P extends Primitive>(prim: P, inputs: readonly Value[], params: PrimitiveParams[P]): Spec =>
  ({ prim, inputs, params }) as Spec;

/** The splat value of `v` if a constant produces it. */
function splatOf(v: Value, producer: Producer): number | undefined {
  const p = producer(v);
  return p?.prim === "constant" ? splatValue(p.params as ConstantParams) : undefined;
}

/** `x op c` → x (and `c op x` → x for commutative ops) when c is the identity splat. */
function identityRule(identity: number, commutative: boolean, name: string): Rule<"add" | "sub" | "mul" | "div"> {
  return (s, producer) => {
    const [a, b] = s.inputs as [Value, Value];
    const id = fromFloat(a.dtype, identity);
    if (splatOf(b, producer) === id) return { value: a, why: name };
    if (commutative && splatOf(a, producer) === id) return { value: b, why: name };
    return undefined;
  };
}

/** max(x, x) = min(x, x) = x, also for NaN; and/or likewise. */
const idempotent: Rule<"max" | "min" | "and" | "or"> = (s) =>
  s.inputs[0] === s.inputs[1] ? { value: s.inputs[0]!, why: "x op x" } : undefined;

const isIdentityPerm = (p: readonly number[]) => p.every((x, i) => x === i);

/**
 * The rule table, one entry per primitive that has rules. x + 0 → x may turn -0 + 0 (= +0)
 * into -0; XLA's algebraic simplifier makes the same trade.
 */
const RULES: { readonly [P in Primitive]?: readonly Rule<P>[] } = {
  add: [identityRule(0, true, "x+0")],
  sub: [identityRule(0, false, "x-0")],
  mul: [identityRule(1, true, "x*1")],
  div: [identityRule(1, false, "x/1")],
  max: [idempotent],
  min: [idempotent],
  and: [idempotent],
  or: [idempotent],
  neg: [(s, producer) => {
    const p = producer(s.inputs[0]!);
    return p?.prim === "neg" ? { value: p.inputs[0]!, why: "double negation" } : undefined;
  }],
  select: [(s, producer) => {
    const [pred, a, b] = s.inputs as [Value, Value, Value];
    if (a === b) return { value: a, why: "select of equal branches" };
    const c = splatOf(pred, producer);
    return c === undefined ? undefined : { value: c ? a : b, why: "select on a constant predicate" };
  }],
  cast: [(s) => (s.inputs[0]!.dtype === s.params.dtype ? { value: s.inputs[0]!, why: "cast to the same dtype" } : undefined)],
  reshape: [
    (s) => (sameShape(s.inputs[0]!.shape, s.params.shape) ? { value: s.inputs[0]!, why: "reshape to the same shape" } : undefined),
    (s, producer) => {
      const p = producer(s.inputs[0]!);
      return p?.prim === "reshape" ? { spec: spec("reshape", p.inputs, s.params), why: "reshape of reshape" } : undefined;
    },
  ],
  transpose: [
    (s) => (isIdentityPerm(s.params.perm) ? { value: s.inputs[0]!, why: "identity transpose" } : undefined),
    (s, producer) => {
      const p = producer(s.inputs[0]!);
      if (p?.prim !== "transpose") return undefined;
      // out axis i reads inner axis perm[i], which reads operand axis inner.perm[perm[i]].
      const inner = (p.params as PrimitiveParams["transpose"]).perm;
      const perm = s.params.perm.map((i) => inner[i]!);
      return { spec: spec("transpose", p.inputs, { perm }), why: "double transpose" };
    },
  ],
  broadcast_in_dim: [
    (s) => {
      const x = s.inputs[0]!;
      return sameShape(x.shape, s.params.shape) && isIdentityPerm(s.params.dims)
        ? { value: x, why: "identity broadcast" }
        : undefined;
    },
    (s, producer) => {
      const p = producer(s.inputs[0]!);
      if (p?.prim !== "broadcast_in_dim") return undefined;
      const inner = (p.params as PrimitiveParams["broadcast_in_dim"]).dims;
      const dims = inner.map((d) => s.params.dims[d]!);
      return { spec: spec("broadcast_in_dim", p.inputs, { shape: s.params.shape, dims }), why: "broadcast of broadcast" };
    },
    // keepdims: broadcast(reshape(x: [R] → [R,1]), [R,C]) is broadcast(x, [R,C], dims [0]). Only
    // when x has no unit axes, so every operand axis maps to exactly one non-unit axis.
    (s, producer) => {
      const p = producer(s.inputs[0]!);
      if (p?.prim !== "reshape") return undefined;
      const x = p.inputs[0]!, mid = s.inputs[0]!.shape;
      const nonUnit = mid.flatMap((d, i) => (d === 1 ? [] : [i]));
      if (x.shape.includes(1) || nonUnit.length !== x.shape.length || nonUnit.some((a, k) => mid[a] !== x.shape[k]))
        return undefined;
      const dims = nonUnit.map((a) => s.params.dims[a]!);
      return { spec: spec("broadcast_in_dim", [x], { shape: s.params.shape, dims }), why: "broadcast of unit-axis reshape" };
    },
  ],
  reduce_sum: [(s) => (s.params.axes.length === 0 ? { value: s.inputs[0]!, why: "reduction over no axes" } : undefined)],
  reduce_max: [(s) => (s.params.axes.length === 0 ? { value: s.inputs[0]!, why: "reduction over no axes" } : undefined)],
  reduce_min: [(s) => (s.params.axes.length === 0 ? { value: s.inputs[0]!, why: "reduction over no axes" } : undefined)],
};

// ---------------------------------------------------------------------------

/**
 * A graph attribute's CSE identity: its printed text, so two composite nodes whose bodies
 * were built apart but say the same (the forward's flash_attention or moe_ffn and the copy a
 * backward recomputes) merge.
 */
const graphTexts = new WeakMap<Graph, string>();

/** A structural key for CSE: primitive, operand identities, attributes in schema order. */
function cseKey(s: Spec): string {
  const def = primitiveDef(s.prim);
  const params = s.params as Record<string, unknown>;
  const attr = (v: unknown): string => {
    if (v instanceof Graph) {
      let text = graphTexts.get(v);
      if (text === undefined) graphTexts.set(v, (text = printIR(v)));
      return `@{${text}}`;
    }
    if (typeof v === "number") return formatNumber(v); // keeps -0 apart from 0 and NaN equal to NaN
    if (Array.isArray(v)) return `[${v.map(attr).join(",")}]`;
    return JSON.stringify(v);
  };
  const attrs = Object.keys(def.params).map((k) => `${k}=${attr(params[k])}`);
  return `${s.prim}(${s.inputs.map((v) => v.id).join(",")}){${attrs.join(",")}}`;
}

/** Drops every node whose outputs nothing live reads. */
export function eliminateDeadCode(g: Graph): { graph: Graph; removed: number } {
  const live = new Set<Value>(g.outputs);
  const kept: Node[] = [];
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i]!;
    if (!n.outputs.some((v) => live.has(v))) continue;
    kept.push(n);
    for (const v of n.inputs) live.add(v);
  }
  const removed = g.nodes.length - kept.length;
  return { graph: removed ? new Graph(g.name, g.inputs, kept.reverse(), g.outputs) : g, removed };
}

/** Rewrites applied per node are bounded: each rule shrinks the graph, but be safe. */
const MAX_REWRITES_PER_NODE = 16;

export function canonicalize(g: Graph, notes: string[] = []): Graph {
  const b = new GraphBuilder(g.name);
  const env = new Map<Value, Value>();
  for (const v of g.inputs) env.set(v, b.input(v.type, v.hint));
  const producers = new Map<Value, Spec>();
  const producer: Producer = (v) => producers.get(v);
  const seen = new Map<string, Value[]>();
  const counts = new Map<string, number>();
  const count = (why: string) => counts.set(why, (counts.get(why) ?? 0) + 1);

  const emit = (first: Spec, loc: string | undefined, arity: number): Value[] => {
    let s = first;
    for (let step = 0; step < MAX_REWRITES_PER_NODE && arity === 1; step++) {
      const rules = (RULES[s.prim] ?? []) as readonly Rule<Primitive>[];
      let r: ReturnType<Rule<Primitive>>;
      for (const rule of rules) if ((r = rule(s, producer))) break;
      if (!r) break;
      count(r.why);
      if ("value" in r) return [r.value];
      s = r.spec;
    }
    const operands = s.inputs.map((v) => producer(v));
    if (arity === 1 && s.prim !== "constant" && operands.every((p) => p?.prim === "constant")) {
      const out = inferTypes(s.prim, s.inputs.map((v) => v.type), s.params)[0]!;
      const folded = foldNode(s, operands.map((p) => p!.params as ConstantParams), out.shape, out.dtype);
      if (folded) {
        count("constant folded");
        s = spec("constant", [], folded);
      }
    }
    const key = cseKey(s);
    const hit = seen.get(key);
    if (hit) {
      count("common subexpression");
      return hit;
    }
    const outs = b.copy({ ...s, outputs: [], ...(loc ? { loc } : {}) } as Node, s.inputs);
    if (outs.length === 1) producers.set(outs[0]!, s);
    seen.set(key, outs);
    return outs;
  };

  for (const n of g.nodes) {
    const outs = emit(spec(n.prim, n.inputs.map((v) => env.get(v)!), n.params), n.loc, n.outputs.length);
    n.outputs.forEach((v, i) => env.set(v, outs[i]!));
  }
  const { graph, removed } = eliminateDeadCode(b.build(g.outputs.map((v) => env.get(v)!)));
  if (removed) counts.set("dead node removed", removed);
  const summary = [...counts].map(([why, k]) => `${why} ×${k}`).join(", ");
  notes.push(summary ? `canonicalize: ${summary}` : "canonicalize: nothing to change");
  return graph;
}

export const canonicalizePass: Pass = { name: "canonicalize", run: (g, ctx) => canonicalize(g, ctx.notes) };
