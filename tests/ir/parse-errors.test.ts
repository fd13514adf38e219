import { describe, expect, it } from "vitest";
import { IRParseError } from "../../ir/errors.js";
import { parseIRSync } from "../../ir/parse.js";

const GOOD = [
  "func @f(%x: f32[2,3], %w: f32[3,4]) -> (f32[2,4]) {",
  "  %0 = dot_general %x, %w {lhs_contract=[1], rhs_contract=[0], lhs_batch=[], rhs_batch=[]} : f32[2,4]",
  "  %1 = neg %0 : f32[2,4]",
  "  return %1",
  "}",
  "",
].join("\n");

/** GOOD with the first occurrence of `from` replaced by `to`. */
const edit = (from: string, to: string, text = GOOD) => {
  if (!text.includes(from)) throw new Error(`test bug: '${from}' not in text`);
  return text.replace(from, to);
};

function parseError(text: string): IRParseError {
  try {
    parseIRSync(text);
  } catch (e) {
    expect(e).toBeInstanceOf(IRParseError);
    return e as IRParseError;
  }
  throw new Error("expected parseIRSync to throw");
}

/** Assert the error's position and that its message holds each fragment. */
function expectError(text: string, line: number, column: number, ...fragments: string[]) {
  const e = parseError(text);
  expect([e.line, e.column], e.message).toEqual([line, column]);
  expect(e.message.startsWith(`line ${line}, column ${column}: `)).toBe(true);
  for (const f of fragments) expect(e.message).toContain(f);
}

describe("parse errors name line, column, what was expected and what was found", () => {
  it("the unedited text parses", () => {
    expect(parseIRSync(GOOD).nodes).toHaveLength(2);
  });

  describe("syntax", () => {
    it("empty input", () => expectError("", 1, 1, "expected 'func'", "found end of input"));
    it("unexpected character", () => expectError(edit("%1 = neg", "%1 # neg"), 3, 6, "unexpected character \"#\""));
    it("unterminated block", () => expectError(GOOD.replace(/\}\n$/, ""), 4, 12, "expected '}'", "found end of input"));
    it("unterminated parameter list", () =>
      expectError("func @f(%x: f32[2]", 1, 19, "expected ')'", "found end of input"));
    it("missing '=' in a node", () => expectError(edit("%1 = neg", "%1 neg"), 3, 6, "expected '='", "found 'neg'"));
    it("missing ':' before result types", () => expectError(edit("%0 : f32[2,4]", "%0 f32[2,4]"), 3, 15, "expected ':'", "found 'f32'"));
    it("misspelled return", () => expectError(edit("return %1", "retrun %1"), 4, 3, "expected 'return'", "found 'retrun'"));
    it("text after the last function", () => expectError(GOOD + "}\n", 6, 1, "expected 'func' or end of input", "found '}'"));
    it("unterminated string", () =>
      expectError(edit("lhs_batch=[]", 'lhs_batch="abc'), 2, 74, "unexpected character", '"\\""'));
    it("a list of something other than numbers", () =>
      expectError(edit("lhs_batch=[]", "lhs_batch=[%x]"), 2, 75, "expected ']'", "found '%x'"));
  });

  describe("numbers", () => {
    it("a fraction where an integer is expected", () =>
      expectError(edit("lhs_contract=[1]", "lhs_contract=[1.5]"), 2, 42, "expected an integer in 'lhs_contract'", "found '1.5'"));
    it("two decimal points", () =>
      expectError(edit("lhs_contract=[1]", "lhs_contract=[1.5.2]"), 2, 45, "unexpected character \".\""));
    it("an exponent without digits", () =>
      expectError(edit("lhs_contract=[1]", "lhs_contract=[1e]"), 2, 43, "expected ']'", "found 'e'"));
    it("a doubled minus sign", () => expectError(edit("lhs_contract=[1]", "lhs_contract=[--1]"), 2, 42, "unexpected character \"-\""));
    it("inf where an integer is expected", () =>
      expectError(edit("lhs_contract=[1]", "lhs_contract=[inf]"), 2, 42, "expected an integer", "found 'inf'"));
  });

  describe("types", () => {
    it("unknown dtype", () => expectError(edit("%x: f32", "%x: f33"), 1, 13, "expected a dtype (f32, i32, u32, bool)", "found 'f33'"));
    it("negative dimension", () => expectError(edit("f32[2,3]", "f32[2,-3]"), 1, 19, "expected a non-negative integer dimension", "found '-3'"));
    it("fractional dimension", () => expectError(edit("f32[2,3]", "f32[2.5,3]"), 1, 17, "non-negative integer dimension", "found '2.5'"));
    it("missing brackets", () => expectError(edit("%x: f32[2,3]", "%x: f32"), 1, 16, "expected '['", "found ','"));
  });

  describe("primitives and attributes", () => {
    it("unknown primitive", () => expectError(edit("neg %0", "frobnicate %0"), 3, 8, "unknown primitive 'frobnicate'"));
    it("misspelled primitive gets a suggestion", () => expectError(edit("neg %0", "negg %0"), 3, 8, "unknown primitive 'negg'", "did you mean 'neg'?"));
    it("missing attribute", () =>
      expectError(edit("lhs_batch=[], ", ""), 2, 8, "dot_general", "expected attribute 'lhs_batch'", "missing"));
    it("unknown attribute", () =>
      expectError(edit("rhs_batch=[]}", "rhs_batch=[], bias=1}"), 2, 92, "expected an attribute of dot_general", "found unknown attribute 'bias'"));
    it("attribute on a primitive that takes none", () =>
      expectError(edit("neg %0 :", "neg %0 {axis=1} :"), 3, 16, "neg takes none", "found attribute 'axis'"));
    it("attribute given twice", () =>
      expectError(edit("rhs_batch=[]}", "rhs_batch=[], rhs_batch=[]}"), 2, 92, "attribute 'rhs_batch' is given twice"));
    it("attribute of the wrong kind", () =>
      expectError(edit("lhs_contract=[1]", "lhs_contract=1"), 2, 41, "expected a list of integers for 'lhs_contract'", "found '1'"));
    it("dtype attribute that is not a dtype", () =>
      expectError(edit("neg %0 : f32[2,4]", "cast %0 {dtype=f16} : f32[2,4]"), 3, 23, "expected a dtype", "found 'f16'"));
    it("bool attribute that is not true or false", () =>
      expectError(edit("neg %0 : f32[2,4]", "cumsum %0 {axis=1, reverse=1} : f32[2,4]"), 3, 35, "expected true or false for 'reverse'", "found '1'"));
    it("wrong number of operands", () => expectError(edit("neg %0 :", "neg %0, %0 :"), 3, 8, "neg: expects 1 operand(s), got 2"));
    it("operands the shape rule rejects", () =>
      expectError(edit("neg %0 :", "add %0, %x :"), 3, 8, "add: operand shapes differ", "f32[2,4]", "f32[2,3]"));
  });

  describe("values and results", () => {
    it("undefined value", () => expectError(edit("neg %0", "neg %9"), 3, 12, "expected a value defined earlier in @f", "found undefined %9"));
    it("value used before its definition", () =>
      expectError(edit("%x, %w {", "%x, %1 {"), 2, 24, "found undefined %1"));
    it("redefined value", () => expectError(edit("%1 = neg", "%x = neg"), 3, 3, "found %x already defined at line 1, column 9"));
    it("result type differs from the rule's", () =>
      expectError(edit("neg %0 : f32[2,4]", "neg %0 : f32[2,5]"), 3, 17, "expected f32[2,4] (the type neg gives result 0)", "found f32[2,5]"));
    it("result dtype differs from the rule's", () =>
      expectError(edit("neg %0 : f32[2,4]", "neg %0 : i32[2,4]"), 3, 17, "expected f32[2,4]", "found i32[2,4]"));
    it("fewer result names than the node defines", () =>
      expectError(edit("%1 = neg %0 : f32[2,4]", "%1 = top_k %0 {k=2} : f32[2,2]"), 3, 3, "expected 2 result name(s) (top_k defines 2), found 1"));
    it("fewer result types than result names", () =>
      expectError(edit("%1 = neg %0 : f32[2,4]", "%1, %2 = top_k %0 {k=2} : f32[2,2]"), 3, 29, "expected 2 result type(s)", "found 1"));
    it("returned value of the wrong type", () =>
      expectError(edit("-> (f32[2,4])", "-> (f32[4,2])"), 4, 10, "expected f32[4,2] (result 0 of @f)", "found %1: f32[2,4]"));
    it("wrong number of returned values", () =>
      expectError(edit("return %1", "return %1, %0"), 4, 10, "expected 1 returned value(s)", "found 2"));
  });

  describe("functions", () => {
    const callee = "func @g(%a: f32[2,4]) -> (f32[2,4]) {\n  return %a\n}\n";
    it("a call resolves", () => expect(parseIRSync(callee + edit("neg %0 :", "jit %0 {callee=@g} :")).callees()).toHaveLength(1));
    it("unknown @function", () =>
      expectError(callee + edit("neg %0 :", "jit %0 {callee=@h} :"), 6, 23, "expected an @function defined earlier", "found unknown @h"));
    it("reference to a function defined later", () =>
      expectError(edit("neg %0 :", "jit %0 {callee=@g} :") + callee, 3, 23, "found unknown @g"));
    it("function defined twice", () => expectError(GOOD + GOOD, 6, 6, "expected a new function name", "@f already defined at line 1, column 6"));
    it("call with operands the callee does not take", () =>
      expectError(callee + edit("neg %0 :", "jit %x {callee=@g} :"), 6, 8, "jit: operand 0 is f32[2,3], @g expects f32[2,4]"));
  });
});
