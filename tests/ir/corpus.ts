/**
 * A corpus of small graphs that together apply every primitive in the registry,
 * plus the awkward corners of the text format: multi-output nodes, callees (nested,
 * shared, two with one name), special floating-point values, large constants,
 * rank-0 and empty values, input names the printer must rename.
 */
import type { AbstractValue, DType } from "../../ir/dtype.js";
import { type Graph, GraphBuilder, type Value } from "../../ir/graph.js";
import { BINARY_OPS, COMPARE_OPS, REDUCE_OPS, UNARY_OPS } from "../../ir/primitives.js";
import { addFlashAttention } from "../../passes/attention-body.js";
import { addMoeFfn } from "../../passes/moe-body.js";

export const ty = (dtype: DType, ...shape: number[]): AbstractValue => ({ dtype, shape });

/** Build a graph from input types and a body that returns its outputs. */
export function graph(name: string, inputs: AbstractValue[], body: (b: GraphBuilder, xs: Value[]) => Value[]): Graph {
  const b = new GraphBuilder(name);
  const xs = inputs.map((t, i) => b.input(t, `x${i}`));
  return b.build(body(b, xs));
}

/** One output of a single-output node. */
const one = (vs: Value[]) => vs[0]!;

/** Values a text format can get wrong: NaN, ±inf, -0, denormals, extremes, short decimals. */
export const SPECIAL_NUMBERS = [
  NaN, Infinity, -Infinity, -0, 0, 5e-324, 1.401298464324817e-45, 1.1754942106924411e-38,
  3.4028234663852886e38, 1.7976931348623157e308, 1e-7, -1.5e300, 0.1, 1e21, 123456789.125, -2.5,
];

function leaf(): Graph {
  return graph("leaf", [ty("f32", 3)], (b, [x]) => [one(b.add("exp", [x!], {}))]);
}

function callees(): Graph {
  const inner = leaf();
  const mid = graph("mid", [ty("f32", 3)], (b, [x]) => {
    const y = one(b.add("jit", [x!], { callee: inner }));
    return [one(b.add("add", [y, x!], {}))];
  });
  // Two different graphs named "body", and `inner` reachable twice: it prints once.
  const body1 = graph("body", [ty("f32", 3)], (b, [x]) => [one(b.add("neg", [x!], {}))]);
  const body2 = graph("body", [ty("f32", 3)], (b, [x]) => [
    one(b.add("reduce_sum", [x!], { axes: [0] })),
    one(b.add("jit", [x!], { callee: inner })),
  ]);
  return graph("main", [ty("f32", 3)], (b, [x]) => {
    const a = one(b.add("jit", [x!], { callee: mid }));
    const c = one(b.add("jit", [a], { callee: body1 }));
    const [s, e] = b.add("jit", [c], { callee: body2 });
    return [s!, e!];
  });
}

export function irCorpus(): { name: string; graph: Graph }[] {
  const out: { name: string; graph: Graph }[] = [];
  const add = (name: string, g: Graph) => out.push({ name, graph: g });

  add("unary f32", graph("unary", [ty("f32", 2, 3)], (b, [x]) =>
    UNARY_OPS.filter((op) => op !== "not").map((op) => one(b.add(op, [x!], {})))));
  add("unary not", graph("not", [ty("bool", 4)], (b, [x]) => [one(b.add("not", [x!], {}))]));
  add("binary f32", graph("binary", [ty("f32", 2, 3), ty("f32", 2, 3)], (b, [x, y]) =>
    BINARY_OPS.filter((op) => op !== "and" && op !== "or").map((op) => one(b.add(op, [x!, y!], {})))));
  add("binary bool", graph("logic", [ty("bool", 5), ty("bool", 5)], (b, [x, y]) =>
    [one(b.add("and", [x!, y!], {})), one(b.add("or", [x!, y!], {}))]));
  add("compare", graph("compare", [ty("i32", 4), ty("i32", 4)], (b, [x, y]) =>
    COMPARE_OPS.map((op) => one(b.add(op, [x!, y!], {})))));
  add("select and cast", graph("select", [ty("f32", 2, 2), ty("f32", 2, 2)], (b, [x, y]) => {
    const p = one(b.add("lt", [x!, y!], {}));
    const s = one(b.add("select", [p, x!, y!], {}));
    const i = one(b.add("cast", [s], { dtype: "i32" }));
    const u = one(b.add("cast", [i], { dtype: "u32" }));
    return [one(b.add("cast", [p], { dtype: "f32" })), one(b.add("cast", [u], { dtype: "bool" }))];
  }));
  add("iota", graph("iota", [], (b) => [
    one(b.add("iota", [], { shape: [4, 3], dim: 1, dtype: "i32" })),
    one(b.add("iota", [], { shape: [7], dim: 0, dtype: "u32" })),
    one(b.add("iota", [], { shape: [2, 5], dim: 0, dtype: "f32" })),
  ]));
  add("constants", graph("consts", [], (b) => [
    one(b.add("constant", [], { value: [0], shape: [2, 3], dtype: "f32" })),
    one(b.add("constant", [], { value: [1, 2, 3, 4, 5, 6], shape: [2, 3], dtype: "f32" })),
    one(b.add("constant", [], { value: SPECIAL_NUMBERS, shape: [SPECIAL_NUMBERS.length], dtype: "f32" })),
    one(b.add("constant", [], { value: [-7, 0, 2147483647, -2147483648], shape: [4], dtype: "i32" })),
    one(b.add("constant", [], { value: [0, 1, 1], shape: [3], dtype: "bool" })),
    one(b.add("constant", [], { value: [4294967295], shape: [], dtype: "u32" })),
    one(b.add("constant", [], { value: [], shape: [0, 3], dtype: "f32" })),
  ]));
  // Deterministic pseudo-random data, so the printed module is the same on every run.
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5) * 1e3;
  const big = Array.from({ length: 64 * 64 }, () => Math.fround(rnd()));
  add("large constant", graph("big", [ty("f32", 64, 64)], (b, [x]) => {
    const c = one(b.add("constant", [], { value: big, shape: [64, 64], dtype: "f32" }));
    return [one(b.add("mul", [x!, c], {}))];
  }));
  add("rank 0", graph("scalar", [ty("f32"), ty("f32", 3)], (b, [s, v]) => {
    const t = one(b.add("tanh", [s!], {}));
    const bc = one(b.add("broadcast_in_dim", [t], { shape: [3], dims: [] }));
    const sum = one(b.add("reduce_sum", [v!], { axes: [0] }));
    const r = one(b.add("reshape", [one(b.add("reshape", [sum], { shape: [1] }))], { shape: [] }));
    return [one(b.add("add", [bc, v!], {})), one(b.add("max", [r, s!], {}))];
  }));
  add("shape ops", graph("shapes", [ty("f32", 2, 3), ty("f32", 1, 3), ty("f32", 2, 3, 4)], (b, [x, y, z]) => [
    one(b.add("broadcast_in_dim", [y!], { shape: [4, 2, 3], dims: [1, 2] })),
    one(b.add("broadcast_in_dim", [x!], { shape: [2, 5, 3], dims: [0, 2] })),
    one(b.add("reshape", [x!], { shape: [3, 2] })),
    one(b.add("transpose", [x!], { perm: [1, 0] })),
    one(b.add("transpose", [z!], { perm: [2, 0, 1] })),
    one(b.add("slice", [z!], { start: [0, 1, 0], limit: [2, 3, 4], strides: [1, 1, 3] })),
    one(b.add("pad", [x!], { low: [1, 0], high: [0, 2], value: -Infinity })),
    one(b.add("pad", [x!], { low: [0, 0], high: [1, 1], value: NaN })),
    one(b.add("pad", [y!], { low: [2, 1], high: [0, 0], value: -0 })),
    one(b.add("concatenate", [x!, y!, x!], { axis: 0 })),
    one(b.add("concatenate", [x!], { axis: 1 })),
  ]));
  add("reductions and scans", graph("reduce", [ty("f32", 2, 3, 4), ty("i32", 5)], (b, [x, i]) => [
    ...REDUCE_OPS.map((op) => one(b.add(op, [x!], { axes: [1] }))),
    one(b.add("reduce_max", [x!], { axes: [] })),
    one(b.add("reduce_sum", [x!], { axes: [0, 1, 2] })),
    one(b.add("reduce_min", [i!], { axes: [0] })),
    one(b.add("argmax", [x!], { axis: 2 })),
    one(b.add("cumsum", [x!], { axis: 1, reverse: false })),
    one(b.add("cumsum", [i!], { axis: 0, reverse: true })),
  ]));
  add("top_k", graph("topk", [ty("f32", 4, 8), ty("i32", 6)], (b, [x, y]) => {
    const [vals, idx] = b.add("top_k", [x!], { k: 2 });
    const [v1, i1] = b.add("top_k", [y!], { k: 6 });
    return [vals!, one(b.add("cast", [idx!], { dtype: "f32" })), v1!, i1!];
  }));
  add("dot_general", graph("dots", [ty("f32", 2, 3), ty("f32", 3, 4), ty("f32", 5, 2, 3), ty("f32", 5, 4, 3)], (b, [x, w, bx, by]) => [
    one(b.add("dot_general", [x!, w!], { lhs_contract: [1], rhs_contract: [0], lhs_batch: [], rhs_batch: [] })),
    one(b.add("dot_general", [bx!, by!], { lhs_contract: [2], rhs_contract: [2], lhs_batch: [0], rhs_batch: [0] })),
    one(b.add("dot_general", [x!, x!], { lhs_contract: [], rhs_contract: [], lhs_batch: [], rhs_batch: [] })),
  ]));
  add("gather and scatter_add", graph("index", [ty("f32", 10, 4), ty("i32", 3, 2), ty("u32", 3), ty("f32", 3, 4)], (b, [t, i, j, u]) => [
    one(b.add("gather", [t!, i!], { axis: 0 })),
    one(b.add("gather", [t!, j!], { axis: 1 })),
    one(b.add("scatter_add", [t!, j!, u!], { axis: 0 })),
  ]));
  add("jit callees", callees());
  const none = graph("sink", [ty("f32", 2)], () => []);
  add("no results", graph("caller", [ty("f32", 2)], (b, [x]) => {
    b.add("jit", [x!], { callee: none });
    return [];
  }));
  const fused = graph("fused", [ty("f32", 4), ty("f32", 4)], (b, [x, y]) => [
    one(b.add("exp", [one(b.add("mul", [x!, y!], {}))], {})),
  ]);
  add("fusion with string attributes", graph("fusion", [ty("f32", 4), ty("f32", 4)], (b, [x, y]) => {
    const e = one(b.add("fusion", [x!, y!], { body: fused, kind: "elementwise", reason: "" }));
    // Quotes, backslashes, control characters, non-ASCII and a lone surrogate all need escaping or care.
    const reason = 'ended: "exp" feeds\ta \\ reduction\n→ split \u0001 \ud800';
    return [one(b.add("fusion", [e, y!], { body: fused, kind: "elementwise", reason }))];
  }));
  add("mlp", graph("mlp", [ty("f32", 8, 16), ty("f32", 16, 32), ty("f32", 32)], (b, [x, w, bias]) => {
    const h = one(b.add("dot_general", [x!, w!], { lhs_contract: [1], rhs_contract: [0], lhs_batch: [], rhs_batch: [] }));
    const bb = one(b.add("broadcast_in_dim", [bias!], { shape: [8, 32], dims: [1] }));
    return [one(b.add("logistic", [one(b.add("add", [h, bb], {}))], {}))];
  }));
  add("flash attention: grouped-query, causal, bias and mask", graph("attention",
    [ty("f32", 4, 5, 8), ty("f32", 2, 7, 8), ty("f32", 2, 7, 6), ty("f32", 1, 5, 7), ty("bool", 4, 1, 7)], (b, [q, k, v, bias, mask]) =>
      addFlashAttention(b, [q!, k!, v!, bias!, mask!], { scale: 0.125, causal: true, bias: true, mask: true })));
  add("flash attention's tangent and backward nodes (stand-in bodies)", graph("attention_grad",
    [ty("f32", 2, 5, 8), ty("f32", 1, 7, 8), ty("f32", 1, 7, 6), ty("f32", 2, 5, 6), ty("f32", 2, 5)], (b, [q, k, v, ct, ctLse]) => {
      const flags = { scale: 0.25, causal: false, bias: false, mask: false };
      const [out, lse] = addFlashAttention(b, [q!, k!, v!], flags);
      const types = [q!, k!, v!, out, lse].map((x) => x.type);
      const jvpBody = graph("attention_jvp", [...types, ...types.slice(0, 3)], (_b, xs) => [xs[3]!, xs[4]!]);
      const bwdBody = graph("attention_bwd", [...types, ...types.slice(3)], (_b, xs) => xs.slice(0, 3));
      const tangents = b.add("flash_attention_jvp", [q!, k!, v!, out, lse, q!, k!, v!], { body: jvpBody, ...flags });
      return [...tangents, ...b.add("flash_attention_bwd", [q!, k!, v!, out, lse, ct!, ctLse!], { body: bwdBody, ...flags })];
    }));
  add("routed mixture of experts: top-2 of 4, biases", graph("moe",
    [ty("f32", 5, 8), ty("f32", 8, 4), ty("f32", 4, 8, 6), ty("f32", 4, 6), ty("f32", 4, 6, 8), ty("f32", 4, 8)], (b, xs) =>
      [addMoeFfn(b, xs, { k: 2, b1: true, b2: true, router: "topk_softmax", gated: false, capacity: 0 })]));
  add("the mixture of experts' tangent and backward nodes (stand-in bodies)", graph("moe_grad",
    [ty("f32", 5, 8), ty("f32", 8, 4), ty("f32", 4, 8, 6), ty("f32", 4, 6, 8)], (b, xs) => {
      const flags = { k: 2, b1: false, b2: false, router: "softmax_topk", gated: false, capacity: 3 } as const;
      const types = xs.map((x) => x.type);
      const jvpBody = graph("moe_jvp", [...types, ...types], (_b, ys) => [ys[4]!]);
      const bwdBody = graph("moe_bwd", [...types, types[0]!], (_b, ys) => ys.slice(0, 4));
      const tangent = b.add("moe_ffn_jvp", [...xs, ...xs], { body: jvpBody, ...flags });
      return [...tangent, ...b.add("moe_ffn_bwd", [...xs, tangent[0]!], { body: bwdBody, ...flags })];
    }));
  const hinted = new GraphBuilder("not-an-identifier");
  const hs = [hinted.input(ty("f32", 2), "arg1"), hinted.input(ty("f32", 2), "9lives"), hinted.input(ty("f32", 2), "x"), hinted.input(ty("f32", 2), "x")];
  add("input names the printer must rename", hinted.build([one(hinted.add("add", [hs[1]!, hs[3]!], {})), hs[0]!]));
  return out;
}

/** Every primitive applied anywhere in `g` or its callees. */
export function primitivesUsed(g: Graph, into = new Set<string>()): Set<string> {
  for (const n of g.nodes) into.add(n.prim);
  for (const c of g.callees()) primitivesUsed(c, into);
  return into;
}
