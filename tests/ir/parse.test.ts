import { describe, expect, it } from "vitest";
import { Graph } from "../../ir/graph.js";
import { parseIRSync } from "../../ir/parse.js";
import { allPrimitives } from "../../ir/primitives.js";
import { printIR } from "../../ir/print.js";
import { SPECIAL_NUMBERS, graph, irCorpus, primitivesUsed, ty } from "./corpus.js";
import { roundTrip } from "./roundtrip.js";

const corpus = irCorpus();

describe("round trip: printIR(parseIRSync(printIR(g))) === printIR(g)", () => {
  it("the corpus applies every primitive in the registry", () => {
    const used = new Set<string>();
    for (const { graph: g } of corpus) primitivesUsed(g, used);
    const missing = allPrimitives().filter((p) => !used.has(p));
    expect(missing, "primitives without a round-trip case in tests/ir/corpus.ts").toEqual([]);
  });

  it.each(corpus.map((c) => [c.name, c.graph] as const))("holds for %s", (_, g) => roundTrip(g));
});

describe("parseIRSync", () => {
  it("returns the last function and resolves @references to Graph objects", () => {
    const g = parseIRSync(printIR(corpus.find((c) => c.name === "jit callees")!.graph));
    expect(g.name).toBe("main");
    const [mid, body1, body2] = g.callees();
    expect(mid).toBeInstanceOf(Graph);
    expect([mid!.name, body1!.name, body2!.name]).toEqual(["mid", "body", "body_1"]);
    // `leaf` is called from two functions; it is one graph after parsing, as before.
    expect(mid!.callees()[0]).toBe(body2!.callees()[0]);
  });

  it("keeps function input names and renumbers results", () => {
    const text = [
      "func @f(%x: f32[2], %y: f32[2]) -> (f32[2]) {",
      "  %sum = add %x, %y : f32[2]",
      "  %7 = neg %sum : f32[2]",
      "  return %7",
      "}",
    ].join("\n");
    expect(printIR(parseIRSync(text))).toBe(
      "func @f(%x: f32[2], %y: f32[2]) -> (f32[2]) {\n  %0 = add %x, %y : f32[2]\n  %1 = neg %0 : f32[2]\n  return %1\n}\n",
    );
  });

  it("reads special numbers back bit for bit (nan, ±inf, -0, denormals, extremes)", () => {
    const g = graph("c", [], (b) => b.add("constant", [], { value: SPECIAL_NUMBERS, shape: [SPECIAL_NUMBERS.length], dtype: "f32" }));
    const back = parseIRSync(printIR(g)).nodes[0]!.params as { value: number[] };
    back.value.forEach((v, i) => expect(Object.is(v, SPECIAL_NUMBERS[i])).toBe(true));
  });

  it("accepts exponent spellings the printer does not produce", () => {
    const g = parseIRSync("func @c() -> (f32[3]) {\n  %0 = constant {value=[1e-7, 2.5E+3, -0], shape=[3], dtype=f32} : f32[3]\n  return %0\n}");
    const value = (g.nodes[0]!.params as { value: number[] }).value;
    expect(value[0]).toBe(1e-7);
    expect(value[1]).toBe(2500);
    expect(Object.is(value[2], -0)).toBe(true);
  });

  it("skips comments and blank lines", () => {
    const text = "// a module\n\nfunc @f(%x: f32[]) -> (f32[]) { // header\n  // body\n  %0 = exp %x : f32[]\n\n  return %0 // done\n}\n// trailing";
    expect(printIR(parseIRSync(text))).toBe("func @f(%x: f32[]) -> (f32[]) {\n  %0 = exp %x : f32[]\n  return %0\n}\n");
  });

  it("reads a rank-0 value and an empty shape", () => {
    const g = parseIRSync("func @f(%x: f32[], %e: i32[0,3]) -> (f32[], i32[0,3]) {\n  return %x, %e\n}");
    expect(g.inputs.map((v) => v.shape)).toEqual([[], [0, 3]]);
  });

  it("is not confused by names that start like keywords or numbers", () => {
    const text = "func @func(%return: f32[2], %inf: f32[2], %nan: f32[2]) -> (f32[2]) {\n  %0 = add %return, %inf : f32[2]\n  return %0\n}\n";
    expect(printIR(parseIRSync(text))).toBe(text);
  });

  it("drops functions the last one does not reach, since the printer never emits them", () => {
    const text = "func @unused(%x: f32[2]) -> (f32[2]) {\n  return %x\n}\n\nfunc @main(%x: f32[2]) -> (f32[2]) {\n  return %x\n}\n";
    expect(printIR(parseIRSync(text))).toBe("func @main(%x: f32[2]) -> (f32[2]) {\n  return %x\n}\n");
  });

  it("round-trips a graph whose inputs are returned directly and used twice", () => {
    roundTrip(graph("id", [ty("i32", 3), ty("bool")], (b, [x, y]) => [x!, x!, y!, b.add("abs", [x!], {})[0]!]));
  });
});
