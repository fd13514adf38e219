import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Tensor } from "../../frontend/core.js";
import * as lax from "../../frontend/lax.js";
import * as nn from "../../frontend/nn.js";
import * as np from "../../frontend/np.js";
import { stageGraph } from "../../frontend/staging.js";
import type { AbstractValue } from "../../ir/dtype.js";
import type { Graph, Node, Value } from "../../ir/graph.js";
import {
  LAYOUT_PRIMS, Matcher, type Pattern, any, capture, either, explainMiss, looseLayout, oneUse, op, same, splat, through,
} from "../../passes/match.js";
import { softmaxPattern } from "../../passes/patterns.js";
import { Tb, softmax as softmaxGraph } from "./graphs.js";

const f32 = (...shape: number[]): AbstractValue => ({ dtype: "f32", shape });
const trace = (avals: AbstractValue[], fn: (xs: Tensor[]) => Tensor) => stageGraph("f", avals, (xs) => [fn(xs)]).graph;
const result = (g: Graph) => g.outputs[0]!;
const matchResult = (p: Pattern, g: Graph) => new Matcher(g).match(p, result(g));

/** matmul + bias + gelu as nn.gelu writes it (erf form): 0.5·t·(1 + erf(t/√2)), t = x·w + b. */
const matmulBiasGelu: Pattern = looseLayout(op("mul", [
  op("mul", [capture("t", op("add", [capture("product", op("dot_general")), capture("bias")])), splat(0.5)]),
  op("add", [splat(1), op("erf", [op("mul", [same("t"), splat(Math.SQRT1_2)])])]),
]));

const mlpLayer = trace([f32(4, 8), f32(8, 16), f32(16)], ([x, w, b]) =>
  nn.gelu(lax.add(lax.dotGeneral(x!, w!, { lhsContract: [1], rhsContract: [0] }), lax.broadcastInDim(b!, [4, 16], [1])), { approximate: false }));

describe("match: finding what nn.ts writes", () => {
  it("finds softmax as nn.softmax traces it and captures the logits", () => {
    const g = trace([f32(4, 8)], ([x]) => nn.softmax(x!));
    const r = matchResult(softmaxPattern(), g);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.match.values.get("softmax.logits")).toBe(g.inputs[0]);
  });

  it("rejects softmax over the wrong axis, naming the reduction and the rule it breaks", () => {
    const g = trace([f32(4, 8)], ([x]) => nn.softmax(x!, 0));
    const r = matchResult(softmaxPattern(), g);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.miss.path).toBe("div#0 exp#0 sub#1 broadcast_in_dim#0 reduce_max");
      expect(explainMiss(r.miss)).toContain(`reduce_max {axes=[0]} of f32[4,8] fails "reduces the last axis"`);
    }
  });

  it("finds matmul + bias + gelu and captures the product and the bias", () => {
    const r = matchResult(matmulBiasGelu, mlpLayer);
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.match.nodes.get("product")!.prim).toBe("dot_general");
      expect(r.match.values.get("bias")!.shape).toEqual([4, 16]);
    }
  });

  it("rejects the tanh form of gelu, saying it found tanh where erf was expected", () => {
    const g = trace([f32(4, 8), f32(8, 16), f32(16)], ([x, w, b]) =>
      nn.gelu(lax.add(lax.dotGeneral(x!, w!, { lhsContract: [1], rhsContract: [0] }), lax.broadcastInDim(b!, [4, 16], [1])), { approximate: true }));
    const r = matchResult(matmulBiasGelu, g);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.miss.reason).toMatch(/is made by tanh, not erf/);
  });

  it("find() returns every match, and a near-match with its reason", () => {
    const g = trace([f32(4, 8), f32(4, 8)], ([x, y]) => lax.add(nn.softmax(x!), nn.softmax(y!, 0)));
    const { matches, nearMisses } = new Matcher(g).find(softmaxPattern());
    expect(matches.map((m) => m.values.get("softmax.logits"))).toEqual([g.inputs[0]]);
    expect(nearMisses).toHaveLength(1);
    expect(nearMisses[0]!.reason).toContain("reduces the last axis");
  });
});

/** softmax(scale · q·kᵀ [+ mask | masked by select]) · v, in nn.attention's spellings. */
const scores = op("mul", [op("dot_general", [capture("q"), capture("k")]), capture("scale", splat())]);
const attentionPattern: Pattern = looseLayout(op("dot_general", [
  softmaxPattern(either(op("select", [capture("keep"), scores, splat(-Infinity)]), op("add", [scores, capture("mask")]), scores)),
  capture("v"),
]));

describe("match: attention as nn.attention writes it", () => {
  const [q, k, v] = [f32(2, 4, 8), f32(2, 6, 8), f32(2, 6, 8)];
  const cases: [string, (xs: Tensor[]) => Tensor, string[]][] = [
    ["unmasked", ([q, k, v]) => nn.attention(q!, k!, v!), []],
    ["causal (select on a boolean mask)", ([q, k, v]) => nn.attention(q!, k!, v!, { causal: true }), ["keep"]],
    ["additive mask", ([q, k, v, m]) => nn.attention(q!, k!, v!, { mask: m! }), ["mask"]],
  ];
  for (const [name, fn, masks] of cases)
    it(`finds ${name} attention and captures q, k, v and the scale`, () => {
      const g = trace([q, k, v, f32(4, 6)], fn);
      const r = matchResult(attentionPattern, g);
      if (!r.ok) throw new Error(explainMiss(r.miss));
      expect(["q", "k", "v"].map((n) => r.match.values.get(n))).toEqual(g.inputs.slice(0, 3));
      expect((r.match.nodes.get("scale") as Node<"constant">).params.value[0]).toBeCloseTo(1 / Math.sqrt(8), 6);
      for (const m of ["keep", "mask"]) expect(r.match.values.has(m)).toBe(masks.includes(m));
    });
});

/**
 * nn.moe's dense form: reduce_sum over experts of FFN(x) · gates, where the gates are the
 * softmax of the router's top-k values scattered by a one-hot of its top-k indices.
 */
const router = op("top_k", [op("dot_general", [capture("x"), capture("gate")])]);
const gates = op("reduce_sum", [op("mul", [
  softmaxPattern(capture("top_values", router.result(0))),
  op("eq", [op("top_k").result(1).where("is the router's top_k", (n, c) => n.outputs[0] === c.values.get("top_values")), op("iota")]),
])]);
const expertFfn = op("add", [op("dot_general", [capture("hidden"), capture("w2")]), capture("b2")]);
const moePattern: Pattern = looseLayout(op("reduce_sum", [op("mul", [expertFfn, gates])]));

describe("match: mixture of experts as nn.moe writes it", () => {
  const E = 4, d = 8, h = 16, T = 5;
  const avals = [f32(T, d), f32(d, E), f32(E, d, h), f32(E, h), f32(E, h, d), f32(E, d)];
  const layer = (k: number) => ([x, gate, w1, b1, w2, b2]: Tensor[]) => nn.moe(x!, gate!, { w1: w1!, b1: b1!, w2: w2!, b2: b2! }, k);

  it("finds top-k gating with per-expert FFNs and captures the router and the second layer", () => {
    const g = trace(avals, layer(2));
    const r = matchResult(moePattern, g);
    if (!r.ok) throw new Error(explainMiss(r.miss));
    expect(["x", "gate", "w2", "b2"].map((n) => belowViews(g, r.match.values.get(n)!))).toEqual([0, 1, 4, 5].map((i) => g.inputs[i]));
  });

  it("rejects gates whose one-hot comes from another top_k than the router's, saying so", () => {
    const g = trace(avals, ([x, gate, w1, b1, w2, b2]) => {
      const logits = lax.dotGeneral(x!, gate!, { lhsContract: [1], rhsContract: [0] });
      const [values] = lax.topK(logits, 2);
      const [, otherIndices] = lax.topK(lax.neg(logits), 2);
      const hot = np.oneHot(otherIndices, E);
      const weights = lax.reduceSum(lax.mul(hot, lax.broadcastInDim(nn.softmax(values), [T, 2, E], [0, 1])), [1]);
      const batchE = { lhsBatch: [0], rhsBatch: [0], lhsContract: [2], rhsContract: [1] };
      const hid = nn.gelu(lax.add(lax.dotGeneral(lax.broadcastInDim(x!, [E, T, d], [1, 2]), w1!, batchE), lax.broadcastInDim(b1!, [E, T, h], [0, 2])));
      const y = lax.add(lax.dotGeneral(hid, w2!, batchE), lax.broadcastInDim(b2!, [E, T, d], [0, 2]));
      return lax.reduceSum(lax.mul(y, lax.broadcastInDim(lax.transpose(weights, [1, 0]), [E, T, d], [0, 1])), [0]);
    });
    const r = matchResult(moePattern, g);
    expect(!r.ok && r.miss.reason).toMatch(/fails "is the router's top_k"/);
  });
});

describe("match: the pattern language", () => {
  it("a commutative op matches with its operands in either order", () => {
    const t = new Tb("g");
    const x = t.input("f32", [4], "x"), y = t.input("f32", [4], "y");
    const g = t.build([t.op("mul", [x, t.op("exp", [y])])]);
    const r = new Matcher(g).match(op("mul", [op("exp", [capture("y")]), capture("x")]), result(g));
    expect(r.ok && r.match.values.get("y")).toBe(y);
  });

  it("a non-commutative op does not swap its operands", () => {
    const t = new Tb("g");
    const x = t.input("f32", [4], "x"), y = t.input("f32", [4], "y");
    const g = t.build([t.op("sub", [x, t.op("exp", [y])])]);
    const r = new Matcher(g).match(op("sub", [op("exp"), any()]), result(g));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.miss.reason).toMatch(/graph input, not exp/);
  });

  it("same() fails when a value differs from the one captured", () => {
    const t = new Tb("g");
    const x = t.input("f32", [4], "x"), y = t.input("f32", [4], "y");
    const g = t.build([t.op("sub", [x, y])]);
    const r = new Matcher(g).match(op("sub", [capture("a"), same("a")]), result(g));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.miss.reason).toMatch(/is not the value captured as 'a'/);
  });

  it("oneUse rejects a value that another node also reads", () => {
    const t = new Tb("g");
    const x = t.input("f32", [4], "x");
    const e = t.op("exp", [x]);
    const g = t.build([t.op("add", [e, t.op("neg", [e])])]);
    const shared = new Matcher(g).match(op("add", [oneUse(op("exp")), any()]), result(g));
    expect(shared.ok).toBe(false);
    if (!shared.ok) expect(shared.miss.reason).toMatch(/has 2 uses/);
    expect(new Matcher(g).match(op("add", [op("exp"), any()]), result(g)).ok).toBe(true);
  });

  it("either() takes the first alternative that matches and reports the nearest miss otherwise", () => {
    const t = new Tb("g");
    const x = t.input("f32", [4], "x");
    const g = t.build([t.op("tanh", [t.op("exp", [x])])]);
    const m = new Matcher(g);
    expect(m.match(either(op("erf"), op("tanh")), result(g)).ok).toBe(true);
    const r = m.match(either(op("erf"), op("tanh", [op("log")])), result(g));
    expect(!r.ok && r.miss.path).toBe("tanh#0 log");
  });

  it("layout nodes are crossed only where the pattern allows, and listed in the match", () => {
    const t = new Tb("g");
    const x = t.input("f32", [2, 3], "x");
    const g = t.build([t.op("reshape", [t.op("exp", [x])], { shape: [6] })]);
    const m = new Matcher(g);
    expect(m.match(op("exp"), result(g)).ok).toBe(false);
    const r = m.match(through(["reshape"], op("exp")), result(g));
    expect(r.ok && r.match.views.map((n) => n.prim)).toEqual(["reshape"]);
  });

  it("result(i) picks one result of a node with several (top_k's indices)", () => {
    const t = new Tb("g");
    const x = t.input("f32", [2, 5], "x");
    const [, indices] = t.b.add("top_k", [x], { k: 2 });
    const g = t.build([indices!]);
    const m = new Matcher(g);
    expect(m.match(op("top_k").result(1), result(g)).ok).toBe(true);
    const values = m.match(op("top_k").result(0), result(g));
    expect(!values.ok && values.miss.reason).toMatch(/is result 1 of top_k, not result 0/);
  });

  it("escapes() names the inner values that something outside the match reads", () => {
    const t = new Tb("g");
    const x = t.input("f32", [4], "x");
    const e = t.op("exp", [x]);
    const g = t.build([t.op("neg", [e]), e]);
    const m = new Matcher(g);
    const r = m.match(op("neg", [op("exp")]), g.outputs[0]!);
    expect(r.ok && m.escapes(r.match)).toEqual([e]);
    const u = new Tb("h");
    const y = u.input("f32", [4], "y");
    const alone = new Matcher(u.build([u.op("neg", [u.op("exp", [y])])]));
    const inner = alone.match(op("neg", [op("exp")]), alone.graph.outputs[0]!);
    expect(inner.ok && alone.escapes(inner.match)).toEqual([]);
  });

  it("splat() without a value matches any splat constant and captures it", () => {
    const t = new Tb("g");
    const x = t.input("f32", [4], "x");
    const g = t.build([t.op("mul", [t.full(0.125, [4]), x])]);
    const r = new Matcher(g).match(looseLayout(op("mul", [capture("x"), capture("scale", splat())])), result(g));
    expect(r.ok && r.match.nodes.get("scale")!.params).toMatchObject({ value: [0.125] });
  });

  it("where() predicates see the captures made before them", () => {
    const t = new Tb("g");
    const x = t.input("f32", [2, 3], "x");
    const g = t.build([t.op("reduce_sum", [x], { axes: [1] })]);
    const lastAxis = op("reduce_sum", [capture("x")]).where("reduces the last axis", (n, c) => n.params.axes[0] === c.values.get("x")!.shape.length - 1);
    expect(new Matcher(g).match(lastAxis, result(g)).ok).toBe(true);
  });

  it("the keepdims spelling of softmax (reshape to [R, 1]) matches when reshapes may be crossed", () => {
    const g = softmaxGraph(4, 8, true);
    expect(matchResult(softmaxPattern(), g).ok).toBe(false);
    expect(matchResult(through(["reshape"], softmaxPattern()), g).ok).toBe(true);
  });
});

// ---------------------------------------------------------------------------
// properties: commutative reorderings and inserted layout round trips still match

/** softmax over the last axis with each commutative choice and each inserted view drawn. */
interface Variant {
  readonly r: number;
  readonly c: number;
  /** Per edge of the graph: insert a reshape round trip (1), a transpose round trip (2), or nothing (0). */
  readonly views: readonly number[];
}

const variantArb: fc.Arbitrary<Variant> = fc.record({
  r: fc.integer({ min: 1, max: 5 }),
  c: fc.integer({ min: 1, max: 5 }),
  views: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 8, maxLength: 8 }),
});

/** A value through a layout round trip that leaves it unchanged: reshape to flat and back, or transpose twice. */
function roundTripView(t: Tb, v: Value, kind: number): Value {
  const shape = [...v.shape];
  if (kind === 1) return t.op("reshape", [t.op("reshape", [v], { shape: [shape.reduce((a, b) => a * b, 1)] })], { shape });
  if (kind === 2 && shape.length === 2) {
    const swapped = t.op("transpose", [v], { perm: [1, 0] });
    return t.op("transpose", [swapped], { perm: [1, 0] });
  }
  return v;
}

/** The value under a chain of layout nodes. */
function belowViews(g: Graph, v: Value): Value {
  for (let p = g.nodes.find((n) => n.outputs.includes(v)); p && LAYOUT_PRIMS.includes(p.prim); p = g.nodes.find((n) => n.outputs.includes(v)))
    v = p.inputs[0]!;
  return v;
}

function softmaxVariant({ r, c, views }: Variant): Graph {
  const t = new Tb("softmax");
  let edge = 0;
  const view = (v: Value) => roundTripView(t, v, views[edge++]!);
  const x = t.input("f32", [r, c], "x");
  const m = t.op("reduce_max", [view(x)], { axes: [1] });
  const e = t.op("exp", [t.op("sub", [view(x), view(t.bcast(view(m), [r, c], [0]))])]);
  const s = t.op("reduce_sum", [view(e)], { axes: [1] });
  return t.build([t.op("div", [view(e), view(t.bcast(view(s), [r, c], [0]))])]);
}

interface Epilogue {
  readonly swaps: readonly boolean[];
  readonly views: readonly number[];
}

const epilogueArb: fc.Arbitrary<Epilogue> = fc.record({
  swaps: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
  views: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 4, maxLength: 4 }),
});

/** matmul + bias + gelu (erf form) with each commutative op's operands in a drawn order. */
function epilogueVariant({ swaps, views }: Epilogue): Graph {
  const t = new Tb("mlp");
  const x = t.input("f32", [3, 4], "x"), w = t.input("f32", [4, 5], "w"), b = t.input("f32", [5], "b");
  let k = 0, edge = 0;
  const bin = (prim: "add" | "mul", a: Value, c: Value) => t.op(prim, swaps[k++] ? [c, a] : [a, c]);
  const view = (v: Value) => roundTripView(t, v, views[edge++]!);
  const product = t.op("dot_general", [x, w], { lhs_contract: [1], rhs_contract: [0], lhs_batch: [], rhs_batch: [] });
  const pre = bin("add", view(product), t.bcast(b, [3, 5], [1]));
  const inner = t.op("erf", [view(bin("mul", pre, t.full(Math.SQRT1_2, [3, 5])))]);
  return t.build([bin("mul", view(bin("mul", pre, t.full(0.5, [3, 5]))), view(bin("add", t.full(1, [3, 5]), inner)))]);
}

describe("match: properties", () => {
  it("softmax with any layout round trips inserted still matches under looseLayout, capturing the logits", () => {
    fc.assert(
      fc.property(variantArb, (v) => {
        const g = softmaxVariant(v);
        const r = matchResult(looseLayout(softmaxPattern()), g);
        if (!r.ok) throw new Error(explainMiss(r.miss));
        // A wildcard captures the value as it meets it: here the logits after the drawn views.
        expect(belowViews(g, r.match.values.get("softmax.logits")!)).toBe(g.inputs[0]);
      }),
    );
  });

  it("matmul + bias + gelu matches whatever order its commutative operands take, with views inserted", () => {
    fc.assert(
      fc.property(epilogueArb, (e) => {
        const g = epilogueVariant(e);
        const r = matchResult(matmulBiasGelu, g);
        if (!r.ok) throw new Error(explainMiss(r.miss));
        expect(r.match.nodes.get("product")!.inputs).toEqual(g.inputs.slice(0, 2));
      }),
    );
  });

  it("a softmax whose reductions run over the first axis never matches, at any size", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 }), (r, c) => {
        const t = new Tb("column");
        const x = t.input("f32", [r, c], "x");
        const m = t.op("reduce_max", [x], { axes: [0] });
        const e = t.op("exp", [t.op("sub", [x, t.bcast(m, [r, c], [1])])]);
        const s = t.op("reduce_sum", [e], { axes: [0] });
        const column = t.build([t.op("div", [e, t.bcast(s, [r, c], [1])])]);
        const result = matchResult(looseLayout(softmaxPattern()), column);
        expect(!result.ok && result.miss.reason).toContain("reduces the last axis");
      }),
    );
  });
});
