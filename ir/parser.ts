/**
 * The public IR parser. The parser proper (ir/parse.ts, built on chevrotain) is most of
 * smelt's code by size and only `parseIR` needs it, so it loads on first use: a page that
 * never parses IR never downloads it.
 */
import type { Graph } from "./graph.js";

let loading: Promise<typeof import("./parse.js")> | undefined;

/**
 * Parses a module printed by `printIR` (edited or not) back into a Graph: the last
 * function, with the functions it calls. Rejects with `IRParseError` (1-based line and
 * column, what was expected and what was found) for anything malformed.
 */
export async function parseIR(text: string): Promise<Graph> {
  loading ??= import("./parse.js");
  return (await loading).parseIRSync(text);
}
