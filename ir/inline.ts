/**
 * Inlining: every `jit` call replaced by its callee's body, recursively, so a pass or the
 * lowering sees one flat graph. A `fusion` node stays whole: its body is one kernel.
 * Returns the graph itself when it calls nothing.
 */
import { type Graph, GraphBuilder, type Value } from "./graph.js";

export function inlineCalls(g: Graph): Graph {
  if (!g.nodes.some((n) => n.prim === "jit")) return g;
  const b = new GraphBuilder(g.name);
  const env = new Map<Value, Value>();
  for (const v of g.inputs) env.set(v, b.input(v.type, v.hint));
  const emit = (h: Graph, args: Value[]): Value[] => {
    const local = new Map<Value, Value>();
    h.inputs.forEach((v, i) => local.set(v, args[i]!));
    for (const n of h.nodes) {
      const ins = n.inputs.map((v) => local.get(v)!);
      const outs =
        n.prim === "jit"
          ? emit((n.params as { callee: Graph }).callee, ins)
          : b.copy(n, ins);
      n.outputs.forEach((v, i) => local.set(v, outs[i]!));
    }
    return h.outputs.map((v) => local.get(v)!);
  };
  const outs = emit(g, g.inputs.map((v) => env.get(v)!));
  return b.build(outs);
}
