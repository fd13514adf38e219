/**
 * moe_ffn graphs and routings for the routed-kernel suites. A routing is steered through
 * the router: x's feature 0 is 1 and gate row 0 holds a per-expert bias, so a large bias on
 * a few experts sends every token there (the others get none), a small one skews the load;
 * experts given identical gate columns tie in every logit (top_k picks the lower index).
 */
import type { HostArray } from "../../ir/dtype.js";
import { type Graph, GraphBuilder } from "../../ir/graph.js";
import type { MoeRouter } from "../../ir/primitives.js";
import { addMoeFfn } from "../../passes/moe-body.js";
import { zerosLike } from "../../frontend/lax.js";
import { evalGraphWithBind, stageGraph } from "../../frontend/staging.js";
import { vjpFlat } from "../../frontend/vjp.js";

export interface MoeCase {
  readonly T: number; readonly d: number; readonly E: number; readonly h: number; readonly k: number;
  readonly b1?: boolean; readonly b2?: boolean;
  readonly activation?: "relu" | "silu";
  readonly router?: MoeRouter;
  readonly gated?: boolean;
  /** Choices each expert takes (0 or absent: dropless). */
  readonly capacity?: number;
  /** Added to expert e's logit for every token. */
  readonly bias?: readonly number[];
  /** Pairs of experts whose gate columns are made equal (ties in every logit). */
  readonly ties?: readonly (readonly [number, number])[];
}

export function moeGraph(c: MoeCase): Graph {
  const b = new GraphBuilder("moe_layer");
  const f = (...shape: number[]) => ({ dtype: "f32" as const, shape });
  const xs = [
    b.input(f(c.T, c.d), "x"), b.input(f(c.d, c.E), "gate"), b.input(f(c.E, c.d, c.h), "w1"),
    ...(c.b1 ? [b.input(f(c.E, c.h), "b1")] : []), ...(c.gated ? [b.input(f(c.E, c.d, c.h), "w3")] : []), b.input(f(c.E, c.h, c.d), "w2"), ...(c.b2 ? [b.input(f(c.E, c.d), "b2")] : []),
  ];
  return b.build([addMoeFfn(b, xs, { k: c.k, b1: !!c.b1, b2: !!c.b2, router: c.router ?? "topk_softmax", gated: !!c.gated, capacity: c.capacity ?? 0 }, c.activation)]);
}

function uniform(n: number, seed: number, lo: number, hi: number): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + ((s >>> 8) / 2 ** 24) * (hi - lo);
  });
}

export function moeInputs(g: Graph, c: MoeCase, seed: number): HostArray[] {
  const arrays = g.inputs.map((v, i) => ({ dtype: "f32" as const, shape: v.shape, data: uniform(v.shape.reduce((a, b) => a * b, 1), seed * 31 + i, -1, 1) }));
  const [x, gate] = [arrays[0]!.data, arrays[1]!.data];
  for (let t = 0; t < c.T; t++) x[t * c.d] = 1;
  for (let e = 0; e < c.E; e++) gate[e] = c.bias?.[e] ?? 0;
  for (const [a, b2] of c.ties ?? []) for (let r = 0; r < c.d; r++) gate[r * c.E + b2] = gate[r * c.E + a]!;
  return arrays;
}

/**
 * The backward of moeGraph(c): operands then the output's cotangent, to a cotangent per
 * operand, staged through vjp so it holds the moe_ffn_bwd node moe_ffn's rules make
 * (frontend/moe-rules.ts) and nothing else of note.
 */
export function moeBwdGraph(c: MoeCase): Graph {
  const fwd = moeGraph(c);
  const types = fwd.inputs.map((v) => v.type);
  const n = types.length;
  return stageGraph("moe_layer_bwd", [...types, fwd.outputs[0]!.type], (args) => {
    const [, pullback] = vjpFlat((xs) => evalGraphWithBind(fwd, xs), args.slice(0, n));
    return pullback([args[n]!]).map((g, i) => g ?? zerosLike(args[i]!));
  }).graph;
}
