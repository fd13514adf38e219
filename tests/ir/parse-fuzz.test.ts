/**
 * Property: mutating valid IR text never crashes the parser. parseIRSync either returns
 * a graph that verifies and round-trips, or throws IRParseError pointing inside the
 * text — never another exception, never a hang.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { IRParseError } from "../../ir/errors.js";
import { type Graph, verify } from "../../ir/graph.js";
import { parseIRSync } from "../../ir/parse.js";
import { printIR } from "../../ir/print.js";
import { irCorpus } from "./corpus.js";

const texts = irCorpus().map((c) => printIR(c.graph));

/** Pieces of the IR vocabulary, so insertions often make near-valid text. */
const FRAGMENTS = [
  "%0", "%1", "%x0", "%zz", "@leaf", "@nope", "[", "]", "{", "}", "(", ")", ",", ":", "=", "->", "func", "return",
  "add", "neg", "top_k", "jit", "frob", "f32", "i32", "bool", "f16", "f32[2,3]", "f32[]", "0", "1", "-1", "1.5",
  "1e-7", "1e", "nan", "inf", "-inf", "-0", "true", "false", '"s"', '"', "//", "\n", "\r\n", "\r", " ", "\t", "#", "-", ".",
  "k=2", "axis=0", "axes=[0]", "dtype=f32",
];

type Mutation = (t: string) => string;

const at = (t: string, p: number) => (t.length === 0 ? 0 : p % (t.length + 1));

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(fc.nat(), fc.integer({ min: 1, max: 12 })).map(([p, n]): Mutation => (t) => {
    const i = at(t, p);
    return t.slice(0, i) + t.slice(i + n);
  }),
  fc.tuple(fc.nat(), fc.constantFrom(...FRAGMENTS)).map(([p, s]): Mutation => (t) => {
    const i = at(t, p);
    return t.slice(0, i) + s + t.slice(i);
  }),
  fc.tuple(fc.nat(), fc.string({ minLength: 1, maxLength: 3 })).map(([p, s]): Mutation => (t) => {
    const i = at(t, p);
    return t.slice(0, i) + s + t.slice(i + s.length);
  }),
  // Replace one whitespace-separated token by another piece of vocabulary.
  fc.tuple(fc.nat(), fc.constantFrom(...FRAGMENTS)).map(([p, s]): Mutation => (t) => {
    const words = t.split(/(\s+)/);
    const idx = p % words.length;
    if (/^\s*$/.test(words[idx]!)) return t;
    words[idx] = s;
    return words.join("");
  }),
  fc.nat().map((p): Mutation => (t) => t.slice(0, at(t, p))),
  fc.tuple(fc.nat(), fc.nat()).map(([a, b]): Mutation => (t) => {
    const lines = t.split("\n");
    const i = a % lines.length, j = b % lines.length;
    [lines[i], lines[j]] = [lines[j]!, lines[i]!];
    return lines.join("\n");
  }),
  fc.nat().map((a): Mutation => (t) => {
    const lines = t.split("\n");
    const i = a % lines.length;
    lines.splice(i, 0, lines[i]!);
    return lines.join("\n");
  }),
);

const mutated = fc
  .tuple(fc.constantFrom(...texts), fc.array(mutation, { minLength: 1, maxLength: 3 }))
  .map(([t, ms]) => ms.reduce((acc, m) => m(acc), t));

/** parseIRSync's outcome on `text`, checked against the property. */
function check(text: string): "graph" | "error" {
  let g: Graph;
  const started = performance.now();
  try {
    g = parseIRSync(text);
  } catch (e) {
    if (!(e instanceof IRParseError)) throw new Error(`parseIRSync threw ${String(e)} on:\n${text}`, { cause: e });
    // Lines end as chevrotain counts them: \n, \r\n or a lone \r.
    const lines = text.split(/\r\n?|\n/);
    expect(Number.isInteger(e.line) && e.line >= 1 && e.line <= lines.length, e.message).toBe(true);
    expect(Number.isInteger(e.column) && e.column >= 1 && e.column <= lines[e.line - 1]!.length + 1, e.message).toBe(true);
    return "error";
  } finally {
    expect(performance.now() - started).toBeLessThan(2000);
  }
  verify(g);
  const printed = printIR(g);
  expect(printIR(parseIRSync(printed))).toBe(printed);
  return "graph";
}

describe("parseIRSync on mutated IR text", () => {
  it("returns a verified, round-tripping graph or throws IRParseError inside the text", () => {
    const seen = { graph: 0, error: 0 };
    fc.assert(
      fc.property(mutated, (text) => {
        seen[check(text)]++;
      }),
      { numRuns: 1500 },
    );
    // Both outcomes must actually occur, or the mutations are not exercising the parser.
    expect(seen.graph).toBeGreaterThan(0);
    expect(seen.error).toBeGreaterThan(0);
  });

  it("never loses a position on arbitrary text", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        check(text);
      }),
      { numRuns: 500 },
    );
  });
});
