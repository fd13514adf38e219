/**
 * The decomposition a `flash_attention` node names as its body (the composite-node
 * convention, DESIGN.md "IR"): softmax(scale · q·kᵀ [+ bias] [masked]) · v over the
 * node's canonical operands, and the log-sum-exp of each score row. The interpreter and
 * every transformation evaluate a flash_attention node through it, so it is the node's
 * specification in tests.
 */
import type { AbstractValue } from "../ir/dtype.js";
import { type Graph, GraphBuilder, type Value } from "../ir/graph.js";
import type { PrimitiveParams } from "../ir/primitives.js";

export type FlashParams = Omit<PrimitiveParams["flash_attention"], "body">;

/**
 * The body graph for operands of these types: q [G, Sq, D], k [Gk, Sk, D], v [Gk, Sk, Dv],
 * then bias (f32) and mask (bool), each [G | 1, Sq | 1, Sk | 1], when their flags are set.
 */
export function flashAttentionBody(types: readonly AbstractValue[], params: FlashParams, name = "attention"): Graph {
  const b = new GraphBuilder(name);
  const [q, k, v, ...extra] = types.map((t, i) => b.input(t, ["q", "k", "v"][i] ?? (params.bias && i === 3 ? "bias" : "mask")));
  const one = (vs: Value[]) => vs[0]!;
  const [g, sq] = q!.shape as [number, number, number];
  const sk = k!.shape[1]!;
  const splat = (value: number, shape: number[], dtype: "f32" | "i32" = "f32") => one(b.add("constant", [], { value: [value], shape, dtype }));
  const bcast = (x: Value, shape: number[], dims: number[]) =>
    x.shape.length === shape.length && x.shape.every((d, i) => d === shape[i]) ? x : one(b.add("broadcast_in_dim", [x], { shape, dims }));
  /** k or v [Gk, S, E] repeated to [G, S, E], group g reading ⌊g / rep⌋. */
  const perQueryGroup = (x: Value) => {
    const [gk, s, e] = x.shape as [number, number, number];
    if (gk === g) return x;
    const rep = gk === 0 ? 0 : g / gk;
    return one(b.add("reshape", [one(b.add("broadcast_in_dim", [x], { shape: [gk, rep, s, e], dims: [0, 2, 3] }))], { shape: [g, s, e] }));
  };
  const scores = [g, sq, sk];
  let s = one(b.add("dot_general", [q!, perQueryGroup(k!)], { lhs_contract: [2], rhs_contract: [2], lhs_batch: [0], rhs_batch: [0] }));
  s = one(b.add("mul", [s, splat(params.scale, scores)], {}));
  let rest = extra;
  if (params.bias) {
    s = one(b.add("add", [s, bcast(rest[0]!, scores, [0, 1, 2])], {}));
    rest = rest.slice(1);
  }
  let keep: Value | undefined;
  if (params.mask) keep = bcast(rest[0]!, scores, [0, 1, 2]);
  if (params.causal) {
    const iota = (dim: number) => one(b.add("iota", [], { shape: [sq, sk], dim, dtype: "i32" }));
    const tri = one(b.add("broadcast_in_dim", [one(b.add("ge", [iota(0), iota(1)], {}))], { shape: scores, dims: [1, 2] }));
    keep = keep ? one(b.add("and", [keep, tri], {})) : tri;
  }
  if (keep) s = one(b.add("select", [keep, s, splat(-Infinity, scores)], {}));
  const m = one(b.add("reduce_max", [s], { axes: [2] }));
  const e = one(b.add("exp", [one(b.add("sub", [s, bcast(m, scores, [0, 1])], {}))], {}));
  const l = one(b.add("reduce_sum", [e], { axes: [2] }));
  const p = one(b.add("div", [e, bcast(l, scores, [0, 1])], {}));
  const out = one(b.add("dot_general", [p, perQueryGroup(v!)], { lhs_contract: [2], rhs_contract: [1], lhs_batch: [0], rhs_batch: [0] }));
  const lse = one(b.add("add", [one(b.add("log", [l], {})), m], {}));
  return b.build([out, lse]);
}

/** Adds a flash_attention node with its body to `b`; returns [out, lse]. */
export function addFlashAttention(b: GraphBuilder, operands: readonly Value[], params: FlashParams): [Value, Value] {
  const body = flashAttentionBody(operands.map((x) => x.type), params);
  const [out, lse] = b.add("flash_attention", operands, { body, ...params });
  return [out!, lse!];
}
