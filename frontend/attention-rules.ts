/**
 * flash_attention's own differentiation rules (DESIGN.md, composite-node convention: a
 * primitive with a rule of its own overrides the body rule). The JVP emits the forward node
 * for the primal and a `flash_attention_jvp` node for the tangent, linear in dq, dk, dv;
 * transposing that node (vjp) emits `flash_attention_bwd`, which codegen lowers to
 * FlashAttention-2's tiled backward (Dao 2023, Algorithm 2) recomputing P from the stored
 * log-sum-exp. Both new nodes carry bodies derived from the forward's body by the generic
 * jvp and transpose, so their meaning (and the interpreter's answer) is the materialised
 * derivative, never a second hand-written formula.
 *
 * patternsBeforeDifferentiation (below) also finds mixtures of experts, whose rules are in
 * frontend/moe-rules.ts.
 *
 * The rules are function declarations: jvp.ts and transpose.ts import them while this module
 * imports jvpFlat and transposeGraph back (an import cycle that only calls at run time).
 */
import type { Target } from "../codegen/target.js";
import type { Graph } from "../ir/graph.js";
import type { PrimitiveParams } from "../ir/primitives.js";
import { loadedPasses } from "./compile.js";
import { Tensor, bind, getBackend } from "./core.js";
import type { JvpRule, Tangent } from "./jvp.js";
import { jvpFlat } from "./jvp.js";
import * as lax from "./lax.js";
import { inlineCalls } from "../ir/inline.js";
import { jitSettings } from "./jit.js";
import { evalGraphWithBind, stageGraph } from "./staging.js";
import { type TransposeRule, transposeGraph } from "./transpose.js";

type FlashParams = PrimitiveParams["flash_attention"];

const forwardOperands = (p: FlashParams) => 3 + Number(p.bias) + Number(p.mask);

/** The tangent body of each forward body, staged once (so the compile cache sees one graph). */
const tangentBodies = new WeakMap<Graph, Graph>();

/** The forward body as a function of q, k, v, with bias and mask held fixed. */
const forwardOf = (body: Graph, rest: Tensor[]) => (qkv: Tensor[]) => evalGraphWithBind(body, [...qkv, ...rest]);

/** (forward operands, out, lse, dq, dk, dv) -> (d out, d lse): the body's forward-mode derivative. */
function tangentBody(params: FlashParams): Graph {
  const hit = tangentBodies.get(params.body);
  if (hit) return hit;
  const body = params.body, n = forwardOperands(params);
  const fwd = body.inputs.map((v) => v.type), res = body.outputs.map((v) => v.type);
  const staged = stageGraph(`${body.name}_jvp`, [...fwd, ...res, ...fwd.slice(0, 3)], (args) => {
    const primals = args.slice(0, n);
    const [, touts] = jvpFlat(forwardOf(body, primals.slice(3)), primals.slice(0, 3), args.slice(n + 2));
    return touts.map((t, i) => t ?? lax.zerosLike(args[n + i]!));
  }).graph;
  tangentBodies.set(body, staged);
  return staged;
}

/**
 * JVP of flash_attention. A tangent on the bias (a learned bias's gradient is the N×N
 * score cotangent itself) goes through the body (`viaBody`); otherwise the tangent is
 * one flash_attention_jvp node, zero tangents of q, k or v made explicit so the node
 * has one operand layout.
 */
export function flashAttentionJvp(viaBody: JvpRule<"flash_attention">): JvpRule<"flash_attention"> {
  return (primals, tangents, params) => {
    if (tangents.slice(3).some((t) => t !== null)) return viaBody(primals, tangents, params);
    const [out, lse] = bind("flash_attention", primals, params) as [Tensor, Tensor];
    const dqkv = tangents.slice(0, 3).map((t, i) => t ?? lax.zerosLike(primals[i]!));
    const touts: Tangent[] = bind("flash_attention_jvp", [...primals, out, lse, ...dqkv], { ...params, body: tangentBody(params) });
    return [[out, lse], touts];
  };
}

/**
 * flash_attention_jvp is linear in its last three operands; its transpose is the tiled
 * backward, whose body is the tangent body transposed (the materialised backward).
 */
export function flashAttentionJvpTranspose(): TransposeRule<"flash_attention_jvp"> {
  return (cts, args, params) => {
    const n = args.length - 3;
    const fixed = args.slice(0, n);
    if (!fixed.every((a): a is Tensor => a instanceof Tensor))
      throw new Error("transpose: flash_attention_jvp is linear only in dq, dk, dv; an operand before them is linear");
    const [out, lse] = fixed.slice(n - 2);
    const ct = [cts[0] ?? lax.zerosLike(out!), cts[1] ?? lax.zerosLike(lse!)];
    const body = transposeGraph(params.body, args.map((_, i) => i >= n));
    const grads = bind("flash_attention_bwd", [...fixed, ...ct], { ...params, body });
    return args.map((a, i) => (i >= n && !(a instanceof Tensor) ? grads[i - n]! : null));
  };
}

const rewritten = new WeakMap<Graph, Graph>();

/** The target of the backend a jit runs on, so the pass applies its device policy (CPU adapters); none before init. */
function backendTarget(name: string | undefined): Target | undefined {
  try {
    return getBackend(name).target;
  } catch {
    return undefined;
  }
}

/**
 * A jit-compiled function's graph with attention and mixtures of experts found in it before
 * it is differentiated, so that grad(jit(f)) of hand-written attention runs the tiled
 * backward and of nn.moe the routed one: the pattern passes run after tracing, and
 * jit(grad(f)) has already spelled the backward out in primitives by then (where the scores
 * must exist, and every expert runs on every token). Each pass applies where the function's
 * jit options leave it on; the graph itself is returned when they find nothing.
 */
export function patternsBeforeDifferentiation(callee: Graph): Graph {
  const hit = rewritten.get(callee);
  if (hit) return hit;
  const settings = jitSettings(callee);
  let out = callee;
  const on = (pass: string) => settings && settings.fuse !== false && !settings.disablePasses?.includes(pass);
  const attention = on("attention") && callee.nodes.some((n) => n.prim === "exp") && callee.nodes.some((n) => n.prim === "dot_general" || n.prim === "jit");
  const moe = on("moe") && callee.nodes.some((n) => n.prim === "top_k" || n.prim === "jit");
  if (attention || moe) {
    const target = backendTarget(settings!.backend);
    const ctx = { notes: [], differentiated: true, ...(target ? { target } : {}) };
    const { attentionPass, moePass, canonicalizePass } = loadedPasses();
    let g = canonicalizePass.run(inlineCalls(callee), ctx);
    if (attention) g = attentionPass.run(g, ctx);
    if (moe) g = moePass.run(g, ctx);
    if (g.nodes.some((n) => n.prim === "flash_attention" || n.prim === "moe_ffn")) out = g;
  }
  rewritten.set(callee, out);
  return out;
}
