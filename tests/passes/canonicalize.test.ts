import { describe, expect, it } from "vitest";
import type { DType } from "../../ir/dtype.js";
import type { Graph, Node, Value } from "../../ir/graph.js";
import { canonicalize } from "../../passes/canonicalize.js";
import { FOLD_LIMIT } from "../../passes/fold.js";
import { roundTrip } from "../ir/roundtrip.js";
import { Tb, expectClose, inputsFor, run } from "./graphs.js";

const prims = (g: Graph) => g.nodes.map((n) => n.prim);

/** Canonicalises, checks the round-trip law and that the interpreter gives the same numbers. */
function canon(g: Graph): Graph {
  const out = canonicalize(g);
  roundTrip(out);
  const xs = inputsFor(g, 7);
  expectClose(run(out, xs), run(g, xs), 0);
  return out;
}

/** One-input graphs: `body` gets the builder and an input of the given type. */
function unaryGraph(shape: number[], body: (t: Tb, x: Value) => Value, dtype: DType = "f32"): Graph {
  const t = new Tb("g");
  const x = t.input(dtype, shape, "x");
  return t.build([body(t, x)]);
}

const constantOf = (g: Graph) => g.nodes.find((n) => n.prim === "constant") as Node<"constant"> | undefined;

describe("canonicalize: algebraic simplification", () => {
  for (const [op, c, commuted] of [["mul", 1, true], ["add", 0, true], ["sub", 0, false], ["div", 1, false]] as const) {
    it(`removes ${op} by its identity ${c}${commuted ? " on either side" : ""}`, () => {
      const right = canon(unaryGraph([3], (t, x) => t.op(op, [x, t.full(c, [3])])));
      expect(prims(right)).toEqual([]);
      expect(right.outputs[0]).toBe(right.inputs[0]);
      const left = canon(unaryGraph([3], (t, x) => t.op(op, [t.full(c, [3]), x])));
      expect(prims(left)).toEqual(commuted ? [] : ["constant", op]);
    });
  }

  it("leaves x*0 alone (NaN and infinity would change)", () => {
    expect(prims(canon(unaryGraph([3], (t, x) => t.op("mul", [x, t.full(0, [3])]))))).toEqual(["constant", "mul"]);
  });

  it("uses the identity in the operand's dtype (i32 1.5 is 1)", () => {
    expect(prims(canon(unaryGraph([3], (t, x) => t.op("mul", [x, t.full(1.5, [3], "i32")]), "i32")))).toEqual([]);
  });

  it("composes a double transpose into one transpose", () => {
    const g = canon(unaryGraph([2, 3, 4], (t, x) => t.op("transpose", [t.op("transpose", [x], { perm: [1, 2, 0] })], { perm: [0, 2, 1] })));
    expect(prims(g)).toEqual(["transpose"]);
    expect((g.nodes[0] as Node<"transpose">).params.perm).toEqual([1, 0, 2]);
  });

  it("removes a transpose followed by its inverse", () => {
    expect(prims(canon(unaryGraph([2, 3, 4], (t, x) => t.op("transpose", [t.op("transpose", [x], { perm: [1, 2, 0] })], { perm: [2, 0, 1] }))))).toEqual([]);
  });

  it("folds a reshape of a reshape into one, and drops a reshape to the same shape", () => {
    const g = canon(unaryGraph([2, 6], (t, x) => t.op("reshape", [t.op("reshape", [x], { shape: [3, 4] })], { shape: [12] })));
    expect(prims(g)).toEqual(["reshape"]);
    expect(prims(canon(unaryGraph([2, 6], (t, x) => t.op("reshape", [t.op("reshape", [x], { shape: [12] })], { shape: [2, 6] }))))).toEqual([]);
  });

  it("folds a broadcast of a broadcast into one", () => {
    const g = canon(unaryGraph([3], (t, x) => t.bcast(t.bcast(x, [2, 3], [1]), [4, 2, 3], [1, 2])));
    expect(prims(g)).toEqual(["broadcast_in_dim"]);
    expect((g.nodes[0] as Node<"broadcast_in_dim">).params).toEqual({ shape: [4, 2, 3], dims: [2] });
  });

  it("folds keepdims (reshape to unit axes, then broadcast) into one broadcast", () => {
    const g = canon(unaryGraph([4], (t, x) => t.bcast(t.op("reshape", [x], { shape: [4, 1] }), [4, 8], [0, 1])));
    expect(prims(g)).toEqual(["broadcast_in_dim"]);
    expect((g.nodes[0] as Node<"broadcast_in_dim">).params.dims).toEqual([0]);
  });

  it("keeps a reshape-then-broadcast whose operand has unit axes", () => {
    expect(prims(canon(unaryGraph([1, 4], (t, x) => t.bcast(t.op("reshape", [x], { shape: [4] }), [4], [0]))))).toEqual(["reshape"]);
  });

  it("turns a broadcast of a scalar constant into a splat constant of the bigger shape", () => {
    const t = new Tb("g");
    const g = canon(t.build([t.full(0.1, [512, 768])]));
    expect(prims(g)).toEqual(["constant"]);
    expect(constantOf(g)!.params).toEqual({ value: [0.1], shape: [512, 768], dtype: "f32" });
  });

  it("removes a cast to the same dtype, an identity broadcast, a reduction over no axes, a double negation", () => {
    expect(prims(canon(unaryGraph([3], (t, x) => t.op("cast", [x], { dtype: "f32" }))))).toEqual([]);
    expect(prims(canon(unaryGraph([2, 3], (t, x) => t.bcast(x, [2, 3], [0, 1]))))).toEqual([]);
    expect(prims(canon(unaryGraph([2, 3], (t, x) => t.op("reduce_sum", [x], { axes: [] }))))).toEqual([]);
    expect(prims(canon(unaryGraph([3], (t, x) => t.op("neg", [t.op("neg", [x])]))))).toEqual([]);
  });

  it("picks a select's branch on a constant predicate", () => {
    const g = canon(unaryGraph([3], (t, x) => t.op("select", [t.full(1, [3], "bool"), x, t.op("exp", [x])])));
    expect(prims(g)).toEqual([]);
  });
});

describe("canonicalize: constant folding", () => {
  it("evaluates elementwise math on constants as the interpreter does", () => {
    const t = new Tb("g");
    const a = t.op("constant", [], { value: [1, -2, 0.1, 3], shape: [4], dtype: "f32" });
    const b = t.op("constant", [], { value: [0.5, 7, -0.3, 2], shape: [4], dtype: "f32" });
    const y = t.op("tanh", [t.op("mul", [t.op("add", [a, b]), t.op("exp", [b])])]);
    const g = canon(t.build([y, t.op("lt", [a, b]), t.op("cast", [y], { dtype: "i32" })]));
    expect(prims(g)).toEqual(["constant", "constant", "constant"]);
  });

  it("wraps integer arithmetic like the interpreter (i32 overflow, truncating division)", () => {
    const t = new Tb("g");
    const a = t.op("constant", [], { value: [2147483647, -7, 9], shape: [3], dtype: "i32" });
    const b = t.op("constant", [], { value: [1, 2, 0], shape: [3], dtype: "i32" });
    const g = canon(t.build([t.op("add", [a, b]), t.op("div", [a, b]), t.op("mul", [a, a])]));
    expect(prims(g)).toEqual(["constant", "constant", "constant"]);
  });

  it("folds splats whatever their size, but no dense result over the limit", () => {
    const t = new Tb("g");
    const big = t.op("exp", [t.full(2, [1000, 1000])]);
    const dense = t.op("constant", [], { value: Array.from({ length: FOLD_LIMIT + 1 }, (_, i) => i), shape: [FOLD_LIMIT + 1], dtype: "f32" });
    const g = canon(t.build([big, t.op("exp", [dense])]));
    expect(prims(g)).toEqual(["constant", "constant", "exp"]);
    expect(constantOf(g)!.params.value).toEqual([Math.fround(Math.exp(2))]);
  });

  it("folds erf with the interpreter's float64 erf (ir/scalar.ts), rounded to f32", () => {
    const t = new Tb("g");
    const g = canon(t.build([t.op("erf", [t.full(0.5, [2])])]));
    expect(prims(g)).toEqual(["constant"]);
    expect(constantOf(g)!.params).toEqual({ value: [Math.fround(0.5204998778130465)], shape: [2], dtype: "f32" });
  });

  it("folds a sum over a splat to a splat", () => {
    const t = new Tb("g");
    const g = canon(t.build([t.op("reduce_sum", [t.full(0.5, [4, 6])], { axes: [1] })]));
    expect(constantOf(g)!.params).toEqual({ value: [3], shape: [4], dtype: "f32" });
  });
});

describe("canonicalize: CSE and DCE", () => {
  it("merges nodes with the same primitive, operands and attributes", () => {
    const g = canon(unaryGraph([2, 3], (t, x) => {
      const a = t.op("reduce_sum", [t.op("exp", [x])], { axes: [1] });
      const b = t.op("reduce_sum", [t.op("exp", [x])], { axes: [1] });
      return t.op("add", [a, b]);
    }));
    expect(prims(g)).toEqual(["exp", "reduce_sum", "add"]);
  });

  it("compares attributes structurally: equal arrays merge, different ones do not", () => {
    const t = new Tb("g");
    const x = t.input("f32", [3], "x");
    const a = t.bcast(x, [2, 3], [1]);
    const b = t.bcast(x, [2, 3], [1]);
    const c = t.bcast(x, [3, 3], [1]);
    const g = canon(t.build([t.op("add", [a, b]), c]));
    expect(prims(g)).toEqual(["broadcast_in_dim", "broadcast_in_dim", "add"]);
  });

  it("keeps constants 0 and -0 apart", () => {
    const t = new Tb("g");
    const x = t.input("f32", [3], "x");
    const g = canon(t.build([t.op("mul", [x, t.full(0, [3])]), t.op("mul", [x, t.full(-0, [3])])]));
    expect(prims(g)).toEqual(["constant", "mul", "constant", "mul"]);
  });

  it("removes nodes no result depends on, but keeps a multi-output node one of whose results is used", () => {
    const g = canon(unaryGraph([2, 5], (t, x) => {
      t.op("exp", [x]);
      const [values] = t.b.add("top_k", [x], { k: 2 });
      return values!;
    }));
    expect(prims(g)).toEqual(["top_k"]);
  });

  it("writes a note saying what it changed", () => {
    const notes: string[] = [];
    canonicalize(unaryGraph([3], (t, x) => t.op("mul", [x, t.full(1, [3])])), notes);
    expect(notes.join("\n")).toMatch(/x\*1 ×1/);
  });
});

describe("canonicalize: idempotent ops", () => {
  it("replaces max(x, x) and min(x, x) by x", () => {
    expect(prims(canon(unaryGraph([3], (t, x) => t.op("min", [t.op("max", [x, x]), x]))))).toEqual([]);
  });
});
