/**
 * The inline pass: every `jit` call replaced by its body (ir/inline.ts), so later passes see
 * one flat graph. A flash_attention_jvp or moe_ffn_jvp node (a forward-mode tangent, frontend/attention-rules.ts,
 * frontend/moe-rules.ts) has no kernel of its own either: it is inlined as a call of its body.
 */
import { type Graph, GraphBuilder, type Node } from "../ir/graph.js";
import { type PrimitiveParams, moeActivationCalls } from "../ir/primitives.js";
import { inlineCalls } from "../ir/inline.js";
import type { Pass } from "./pipeline.js";

export { inlineCalls } from "../ir/inline.js";

const TANGENT_NODES: readonly string[] = ["flash_attention_jvp", "moe_ffn_jvp"];

/**
 * Nodes that run as their body: tangent nodes, and a moe_ffn_bwd whose body does not call the
 * activation graphs its routed lowering evaluates (one written by hand in IR text).
 */
const asBody = (n: Node) =>
  TANGENT_NODES.includes(n.prim) || (n.prim === "moe_ffn_bwd" && !moeActivationCalls((n.params as PrimitiveParams["moe_ffn_bwd"]).body, (n.params as PrimitiveParams["moe_ffn_bwd"]).gated));

/** Each node that runs as its body re-emitted as a `jit` call of it. */
function tangentsAsCalls(g: Graph): Graph {
  if (!g.nodes.some(asBody)) return g;
  const b = new GraphBuilder(g.name);
  const env = new Map(g.inputs.map((v) => [v, b.input(v.type, v.hint)] as const));
  for (const n of g.nodes) {
    const ins = n.inputs.map((v) => env.get(v)!);
    const outs = asBody(n)
      ? b.add("jit", ins, { callee: (n.params as { body: Graph }).body })
      : b.copy(n, ins);
    n.outputs.forEach((v, i) => env.set(v, outs[i]!));
  }
  return b.build(g.outputs.map((v) => env.get(v)!));
}

export const inlinePass: Pass = { name: "inline", run: (g) => inlineCalls(tangentsAsCalls(inlineCalls(g))) };
