/**
 * Inlining: every `jit` call replaced by its callee's body, recursively, so a pass or the
 * lowering sees one flat graph (an explicit stack of calls: IR text may nest them thousands deep). Other composite nodes (`fusion`, `flash_attention`; see
 * ir/primitives.ts) stay whole: a pass made them to be kernels of their own.
 * Returns the graph itself when it calls nothing.
 */
import { type Graph, GraphBuilder, type Node, type Value } from "./graph.js";
import { compositeBody } from "./primitives.js";

/** One call being inlined: the callee, its values' copies so far, and the next node to copy. */
interface Frame {
  readonly callee: Graph;
  readonly local: Map<Value, Value>;
  next: number;
  /** The call node in the caller whose outputs this frame's results become. */
  readonly call?: Node;
}

export function inlineCalls(g: Graph): Graph {
  if (!g.nodes.some((n) => n.prim === "jit")) return g;
  const builder = new GraphBuilder(g.name);
  const frameOf = (callee: Graph, args: readonly Value[], call?: Node): Frame => {
    const local = new Map<Value, Value>();
    callee.inputs.forEach((v, i) => local.set(v, args[i]!));
    return call ? { callee, local, next: 0, call } : { callee, local, next: 0 };
  };
  // An explicit stack of calls, not recursion: IR text may nest calls thousands deep.
  const stack = [frameOf(g, g.inputs.map((v) => builder.input(v.type, v.hint)))];
  let results: Value[] = [];
  while (stack.length) {
    const frame = stack[stack.length - 1]!;
    const n = frame.callee.nodes[frame.next++];
    if (n === undefined) {
      stack.pop();
      results = frame.callee.outputs.map((v) => frame.local.get(v)!);
      const caller = stack[stack.length - 1];
      if (caller) frame.call!.outputs.forEach((v, i) => caller.local.set(v, results[i]!));
      continue;
    }
    const ins = n.inputs.map((v) => frame.local.get(v)!);
    if (n.prim === "jit") stack.push(frameOf(compositeBody("jit", (n as Node<"jit">).params), ins, n));
    else {
      const outs = builder.copy(n, ins);
      n.outputs.forEach((v, i) => frame.local.set(v, outs[i]!));
    }
  }
  return builder.build(results);
}
