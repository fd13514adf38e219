/**
 * Inlining: every `jit` call replaced by its callee's body, recursively, so a pass or the
 * lowering sees one flat graph. Other composite nodes (`fusion`, `flash_attention`; see
 * ir/primitives.ts) stay whole: a pass made them to be kernels of their own.
 * Returns the graph itself when it calls nothing.
 */
import { type Graph, GraphBuilder, type Node, type Value } from "./graph.js";
import { compositeBody } from "./primitives.js";

export function inlineCalls(g: Graph): Graph {
  if (!g.nodes.some((n) => n.prim === "jit")) return g;
  const builder = new GraphBuilder(g.name);
  const inline = (callee: Graph, args: readonly Value[]): Value[] => {
    const local = new Map<Value, Value>();
    callee.inputs.forEach((v, i) => local.set(v, args[i]!));
    for (const n of callee.nodes) {
      const ins = n.inputs.map((v) => local.get(v)!);
      const outs = n.prim === "jit" ? inline(compositeBody("jit", (n as Node<"jit">).params), ins) : builder.copy(n, ins);
      n.outputs.forEach((v, i) => local.set(v, outs[i]!));
    }
    return callee.outputs.map((v) => local.get(v)!);
  };
  return builder.build(inline(g, g.inputs.map((v) => builder.input(v.type, v.hint))));
}
