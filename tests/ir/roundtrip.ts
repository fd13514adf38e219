/**
 * The round-trip law, for any suite to apply to every graph it builds:
 * `printIR(parseIRSync(printIR(g))) === printIR(g)`, and both graphs verify.
 */
import { expect } from "vitest";
import { type Graph, verify } from "../../ir/graph.js";
import { parseIRSync } from "../../ir/parse.js";
import { printIR } from "../../ir/print.js";

export function roundTrip(g: Graph): void {
  verify(g);
  const text = printIR(g);
  const back = parseIRSync(text);
  verify(back);
  expect(printIR(back)).toBe(text);
}
