/**
 * Inlines every `jit` call, so later passes and codegen see one flat graph. Other
 * composite nodes (ir/primitives.ts) stay whole: a pass made them to be one kernel.
 */
import { Graph, GraphBuilder, type Node, type Value } from "../ir/graph.js";
import { compositeBody } from "../ir/primitives.js";
import type { Pass } from "./pipeline.js";

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

export const inlinePass: Pass = { name: "inline", run: (g) => inlineCalls(g) };
