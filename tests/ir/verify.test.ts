/**
 * The verifier: each rule it enforces, on graphs assembled by hand (GraphBuilder
 * would refuse to build most of them), and each error naming the node and the rule.
 */
import { describe, expect, it } from "vitest";
import type { AbstractValue } from "../../ir/dtype.js";
import { VerifyError } from "../../ir/errors.js";
import { Graph, type Node, Value, verify } from "../../ir/graph.js";
import type { Primitive } from "../../ir/primitives.js";
import { graph, irCorpus, ty } from "./corpus.js";

const val = (t: AbstractValue = ty("f32", 2)) => new Value(t);
const node = (prim: string, inputs: Value[], outputs: Value[], params: object = {}): Node =>
  ({ prim: prim as Primitive, inputs, outputs, params }) as Node;

function expectVerifyError(g: Graph, where: string, rule: string) {
  let err: unknown;
  try {
    verify(g);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(VerifyError);
  const e = err as VerifyError;
  expect(e.node).toBe(where);
  expect(e.rule).toContain(rule);
  expect(e.message).toBe(`verifier: ${where}: ${e.rule}`);
}

describe("verify", () => {
  it.each(irCorpus().map((c) => [c.name, c.graph] as const))("accepts the corpus graph: %s", (_, g) => verify(g));

  it("rejects an input listed twice", () => {
    const x = new Value(ty("f32", 2), "x");
    expectVerifyError(new Graph("g", [x, x], [], [x]), "@g input", "value %x is an input twice");
  });

  it("rejects an unknown primitive", () => {
    const x = val(), y = val();
    expectVerifyError(new Graph("g", [x], [node("frobnicate", [x], [y])], [y]), "@g node 0 (frobnicate)", "unknown primitive 'frobnicate'");
  });

  it("rejects a use before the definition", () => {
    const x = val(), y = val(), z = val();
    const g = new Graph("g", [x], [node("neg", [y], [z]), node("neg", [x], [y])], [z]);
    expectVerifyError(g, "@g node 0 (neg)", "operand 0 is used before it is defined");
  });

  it("rejects an operand defined nowhere", () => {
    const x = val(), y = val();
    expectVerifyError(new Graph("g", [x], [node("add", [x, val()], [y])], [y]), "@g node 0 (add)", "operand 1 is used before it is defined");
  });

  it("rejects a missing attribute, before the rule can trip over it", () => {
    const x = val(ty("f32", 2, 3)), y = val();
    expectVerifyError(new Graph("g", [x], [node("reduce_sum", [x], [y])], [y]), "@g node 0 (reduce_sum)", "attribute 'axes' is missing");
  });

  it("rejects operands the shape rule refuses", () => {
    const x = val(ty("f32", 2)), w = val(ty("f32", 3)), y = val();
    expectVerifyError(new Graph("g", [x, w], [node("add", [x, w], [y])], [y]), "@g node 0 (add)", "shape rule rejects it: operand shapes differ");
  });

  it("rejects a node defining the wrong number of values", () => {
    const x = val(ty("f32", 4)), v = val();
    expectVerifyError(new Graph("g", [x], [node("top_k", [x], [v], { k: 2 })], [v]), "@g node 0 (top_k)", "defines 1 value(s), its rule gives 2");
  });

  it("rejects an output typed differently from the rule", () => {
    const x = val(ty("f32", 2)), y = val(ty("i32", 2));
    expectVerifyError(new Graph("g", [x], [node("neg", [x], [y])], [y]), "@g node 0 (neg)", "output 0 is typed i32[2], its rule gives f32[2]");
  });

  it("rejects a value defined twice", () => {
    const x = val(), y = val();
    const g = new Graph("g", [x], [node("neg", [x], [y]), node("abs", [x], [y])], [y]);
    expectVerifyError(g, "@g node 1 (abs)", "output 0 redefines a value");
  });

  it("rejects a node redefining an input", () => {
    const x = val();
    expectVerifyError(new Graph("g", [x], [node("neg", [x], [x])], [x]), "@g node 0 (neg)", "output 0 redefines a value");
  });

  it("rejects a result that is not defined", () => {
    const x = val(), y = val();
    expectVerifyError(new Graph("g", [x], [node("neg", [x], [y])], [y, val()]), "@g return", "result 1 is not defined");
  });

  it("checks callees, naming the callee's node", () => {
    const a = val(), b = val(ty("i32", 2));
    const bad = new Graph("callee", [a], [node("exp", [a], [b])], [b]);
    const x = val(), y = val(ty("i32", 2));
    const g = new Graph("main", [x], [node("jit", [x], [y], { callee: bad })], [y]);
    expectVerifyError(g, "@callee node 0 (exp)", "output 0 is typed i32[2], its rule gives f32[2]");
  });

  it("verifies a callee shared by two nodes once and accepts it", () => {
    const inner = graph("inner", [ty("f32", 2)], (b, [x]) => b.add("neg", [x!], {}));
    verify(graph("main", [ty("f32", 2)], (b, [x]) => {
      const [y] = b.add("jit", [x!], { callee: inner });
      return b.add("jit", [y!], { callee: inner });
    }));
  });
});
