/**
 * The rewrite step the pattern passes share: copy a graph, replacing each matched root by
 * the value its match emits, then drop what only the matched regions used.
 */
import { type Graph, GraphBuilder, type Node, type Value } from "../ir/graph.js";
import { eliminateDeadCode } from "./canonicalize.js";

/**
 * `g` with every node in `matches` replaced by what `emit` builds for its match (the new
 * value of the node's one result); `get` maps a value of `g` to its copy.
 */
export function replaceRoots<M>(g: Graph, matches: ReadonlyMap<Node, M>, emit: (b: GraphBuilder, m: M, get: (v: Value) => Value) => Value): Graph {
  const b = new GraphBuilder(g.name);
  const env = new Map<Value, Value>();
  for (const v of g.inputs) env.set(v, b.input(v.type, v.hint));
  const get = (v: Value) => env.get(v)!;
  for (const n of g.nodes) {
    const m = matches.get(n);
    if (m === undefined) b.copy(n, n.inputs.map(get)).forEach((v, i) => env.set(n.outputs[i]!, v));
    else env.set(n.outputs[0]!, emit(b, m, get));
  }
  return eliminateDeadCode(b.build(g.outputs.map(get))).graph;
}
