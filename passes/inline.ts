/**
 * The inline pass: every `jit` call replaced by its body (ir/inline.ts), so later passes see
 * one flat graph. A flash_attention_jvp or moe_ffn_jvp node (a forward-mode tangent, frontend/attention-rules.ts,
 * frontend/moe-rules.ts) has no kernel of its own either: it is inlined as a call of its body.
 */
import { type Graph, GraphBuilder } from "../ir/graph.js";
import { inlineCalls } from "../ir/inline.js";
import type { Pass } from "./pipeline.js";

export { inlineCalls } from "../ir/inline.js";

const TANGENT_NODES: readonly string[] = ["flash_attention_jvp", "moe_ffn_jvp"];

/** Each tangent node re-emitted as a `jit` call of its body. */
function tangentsAsCalls(g: Graph): Graph {
  if (!g.nodes.some((n) => TANGENT_NODES.includes(n.prim))) return g;
  const b = new GraphBuilder(g.name);
  const env = new Map(g.inputs.map((v) => [v, b.input(v.type, v.hint)] as const));
  for (const n of g.nodes) {
    const ins = n.inputs.map((v) => env.get(v)!);
    const outs = TANGENT_NODES.includes(n.prim)
      ? b.add("jit", ins, { callee: (n.params as { body: Graph }).body })
      : b.copy(n, ins);
    n.outputs.forEach((v, i) => env.set(v, outs[i]!));
  }
  return b.build(g.outputs.map((v) => env.get(v)!));
}

export const inlinePass: Pass = { name: "inline", run: (g) => inlineCalls(tangentsAsCalls(inlineCalls(g))) };
