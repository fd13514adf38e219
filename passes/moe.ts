/**
 * The moe pass: finds a top-k mixture-of-experts FFN written densely (every expert on every
 * token, weighted by gates that are zero outside each token's top k: the form nn.moe emits,
 * or the same by hand) and replaces it with one `moe_ffn` node whose body is the matched
 * dense region, copied as it was. Codegen routes the node (codegen/moe.ts): each token
 * reaches only its k experts, so the work is k/E of the dense form's.
 *
 * The match: reduce_sum over experts of (dot_general(act(...), w2) [+ b2]) times the gates,
 * the gates being the softmax of top_k(x·gate)'s values spread by a one-hot of its indices;
 * the first expert layer is dot_general(broadcast x, w1) [+ b1] and `act` any elementwise
 * chain of it and constants (gelu, silu, relu). Near-misses are explained in the notes.
 */
import { type Graph, GraphBuilder, type Node, type Value } from "../ir/graph.js";
import { BINARY_OPS, COMPARE_OPS, type PrimitiveParams, UNARY_OPS } from "../ir/primitives.js";
import { Matcher, type Pattern, capture, either, explainMiss, looseLayout, op } from "./match.js";
import { softmaxPattern } from "./patterns.js";
import type { Pass } from "./pipeline.js";
import { replaceRoots } from "./replace.js";

type Dot = PrimitiveParams["dot_general"];
const dotIs = (p: Dot, lb: number[], rb: number[], lc: number[], rc: number[]) =>
  [p.lhs_batch, p.rhs_batch, p.lhs_contract, p.rhs_contract].every((a, i) => a.join() === [lb, rb, lc, rc][i]!.join());

const router = op("top_k", [capture("logits", op("dot_general", [capture("x"), capture("gate")])
  .where("is x [T, d] · gate [d, E]", (n) => dotIs(n.params, [], [], [1], [0]) && n.inputs[0]!.shape.length === 2))]);
const gates = op("reduce_sum", [op("mul", [
  softmaxPattern(capture("top_values", router.result(0))),
  op("eq", [op("top_k").result(1).where("is the router's top_k", (n, c) => n.outputs[0] === c.values.get("top_values")), op("iota")]),
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

  /** Checks that `hidden` is an elementwise function of `pre` and constants (the expert activation). */
  checkActivation(hidden: Value, pre: Value): void {
    const seen = new Set<Value>();
    let reached = false;
    const walk = (v: Value) => {
      if (seen.has(v)) return;
      seen.add(v);
      if (v === pre) return void (reached = true);
      const n = this.producer.get(v);
      if (!n || !ELEMENTWISE.has(n.prim)) {
        if (this.constantLike(v)) return;
        reject(`the expert activation reads ${n ? n.prim : "a graph input"} ${v.dtype}[${v.shape}], not only the first layer and constants`);
      }
      n!.inputs.forEach(walk);
    };
    walk(hidden);
    if (!reached) reject(`the second expert layer's input does not depend on the first layer`);
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
    // The first layer: walk from the activation up to dot_general(broadcast x, w1).
    const dot1 = this.g.nodes.find((n) => n.prim === "dot_general" && perExpert(n as Node<"dot_general">) && this.broadcastSource(n.inputs[0]!, [E, T, d], [1, 2]) === x);
    if (!dot1) return reject(`no first expert layer dot_general(broadcast x [${E}, ${T}, ${d}], w1 [${E}, ${d}, ${h}])`);
    const w1 = dot1.inputs[1]!;
    if (w1.shape.join() !== [E, d, h].join()) reject(`w1 is [${w1.shape}], expected [${E}, ${d}, ${h}]`);
    let pre = dot1.outputs[0]!, b1: Value | undefined;
    const users = this.users.get(pre) ?? [];
    const addBias = users.length === 1 && users[0]!.prim === "add" ? users[0]! : undefined;
    if (addBias) {
      const other = addBias.inputs.find((u) => u !== pre)!;
      b1 = this.broadcastSource(other, [E, T, h], [0, 2]);
      if (b1) pre = addBias.outputs[0]!;
    }
    this.checkActivation(hidden, pre);
    const operands = [x, gate, w1, ...(b1 ? [b1] : []), w2, ...(b2 ? [b2] : [])];
    return { root, operands, k, b1: !!b1, b2: !!b2, region: this.region(root, operands) };
  }

  /** Nodes between the operands and the root; none of their results may be read outside. */
  region(root: Node, operands: Value[]): Node[] {
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
    for (const n of inside)
      for (const v of n.outputs) {
        if (n === root) continue;
        if (this.outputs.has(v) || (this.users.get(v) ?? []).some((u) => !inside.has(u)))
          reject(`${n.prim} ${v.dtype}[${v.shape}] inside the dense form is also used outside it (the routed form would not compute it)`);
      }
    return this.g.nodes.filter((n) => inside.has(n));
  }
}

/** The body of a moe_ffn node: the matched region over fresh inputs, in the operands' order. */
function moeBody(m: MoeMatch): Graph {
  const b = new GraphBuilder("moe");
  const names = ["x", "gate", "w1", ...(m.b1 ? ["b1"] : []), "w2", ...(m.b2 ? ["b2"] : [])];
  const env = new Map<Value, Value>(m.operands.map((v, i) => [v, b.input(v.type, names[i])]));
  for (const n of m.region) b.copy(n, n.inputs.map((v) => env.get(v)!)).forEach((v, i) => env.set(n.outputs[i]!, v));
  return b.build([env.get(m.root.outputs[0]!)!]);
}

/** Finds every dense MoE in `g`; `notes` receives one line per match and per rejected candidate. */
export function routeMoe(g: Graph, notes: string[] = []): Graph {
  if (!g.nodes.some((n) => n.prim === "top_k")) return g;
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
      notes.push(`moe: moe_ffn over ${T} tokens × ${d}, ${E} experts of hidden ${h}, top-${m.k}${m.b1 ? ", b1" : ""}${m.b2 ? ", b2" : ""}`);
    } catch (e) {
      if (!(e instanceof Reject)) throw e;
      notes.push(`moe: not rewritten (reduce_sum of f32[${n.inputs[0]!.shape}]): ${e.message}`);
    }
  }
  if (!matches.size) return g;
  return replaceRoots(g, matches, (b, m, get) => b.add("moe_ffn", m.operands.map(get), { body: moeBody(m), k: m.k, b1: m.b1, b2: m.b2 })[0]!);
}

export const moePass: Pass = { name: "moe", run: (g, ctx) => routeMoe(g, ctx.notes) };
