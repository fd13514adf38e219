/**
 * The moe pass: finds a top-k mixture-of-experts FFN written densely (every expert on every
 * token, weighted by gates that are zero outside each token's top k: the form nn.moe emits,
 * or the same by hand) and replaces it with one `moe_ffn` node whose body is the matched
 * dense region, copied as it was. Codegen routes the node (codegen/moe.ts): each token
 * reaches only its k experts, so the work is k/E of the dense form's.
 *
 * The match: reduce_sum over experts of (dot_general(act(...), w2) [+ b2]) times the gates,
 * the gates being the softmax of top_k(x·gate)'s values (or top_k of softmax(x·gate), its
 * values as they are or divided by their sum) spread by a one-hot of its indices; the first
 * expert layer is dot_general(broadcast x, w1) [+ b1] and `act` any elementwise chain of it
 * and constants (gelu, silu, relu), or of it and a second dot_general(broadcast x, w3)
 * (SwiGLU). A loop over experts is first stacked into that form (passes/moe-loop.ts).
 * Near-misses are explained in the notes.
 */
import { type Graph, GraphBuilder, type Node, type Value } from "../ir/graph.js";
import { BINARY_OPS, COMPARE_OPS, type MoeRouter, type PrimitiveParams, UNARY_OPS, moeOperandNames } from "../ir/primitives.js";
import { Matcher, type Pattern, capture, either, explainMiss, looseLayout, op, same } from "./match.js";
import { softmaxPattern } from "./patterns.js";
import type { Pass } from "./pipeline.js";
import { stackExpertLoops } from "./moe-loop.js";
import { replaceRoots } from "./replace.js";

type Dot = PrimitiveParams["dot_general"];
const dotIs = (p: Dot, lb: number[], rb: number[], lc: number[], rc: number[]) =>
  [p.lhs_batch, p.rhs_batch, p.lhs_contract, p.rhs_contract].every((a, i) => a.join() === [lb, rb, lc, rc][i]!.join());

const logitsDot = op("dot_general", [capture("x"), capture("gate")])
  .where("is x [T, d] · gate [d, E]", (n) => dotIs(n.params, [], [], [1], [0]) && n.inputs[0]!.shape.length === 2);
// top_k of the logits (Mixtral), or of their softmax over the experts (DeepSeek, Qwen).
const router = op("top_k", [either(softmaxPattern(capture("logits", logitsDot), "router_probs"), capture("logits", logitsDot))]);
const topValues = capture("top_values", router.result(0));
// The k values divided by their sum (softmax-then-top-k, renormalised).
const renormalised = capture("renorm", op("div", [topValues, op("broadcast_in_dim", [
  op("reduce_sum", [same("top_values")]).where("sums the k axis", (n) => n.params.axes.join() === "1"),
])]));
const weights = either(softmaxPattern(topValues), renormalised, topValues);
const gates = op("reduce_sum", [op("mul", [
  // Times a capacity mask (checked by MoeFinder.capacityOf) or not.
  either(op("mul", [weights, capture("keep")]), weights),
  capture("hot", op("eq", [op("top_k").result(1).where("is the router's top_k", (n, c) => n.outputs[0] === c.values.get("top_values")), op("iota")])),
])]);
const perExpert = (n: Node<"dot_general">) => dotIs(n.params, [0], [0], [2], [1]) && n.inputs[1]!.shape.length === 3;
const secondLayer = capture("y", op("dot_general", [capture("hidden"), capture("w2")]).where("is a per-expert matmul [E, T, h] · [E, h, d]", perExpert));
const moePattern: Pattern = looseLayout(op("reduce_sum", [op("mul", [either(op("add", [secondLayer, capture("b2")]), secondLayer), gates])])
  .where("sums over the expert axis", (n) => n.params.axes.join() === "0"));

class Reject extends Error {}
const reject = (why: string): never => {
  throw new Reject(why);
};

const ELEMENTWISE: ReadonlySet<string> = new Set<string>([...UNARY_OPS, ...BINARY_OPS, ...COMPARE_OPS, "select", "cast"]);

interface MoeMatch {
  readonly root: Node;
  readonly operands: Value[];
  readonly k: number;
  readonly b1: boolean;
  readonly b2: boolean;
  readonly router: MoeRouter;
  readonly gated: boolean;
  readonly capacity: number;
  /** Router values (logits, probabilities, top_k) also read outside: kept there, recomputed inside. */
  readonly shared: number;
  /** The matched region, in graph order: what the node's body copies. */
  readonly region: Node[];
}

class MoeFinder {
  readonly producer = new Map<Value, Node>();
  readonly users = new Map<Value, Node[]>();
  readonly outputs: Set<Value>;
  constructor(readonly g: Graph) {
    for (const n of g.nodes) {
      for (const v of n.outputs) this.producer.set(v, n);
      for (const v of n.inputs) {
        const list = this.users.get(v);
        if (list) list.push(n);
        else this.users.set(v, [n]);
      }
    }
    this.outputs = new Set(g.outputs);
  }

  /** `v` as the operand of a broadcast_in_dim to `shape` along `dims`, or undefined. */
  broadcastSource(v: Value, shape: number[], dims: number[]): Value | undefined {
    const n = this.producer.get(v);
    if (n?.prim !== "broadcast_in_dim") return undefined;
    const p = n.params as PrimitiveParams["broadcast_in_dim"];
    const src = n.inputs[0]!;
    return p.shape.join() === shape.join() && p.dims.join() === dims.join() && src.shape.every((d, i) => d === shape[dims[i]!]) ? src : undefined;
  }

  /** True when `v` is computed from constants and iotas only. */
  constantLike(v: Value): boolean {
    const n = this.producer.get(v);
    if (!n) return false;
    if (n.prim === "constant" || n.prim === "iota") return true;
    return (ELEMENTWISE.has(n.prim) || n.prim === "broadcast_in_dim" || n.prim === "reshape") && n.inputs.every((u) => this.constantLike(u));
  }

  /**
   * Checks that `hidden` is an elementwise function of constants and the values in `pres`
   * (the first layer's outputs: the expert activation, gated or not); returns those it reads.
   */
  activationReads(hidden: Value, pres: readonly Value[]): Set<Value> {
    const seen = new Set<Value>(), reached = new Set<Value>();
    const walk = (v: Value) => {
      if (seen.has(v)) return;
      seen.add(v);
      if (pres.includes(v)) return void reached.add(v);
      const n = this.producer.get(v);
      if (!n || !ELEMENTWISE.has(n.prim)) {
        if (this.constantLike(v)) return;
        reject(`the expert activation reads ${n ? n.prim : "a graph input"} ${v.dtype}[${v.shape}], not only the first layer and constants`);
      }
      n!.inputs.forEach(walk);
    };
    walk(hidden);
    if (!reached.size) reject(`the second expert layer's input does not depend on the first layer`);
    return reached;
  }

  /**
   * The capacity of a mask `keep` [T, k] as nn.moe spells it, or a rejection: keep =
   * transpose(reshape(cast(lt(position, C)), [k, T])), position = reduce_sum(mul(sub(cumsum(q),
   * q), q), axis 1), q = reshape(transpose(cast(hot), [1, 0, 2]), [k·T, E]): each choice's
   * place in its expert's queue, first choices of every token before second ones.
   */
  capacityOf(keep: Value, hot: Value, T: number, k: number, E: number): number {
    const from = <P extends keyof PrimitiveParams>(v: Value, prim: P, what: string, test: (n: Node<P>) => boolean = () => true): Node<P> => {
      const n = this.producer.get(v);
      if (n?.prim !== prim || !test(n as Node<P>)) reject(`the gate weights are multiplied by a mask that is not a capacity mask: ${what} is ${n ? n.prim : "a graph input"}, expected ${prim}`);
      return n as Node<P>;
    };
    const same = (a: readonly number[], b: readonly number[]) => a.join() === b.join();
    if (!same(keep.shape, [T, k])) reject(`the gate weights are multiplied by f32[${keep.shape}], not a [${T}, ${k}] mask`);
    const back = from(keep, "transpose", "the mask", (n) => same(n.params.perm, [1, 0]));
    const fits = from(from(back.inputs[0]!, "reshape", "the mask's [k, T] rows", (n) => same(n.inputs[0]!.shape, [k * T])).inputs[0]!, "cast", "the mask");
    const lt = from(fits.inputs[0]!, "lt", "the mask's test");
    let limit = this.producer.get(lt.inputs[1]!);
    if (limit?.prim === "broadcast_in_dim") limit = this.producer.get(limit.inputs[0]!);
    const splat = limit?.prim === "constant" ? (limit as Node<"constant">).params.value : undefined;
    if (splat?.length !== 1 || !Number.isInteger(splat[0]) || splat[0]! < 1) return reject(`the capacity mask compares with ${limit?.prim ?? "a graph input"}, not a whole-number capacity`);
    const sum = from(lt.inputs[0]!, "reduce_sum", "a choice's place in its queue", (n) => same(n.params.axes, [1]));
    const mul = from(sum.inputs[0]!, "mul", "a choice's place in its queue");
    const sub = [mul.inputs[0]!, mul.inputs[1]!].map((v) => this.producer.get(v)).find((n) => n?.prim === "sub") ?? reject(`a choice's place in its queue is not (cumsum(q) − q) · q`);
    const q = mul.inputs.find((v) => v !== sub.outputs[0])!;
    const scan = from(sub.inputs[0]!, "cumsum", "the queue count", (n) => n.params.axis === 0 && !n.params.reverse && n.inputs[0] === q);
    if (sub.inputs[1] !== q || scan.inputs[0] !== q) reject(`a choice's place in its queue is not (cumsum(q) − q) · q`);
    const order = from(from(q, "reshape", "the queue", (n) => same(n.outputs[0]!.shape, [k * T, E])).inputs[0]!, "transpose", "the queue's order", (n) => same(n.params.perm, [1, 0, 2]));
    from(order.inputs[0]!, "cast", "the queue's choices", (n) => n.inputs[0] === hot);
    return splat[0]!;
  }

  /** The router's form from what the pattern captured (top_k of logits or of their softmax; the weights' form). */
  routerOf(has: (name: string) => boolean): MoeRouter {
    const probs = has("router_probs"), soft = has("softmax"), renorm = has("renorm");
    if (!probs && soft) return "topk_softmax";
    if (probs && renorm) return "softmax_topk_norm";
    if (probs && !soft) return "softmax_topk";
    if (probs) return reject(`the gate weights are a softmax of top-k softmax probabilities (a softmax taken twice)`);
    return reject(`the gate weights are the top-k logits themselves${renorm ? " divided by their sum" : ""}, with no softmax`);
  }

  match(root: Node): MoeMatch {
    const r = new Matcher(this.g).match(moePattern, root.outputs[0]!);
    if (!r.ok) reject(explainMiss(r.miss));
    const m = r.ok ? r.match : reject("unreachable");
    const get = (name: string) => m.values.get(name)!;
    const x = get("x"), gate = get("gate"), hidden = get("hidden"), w2 = get("w2");
    const [T, d] = x.shape as [number, number];
    const E = gate.shape[1]!, k = get("top_values").shape[1]!;
    const [, , h] = hidden.shape as [number, number, number];
    if (hidden.shape.join() !== [E, T, h].join() || w2.shape.join() !== [E, h, d].join())
      reject(`the experts' second layer is [${hidden.shape}] · [${w2.shape}], expected [${E}, ${T}, h] · [${E}, h, ${d}]`);
    let b2: Value | undefined;
    if (m.values.has("b2")) b2 = this.broadcastSource(get("b2"), [E, T, d], [0, 2]) ?? reject(`the second layer's bias is not a per-expert [${E}, ${d}] broadcast over tokens`);
    const router = this.routerOf((name) => m.values.has(name));
    const capacity = m.values.has("keep") ? this.capacityOf(get("keep"), get("hot"), T, k, E) : 0;
    // The first layer: dot_general(broadcast x, w) feeding the activation; two when gated.
    const firsts = this.g.nodes.filter((n) => n.prim === "dot_general" && perExpert(n as Node<"dot_general">) && this.broadcastSource(n.inputs[0]!, [E, T, d], [1, 2]) === x);
    if (!firsts.length) return reject(`no first expert layer dot_general(broadcast x [${E}, ${T}, ${d}], w1 [${E}, ${d}, ${h}])`);
    // Each first layer's value as the activation reads it: with its per-expert bias when it has one.
    const withBias = firsts.map((dot) => {
      const out = dot.outputs[0]!;
      const users = this.users.get(out) ?? [];
      const add = users.length === 1 && users[0]!.prim === "add" ? users[0]! : undefined;
      const bias = add && this.broadcastSource(add.inputs.find((u) => u !== out)!, [E, T, h], [0, 2]);
      return { dot, pre: bias ? add!.outputs[0]! : out, bias };
    });
    const reads = this.activationReads(hidden, withBias.map((f) => f.pre));
    const used = withBias.filter((f) => reads.has(f.pre));
    if (used.length > 2) reject(`the expert activation reads ${used.length} first-layer matmuls of x (at most two: w1 and a SwiGLU gate w3)`);
    // w1 is the one with a bias, else the first; a gated w3 has none (moe_ffn takes b1 only).
    const a = used.find((f) => f.bias) ?? used[0]!, b = used.find((f) => f !== a);
    if (b?.bias) reject(`both first-layer matmuls of a gated expert add a bias (moe_ffn takes b1 only)`);
    const b1 = a.bias;
    const w1 = a.dot.inputs[1]!, w3 = b?.dot.inputs[1];
    for (const [w, name] of [[w1, "w1"], [w3, "w3"]] as const)
      if (w && w.shape.join() !== [E, d, h].join()) reject(`${name} is [${w.shape}], expected [${E}, ${d}, ${h}]`);
    const operands = [x, gate, w1, ...(b1 ? [b1] : []), ...(w3 ? [w3] : []), w2, ...(b2 ? [b2] : [])];
    const weights = new Set([w1, w2, ...(b1 ? [b1] : []), ...(w3 ? [w3] : []), ...(b2 ? [b2] : [])]);
    const { region, shared } = this.region(root, operands, weights);
    return { root, operands, k, b1: !!b1, b2: !!b2, router, gated: !!w3, capacity, shared, region };
  }

  /**
   * Nodes between the operands and the root. A router value (one computed without the expert
   * weights: logits, probabilities, top_k) may also be read outside, as a load-balancing
   * loss reads the logits: the dense nodes stay for that reader and moe_ffn routes from its
   * own copy. Anything computed from the experts' weights must not be.
   */
  region(root: Node, operands: Value[], weights: ReadonlySet<Value>): { region: Node[]; shared: number } {
    const inside = new Set<Node>();
    const stop = new Set(operands);
    const walk = (v: Value) => {
      if (stop.has(v)) return;
      const n = this.producer.get(v) ?? reject(`the dense form reads ${v.dtype}[${v.shape}], a graph input that is not one of its operands`);
      if (inside.has(n)) return;
      inside.add(n);
      n.inputs.forEach(walk);
    };
    walk(root.outputs[0]!);
    const expertMemo = new Map<Value, boolean>();
    const fromExperts = (v: Value): boolean => {
      if (weights.has(v)) return true;
      if (stop.has(v)) return false;
      let r = expertMemo.get(v);
      if (r === undefined) {
        expertMemo.set(v, false);
        r = this.producer.get(v)!.inputs.some(fromExperts);
        expertMemo.set(v, r);
      }
      return r;
    };
    let shared = 0;
    for (const n of inside)
      for (const v of n.outputs) {
        if (n === root) continue;
        if (!this.outputs.has(v) && (this.users.get(v) ?? []).every((u) => inside.has(u))) continue;
        if (fromExperts(v)) reject(`${n.prim} ${v.dtype}[${v.shape}] inside the dense form is also used outside it (the routed form would not compute it)`);
        shared++;
      }
    return { region: this.g.nodes.filter((n) => inside.has(n)), shared };
  }
}

/** The body of a moe_ffn node: the matched region over fresh inputs, in the operands' order. */
function moeBody(m: MoeMatch): Graph {
  const b = new GraphBuilder("moe");
  const names = moeOperandNames(m);
  const env = new Map<Value, Value>(m.operands.map((v, i) => [v, b.input(v.type, names[i])]));
  for (const n of m.region) b.copy(n, n.inputs.map((v) => env.get(v)!)).forEach((v, i) => env.set(n.outputs[i]!, v));
  return b.build([env.get(m.root.outputs[0]!)!]);
}

/** Finds every dense MoE in `g`; `notes` receives one line per match and per rejected candidate. */
export function routeMoe(g: Graph, notes: string[] = []): Graph {
  if (!g.nodes.some((n) => n.prim === "top_k")) return g;
  g = stackExpertLoops(g, notes);
  const finder = new MoeFinder(g);
  const matches = new Map<Node, MoeMatch>();
  for (const n of g.nodes) {
    // Candidates worth a note: a sum over the leading (expert) axis of a product.
    if (n.prim !== "reduce_sum" || (n.params as PrimitiveParams["reduce_sum"]).axes.join() !== "0") continue;
    if (finder.producer.get(n.inputs[0]!)?.prim !== "mul" || n.inputs[0]!.shape.length !== 3) continue;
    try {
      const m = finder.match(n);
      matches.set(n, m);
      const [T, d] = m.operands[0]!.shape, [E, , h] = m.operands[2]!.shape;
      const extra = [m.router === "topk_softmax" ? "" : `router ${m.router}`, m.gated ? "gated (w3)" : "", m.capacity ? `capacity ${m.capacity}` : "", m.b1 ? "b1" : "", m.b2 ? "b2" : "",
        m.shared ? `${m.shared} router value(s) also read outside (kept there)` : ""].filter(Boolean);
      notes.push(`moe: moe_ffn over ${T} tokens × ${d}, ${E} experts of hidden ${h}, top-${m.k}${extra.map((x) => `, ${x}`).join("")}`);
    } catch (e) {
      if (!(e instanceof Reject)) throw e;
      notes.push(`moe: not rewritten (reduce_sum of f32[${n.inputs[0]!.shape}]): ${e.message}`);
    }
  }
  if (!matches.size) return g;
  return replaceRoots(g, matches, (b, m, get) => b.add("moe_ffn", m.operands.map(get), { body: moeBody(m), k: m.k, b1: m.b1, b2: m.b2, router: m.router, gated: m.gated, capacity: m.capacity })[0]!);
}

export const moePass: Pass = { name: "moe", run: (g, ctx) => routeMoe(g, ctx.notes) };
