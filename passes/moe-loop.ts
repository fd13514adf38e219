/**
 * A mixture of experts written as a loop over experts, put in the form nn.moe emits so the
 * moe pass can route it. The loop, as a user writes it (TypeScript unrolls it):
 *   out = [residual +] Σ_e  g_e[:, None] · (act(x·W1_e [+ b1_e]) [· x·W3_e]) · W2_e [+ b2_e]
 *   g_e = Σ_j where(idx[:, j] == e, w[:, j], 0)   (or w · (idx == e))
 * with idx and w the router's top-k indices and weights [T, k], one term per expert e of the
 * router's E, the same activation in every term, and W1_e ... the experts' weights: slices
 * (np.take(w1, e, 0)) of stacked tensors, or separate tensors, which are stacked here. The sum
 * becomes reduce_sum over experts of batched per-expert matmuls weighted by the gates
 * reduce_sum(one_hot(idx) · w), nn.moe's spelling; the moe pass then matches that as usual
 * (and checks the router's form). A loop it cannot read is left as it is, with a note why.
 */
import type { Graph, GraphBuilder, Node, Value } from "../ir/graph.js";
import { BINARY_OPS, COMPARE_OPS, type PrimitiveParams, UNARY_OPS } from "../ir/primitives.js";
import { replaceRoots } from "./replace.js";

const ELEMENTWISE: ReadonlySet<string> = new Set<string>([...UNARY_OPS, ...BINARY_OPS, ...COMPARE_OPS, "select", "cast"]);

class Skip extends Error {}
const skip = (why: string): never => {
  throw new Skip(why);
};

/** One expert's term of the loop. */
interface Term {
  readonly e: number;
  readonly w: Value;
  readonly idx: Value;
  readonly x: Value;
  readonly w1: Value; readonly b1?: Value; readonly w3?: Value; readonly w2: Value; readonly b2?: Value;
  /** The activation: `hidden` from `pre` (x·W1 [+ b1]) and, when gated, `up` (x·W3). */
  readonly hidden: Value; readonly pre: Value; readonly up?: Value;
  readonly signature: string;
}

class LoopReader {
  readonly producer = new Map<Value, Node>();
  /** Each value's readers, a graph output counting as one (undefined). */
  readonly users = new Map<Value, (Node | undefined)[]>();
  constructor(readonly g: Graph) {
    const read = (v: Value, by: Node | undefined) => {
      const list = this.users.get(v);
      if (list) list.push(by);
      else this.users.set(v, [by]);
    };
    for (const n of g.nodes) {
      for (const v of n.outputs) this.producer.set(v, n);
      for (const v of n.inputs) read(v, n);
    }
    for (const v of g.outputs) read(v, undefined);
  }

  prim(v: Value): string | undefined {
    return this.producer.get(v)?.prim;
  }

  /** The leaves of the add-tree at `v` (adds read only by the tree). */
  addends(v: Value, root = true): Value[] {
    const n = this.producer.get(v);
    if (n?.prim !== "add" || (!root && this.users.get(v)?.length !== 1)) return [v];
    return n.inputs.flatMap((u) => this.addends(u, false));
  }

  /** The value of a splat constant (through broadcasts), or undefined. */
  splat(v: Value): number | undefined {
    const n = this.producer.get(v);
    if (n?.prim === "broadcast_in_dim") return this.splat(n.inputs[0]!);
    if (n?.prim !== "constant") return undefined;
    const value = (n.params as PrimitiveParams["constant"]).value;
    return value.length === 1 ? value[0] : undefined;
  }

  /** `v` as the operand of a broadcast_in_dim along `dims`, or undefined. */
  broadcastOf(v: Value, dims: number[]): Value | undefined {
    const n = this.producer.get(v);
    return n?.prim === "broadcast_in_dim" && (n.params as PrimitiveParams["broadcast_in_dim"]).dims.join() === dims.join() ? n.inputs[0] : undefined;
  }

  /** A plain [rows, a] · [a, b] product: its operands. */
  matmul(v: Value): [Value, Value] | undefined {
    const n = this.producer.get(v);
    if (n?.prim !== "dot_general") return undefined;
    const p = n.params as PrimitiveParams["dot_general"];
    const plain = p.lhs_batch.length === 0 && p.rhs_batch.length === 0 && p.lhs_contract.join() === "1" && p.rhs_contract.join() === "0";
    return plain && n.inputs[0]!.shape.length === 2 && n.inputs[1]!.shape.length === 2 ? [n.inputs[0]!, n.inputs[1]!] : undefined;
  }

  /** g_e = reduce_sum(select(idx == e, w, 0) | w · cast(idx == e), axis 1): (w, idx, e). */
  gate(v: Value): { w: Value; idx: Value; e: number } {
    const sum = this.producer.get(v);
    if (sum?.prim !== "reduce_sum" || (sum.params as PrimitiveParams["reduce_sum"]).axes.join() !== "1")
      return skip(`a term's gate is ${sum?.prim ?? "a graph input"}, not a sum over the k choices`);
    const inner = this.producer.get(sum.inputs[0]!);
    let test: Value | undefined, w: Value | undefined;
    if (inner?.prim === "select" && this.splat(inner.inputs[2]!) === 0) [test, w] = [inner.inputs[0]!, inner.inputs[1]!];
    else if (inner?.prim === "mul")
      for (const [a, b] of [[0, 1], [1, 0]] as const) {
        const c = this.producer.get(inner.inputs[a]!);
        if (c?.prim === "cast" && this.prim(c.inputs[0]!) === "eq") [test, w] = [c.inputs[0]!, inner.inputs[b]!];
      }
    const eq = test && this.producer.get(test);
    if (!eq || eq.prim !== "eq") return skip(`a term's gate is not where(idx == e, w, 0) summed over the k choices`);
    for (const [a, b] of [[0, 1], [1, 0]] as const) {
      const e = this.splat(eq.inputs[b]!), idx = eq.inputs[a]!;
      if (e !== undefined && this.prim(idx) === "top_k" && this.producer.get(idx)!.outputs[1] === idx) return { w: w!, idx, e };
    }
    return skip(`a term's gate compares ${eq.inputs.map((u) => this.prim(u) ?? "an input").join(" and ")}, not the router's top_k indices and a constant expert`);
  }

  /** [a, b] · plus a bias broadcast along rows, or the product alone. */
  biased(v: Value): { dot: Value; bias?: Value } {
    const n = this.producer.get(v);
    if (n?.prim === "add")
      for (const [a, b] of [[0, 1], [1, 0]] as const) {
        const bias = this.broadcastOf(n.inputs[b]!, [1]);
        if (bias && this.matmul(n.inputs[a]!) && bias.shape.length === 1) return { dot: n.inputs[a]!, bias };
      }
    return { dot: v };
  }

  /**
   * The activation from `hidden` down to its first-layer products x·W: an elementwise chain
   * of them and splat constants. Returns the products it reads and its signature (the same
   * string for the same function of them).
   */
  activation(hidden: Value): { firsts: { value: Value; dot: Value; bias?: Value }[]; signature: string } {
    const firsts: { value: Value; dot: Value; bias?: Value }[] = [];
    const sig = (v: Value, depth: number): string => {
      const b = this.biased(v);
      if (this.matmul(b.dot)) {
        let at = firsts.findIndex((f) => f.value === v);
        if (at < 0) at = firsts.push({ value: v, ...b }) - 1;
        return `P${at}${b.bias ? "+b" : ""}`;
      }
      const c = this.splat(v);
      if (c !== undefined) return `C(${c})`;
      const n = this.producer.get(v);
      if (!n || !ELEMENTWISE.has(n.prim) || depth > 64) return skip(`the expert activation reads ${n ? n.prim : "a graph input"} ${v.dtype}[${v.shape}]`);
      return `${n.prim}${JSON.stringify(n.params)}(${n.inputs.map((u) => sig(u, depth + 1)).join(",")})`;
    };
    const signature = sig(hidden, 0);
    if (firsts.length < 1 || firsts.length > 2) skip(`the expert activation reads ${firsts.length} first-layer products (one, or two for a gated expert)`);
    if (firsts.length === 2 && firsts[1]!.bias) skip(`both first-layer products of a gated expert add a bias`);
    return { firsts, signature };
  }

  term(v: Value): Term {
    const n = this.producer.get(v);
    if (n?.prim !== "mul") return skip(`a term of the sum is ${n?.prim ?? "a graph input"}, not gate · expert`);
    for (const [a, b] of [[0, 1], [1, 0]] as const) {
      const g = this.broadcastOf(n.inputs[a]!, [0]);
      if (!g || g.shape.length !== 1) continue;
      const { w, idx, e } = this.gate(g);
      const second = this.biased(n.inputs[b]!);
      const [hidden, w2] = this.matmul(second.dot) ?? skip(`expert ${e}'s output is not a matmul`);
      const { firsts, signature } = this.activation(hidden);
      const [x, w1] = this.matmul(firsts[0]!.dot)!;
      const w3 = firsts[1] ? this.matmul(firsts[1].dot)! : undefined;
      if (w3 && w3[0] !== x) skip(`expert ${e}'s two first-layer products read different tokens`);
      return {
        e, w, idx, x, w1, w2, ...(firsts[0]!.bias ? { b1: firsts[0]!.bias } : {}), ...(w3 ? { w3: w3[1] } : {}), ...(second.bias ? { b2: second.bias } : {}),
        hidden, pre: firsts[0]!.value, ...(firsts[1] ? { up: firsts[1].value } : {}), signature,
      };
    }
    return skip(`a term of the sum is not gate[:, None] · expert`);
  }

  /**
   * The terms of a loop-written MoE among the addends of the sum at `root`, one per expert in
   * order, and the other addends (a residual the loop started from), or a reason it is not one.
   */
  loop(root: Node): { terms: Term[]; others: Value[] } {
    const parsed = this.addends(root.outputs[0]!).map((v) => {
      try {
        return { v, term: this.term(v) };
      } catch (e) {
        if (!(e instanceof Skip)) throw e;
        return { v, why: e.message };
      }
    });
    const terms = parsed.flatMap((p) => (p.term ? [p.term] : []));
    const others = parsed.flatMap((p) => (p.term ? [] : [p.v]));
    if (!terms.length) return skip(parsed.find((p) => p.why)?.why ?? "no term of the sum is gate · expert");
    const first = terms[0]!;
    const E = this.producer.get(first.idx)!.inputs[0]!.shape[1]!;
    const [T, d] = first.x.shape as [number, number];
    for (const t of terms) {
      if (t.idx !== first.idx || t.w !== first.w) skip(`the terms read different routers`);
      if (t.x !== first.x) skip(`the experts read different tokens`);
      if (t.signature !== first.signature) skip(`expert ${t.e}'s activation differs from expert ${first.e}'s`);
      for (const f of ["b1", "w3", "b2"] as const) if (!t[f] !== !first[f]) skip(`expert ${t.e} ${t[f] ? "has" : "lacks"} ${f}, expert ${first.e} ${first[f] ? "has" : "lacks"} it`);
    }
    const byExpert = Array.from({ length: E }, (_, e) => terms.filter((t) => t.e === e));
    const missing = byExpert.findIndex((ts) => ts.length !== 1);
    const unread = parsed.find((p) => p.why && this.prim(p.v) === "mul")?.why;
    if (missing >= 0 || terms.length !== E)
      skip(`the sum has ${terms.length} terms for the router's ${E} experts (expert ${Math.max(missing, 0)} appears ${byExpert[Math.max(missing, 0)]!.length} times)${unread ? `; another addend: ${unread}` : ""}`);
    if (root.outputs[0]!.shape.join() !== [T, d].join()) skip(`the sum is [${root.outputs[0]!.shape}], not the tokens' [${T}, ${d}]`);
    return { terms: byExpert.map((ts) => ts[0]!), others };
  }
}

/** The graph with each loop-written MoE replaced by nn.moe's dense form; `notes` gets a line per loop found or rejected. */
export function stackExpertLoops(g: Graph, notes: string[] = []): Graph {
  if (!g.nodes.some((n) => n.prim === "top_k")) return g;
  const reader = new LoopReader(g);
  const loops = new Map<Node, { terms: Term[]; others: Value[] }>();
  for (const n of g.nodes) {
    // Roots: a sum with gate · expert terms among its addends, not itself inside a larger sum.
    if (n.prim !== "add" || n.outputs[0]!.shape.length !== 2) continue;
    const users = reader.users.get(n.outputs[0]!) ?? [];
    if (users.length === 1 && users[0]?.prim === "add") continue;
    const leaves = reader.addends(n.outputs[0]!);
    if (leaves.filter((v) => reader.prim(v) === "mul").length < 2) continue;
    try {
      const loop = reader.loop(n);
      loops.set(n, loop);
      notes.push(`moe: a loop over ${loop.terms.length} experts stacked into the dense form${loop.others.length ? ` (plus ${loop.others.length} other addend(s))` : ""}`);
    } catch (e) {
      if (!(e instanceof Skip)) throw e;
      if (leaves.some((v) => { try { reader.term(v); return true; } catch { return false; } }))
        notes.push(`moe: a sum of ${leaves.length} addends with gated terms is not a loop over experts: ${e.message}`);
    }
  }
  return loops.size
    ? replaceRoots(g, loops, (b, { terms, others }, get) =>
      others.reduce((acc, v) => b.add("add", [get(v), acc], {})[0]!, denseForm(b, reader, terms, get)))
    : g;
}

/** nn.moe's dense form of the loop's terms (one per expert, in order). */
function denseForm(b: GraphBuilder, reader: LoopReader, terms: Term[], get: (v: Value) => Value): Value {
  const one = (vs: Value[]) => vs[0]!;
  const t0 = terms[0]!;
  const E = terms.length;
  const [T, d] = t0.x.shape as [number, number];
  const h = t0.pre.shape[1]!, k = t0.idx.shape[1]!;
  const bcast = (v: Value, shape: number[], dims: number[]) => one(b.add("broadcast_in_dim", [v], { shape, dims }));
  /** The experts' values stacked on a new leading axis: the tensor they are slices of, or a concatenation. */
  const stack = (vals: Value[]): Value => {
    const gathers = vals.map((v) => reader.producer.get(v));
    const source = gathers[0]?.inputs[0];
    const sliced = gathers.every((n, e) => n?.prim === "gather" && (n.params as PrimitiveParams["gather"]).axis === 0 && n.inputs[0] === source
      && n.inputs[1]!.shape.length === 0 && reader.splat(n.inputs[1]!) === e) && source!.shape[0] === E;
    if (sliced) return get(source!);
    return one(b.add("concatenate", vals.map((v) => bcast(get(v), [1, ...v.shape], v.shape.map((_, i) => i + 1))), { axis: 0 }));
  };
  const perExpert = { lhs_batch: [0], rhs_batch: [0], lhs_contract: [2], rhs_contract: [1] };
  const xE = bcast(get(t0.x), [E, T, d], [1, 2]);
  let pre = one(b.add("dot_general", [xE, stack(terms.map((t) => t.w1))], perExpert));
  if (t0.b1) pre = one(b.add("add", [pre, bcast(stack(terms.map((t) => t.b1!)), [E, T, h], [0, 2])], {}));
  const up = t0.w3 ? one(b.add("dot_general", [xE, stack(terms.map((t) => t.w3!))], perExpert)) : undefined;
  const hidden = replay(b, reader, t0, pre, up, [E, T, h]);
  let y = one(b.add("dot_general", [hidden, stack(terms.map((t) => t.w2))], perExpert));
  if (t0.b2) y = one(b.add("add", [y, bcast(stack(terms.map((t) => t.b2!)), [E, T, d], [0, 2])], {}));
  const idx = bcast(get(t0.idx), [T, k, E], [0, 1]);
  const hot = one(b.add("cast", [one(b.add("eq", [idx, one(b.add("iota", [], { shape: [T, k, E], dim: 2, dtype: t0.idx.dtype }))], {}))], { dtype: "f32" }));
  const gates = one(b.add("reduce_sum", [one(b.add("mul", [hot, bcast(get(t0.w), [T, k, E], [0, 1])], {}))], { axes: [1] }));
  const weighted = one(b.add("mul", [y, bcast(one(b.add("transpose", [gates], { perm: [1, 0] })), [E, T, d], [0, 1])], {}));
  return one(b.add("reduce_sum", [weighted], { axes: [0] }));
}

/** Expert 0's activation rebuilt over [E, T, h] values: its first-layer products replaced, its splat constants widened. */
function replay(b: GraphBuilder, reader: LoopReader, t: Term, pre: Value, up: Value | undefined, shape: number[]): Value {
  const memo = new Map<Value, Value>([[t.pre, pre], ...(t.up && up ? [[t.up, up] as [Value, Value]] : [])]);
  const at = (v: Value): Value => {
    const known = memo.get(v);
    if (known) return known;
    const c = reader.splat(v);
    let out: Value;
    if (c !== undefined) out = b.add("constant", [], { value: [c], shape, dtype: v.dtype })[0]!;
    else {
      const n = reader.producer.get(v)!;
      out = b.copy(n, n.inputs.map(at))[n.outputs.indexOf(v)]!;
    }
    memo.set(v, out);
    return out;
  };
  return at(t.hidden);
}
