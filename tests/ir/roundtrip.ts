/**
 * The round-trip law, for any suite to apply to every graph it builds:
 * `printIR(parseIR(printIR(g))) === printIR(g)`, and both graphs verify.
 */
import { expect } from "vitest";
import { type Graph, verify } from "../../ir/graph.js";
import { parseIR } from "../../ir/parse.js";
import { printIR } from "../../ir/print.js";

export function roundTrip(g: Graph): void {
  verify(g);
  const text = printIR(g);
  const back = parseIR(text);
  verify(back);
  expect(printIR(back)).toBe(text);
}
