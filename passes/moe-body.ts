/**
 * A dense mixture-of-experts body built from types, the decomposition a `moe_ffn` node
 * names (what nn.moe emits: every expert on every token, the gates zero outside each
 * token's top k). The moe pass copies the region it matched instead; this builder makes
 * nodes for tests and the IR corpus, with a ReLU or SiLU expert activation.
 */
import type { AbstractValue } from "../ir/dtype.js";
import { type Graph, GraphBuilder, type Value } from "../ir/graph.js";
import { type PrimitiveParams, moeOperandNames } from "../ir/primitives.js";

export type MoeParams = Omit<PrimitiveParams["moe_ffn"], "body">;

/** The body for operands x [T, d], gate [d, E], w1 [E, d, h], (b1 [E, h]), (w3 [E, d, h]), w2 [E, h, d], (b2 [E, d]). */
export function moeFfnBody(types: readonly AbstractValue[], params: MoeParams, activation: "relu" | "silu" = "relu", name = "moe"): Graph {
  const b = new GraphBuilder(name);
  const names = moeOperandNames(params);
  const xs = types.map((t, i) => b.input(t, names[i]));
  const at = (n: string) => xs[names.indexOf(n)]!;
  const one = (vs: Value[]) => vs[0]!;
  const [T, d] = at("x").shape as [number, number];
  const [E, , h] = at("w1").shape as [number, number, number];
  const k = params.k;
  const bcast = (x: Value, shape: number[], dims: number[]) => one(b.add("broadcast_in_dim", [x], { shape, dims }));
  const splat = (value: number, shape: number[]) => bcast(one(b.add("constant", [], { value: [value], shape: [], dtype: "f32" })), shape, []);
  const perExpert = { lhs_batch: [0], rhs_batch: [0], lhs_contract: [2], rhs_contract: [1] };

  const logits = one(b.add("dot_general", [at("x"), at("gate")], { lhs_contract: [1], rhs_contract: [0], lhs_batch: [], rhs_batch: [] }));
  const softmax = (v: Value, n: number) => {
    const m = one(b.add("reduce_max", [v], { axes: [1] }));
    const ex = one(b.add("exp", [one(b.add("sub", [v, bcast(m, [T, n], [0])], {}))], {}));
    return one(b.add("div", [ex, bcast(one(b.add("reduce_sum", [ex], { axes: [1] })), [T, n], [0])], {}));
  };
  const topOf = params.router === "topk_softmax" ? logits : softmax(logits, E);
  const [vals, idx] = b.add("top_k", [topOf], { k }) as [Value, Value];
  const w = params.router === "topk_softmax" ? softmax(vals, k)
    : params.router === "softmax_topk" ? vals
    : one(b.add("div", [vals, bcast(one(b.add("reduce_sum", [vals], { axes: [1] })), [T, k], [0])], {}));
  const hot = one(b.add("eq", [bcast(idx, [T, k, E], [0, 1]), one(b.add("iota", [], { shape: [T, k, E], dim: 2, dtype: "i32" }))], {}));
  const hotF = one(b.add("cast", [hot], { dtype: "f32" }));
  let kept = w;
  if (params.capacity > 0) {
    // nn.moe's capacity mask: each choice's place in its expert's queue, (choice, token) order.
    const queue = one(b.add("reshape", [one(b.add("transpose", [hotF], { perm: [1, 0, 2] }))], { shape: [k * T, E] }));
    const before = one(b.add("sub", [one(b.add("cumsum", [queue], { axis: 0, reverse: false })), queue], {}));
    const position = one(b.add("reduce_sum", [one(b.add("mul", [before, queue], {}))], { axes: [1] }));
    const fits = one(b.add("cast", [one(b.add("lt", [position, splat(params.capacity, [k * T])], {}))], { dtype: "f32" }));
    const keep = one(b.add("transpose", [one(b.add("reshape", [fits], { shape: [k, T] }))], { perm: [1, 0] }));
    kept = one(b.add("mul", [w, keep], {}));
  }
  const gates = one(b.add("reduce_sum", [one(b.add("mul", [hotF, bcast(kept, [T, k, E], [0, 1])], {}))], { axes: [1] }));

  let hid = one(b.add("dot_general", [bcast(at("x"), [E, T, d], [1, 2]), at("w1")], perExpert));
  if (params.b1) hid = one(b.add("add", [hid, bcast(at("b1"), [E, T, h], [0, 2])], {}));
  hid = activation === "relu"
    ? one(b.add("max", [hid, splat(0, [E, T, h])], {}))
    : one(b.add("mul", [hid, one(b.add("logistic", [hid], {}))], {}));
  if (params.gated) hid = one(b.add("mul", [hid, one(b.add("dot_general", [bcast(at("x"), [E, T, d], [1, 2]), at("w3")], perExpert))], {}));
  let y = one(b.add("dot_general", [hid, at("w2")], perExpert));
  if (params.b2) y = one(b.add("add", [y, bcast(at("b2"), [E, T, d], [0, 2])], {}));
  const gated = one(b.add("mul", [y, bcast(one(b.add("transpose", [gates], { perm: [1, 0] })), [E, T, d], [0, 1])], {}));
  return b.build([one(b.add("reduce_sum", [gated], { axes: [0] }))]);
}

/** Adds a moe_ffn node with a dense body to `b`; returns its result [T, d]. */
export function addMoeFfn(b: GraphBuilder, operands: readonly Value[], params: MoeParams, activation: "relu" | "silu" = "relu"): Value {
  const body = moeFfnBody(operands.map((x) => x.type), params, activation);
  return b.add("moe_ffn", operands, { body, ...params })[0]!;
}
