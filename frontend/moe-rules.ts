/**
 * moe_ffn's own differentiation rules, built the way flash_attention's are
 * (frontend/attention-rules.ts): the JVP emits the forward node for the primal and a
 * `moe_ffn_jvp` node for the tangent, linear in the operands' tangents; transposing that
 * node (vjp) emits `moe_ffn_bwd`, which codegen lowers to routed kernels (codegen/moe-bwd.ts).
 * Both bodies come from the forward's body by the generic jvp and transpose, so the
 * interpreter's answer is the dense derivative.
 *
 * One change to the forward body before it is differentiated: the expert activation (the
 * elementwise chain from x·w1 [+ b1] and x·w3 to the value w2 multiplies) becomes a `jit`
 * call of its own graph. Its tangent is then a call too, and so is that call's transpose,
 * (pre, up, d hidden) -> (d pre, d up): the backward's body carries the activation's
 * derivative as a graph the routed kernels evaluate element by element, whatever the
 * activation (gelu, silu, relu, a user's own).
 */
import { type Graph, GraphBuilder, type Node, type Value } from "../ir/graph.js";
import { type PrimitiveParams, moeExpertValues, moeOperandNames } from "../ir/primitives.js";
import { Tensor, bind } from "./core.js";
import type { JvpRule, Tangent } from "./jvp.js";
import { jvpFlat } from "./jvp.js";
import * as lax from "./lax.js";
import { evalGraphWithBind, stageGraph } from "./staging.js";
import { type TransposeRule, transposeGraph } from "./transpose.js";

type MoeParams = PrimitiveParams["moe_ffn"];

/** Graph name of the activation called from the body being differentiated (codegen/moe-bwd.ts finds its calls by their shapes). */
export const MOE_ACTIVATION = "moe_activation";

/**
 * The forward body with its activation chain as a call of a graph of its own,
 * (pre[, up]) -> hidden. Chain values read elsewhere in the body are computed there too.
 */
export function activationAsCall(body: Graph, params: MoeParams): Graph {
  const { pre, up, hidden } = moeExpertValues(body, params);
  const producer = new Map<Value, Node>();
  for (const n of body.nodes) for (const v of n.outputs) producer.set(v, n);
  const chain = new Set<Node>();
  const inputs = new Set(body.inputs);
  const stack = [hidden];
  while (stack.length) {
    const v = stack.pop()!;
    if (v === pre || v === up) continue;
    if (inputs.has(v)) throw new Error(`moe_ffn @${body.name}: the expert activation reads operand ${v.hint ?? ""} besides the first layer`);
    const n = producer.get(v)!;
    if (chain.has(n)) continue;
    chain.add(n);
    stack.push(...n.inputs);
  }
  const act = new GraphBuilder(MOE_ACTIVATION);
  const local = new Map<Value, Value>([[pre, act.input(pre.type, "pre")]]);
  if (up) local.set(up, act.input(up.type, "up"));
  for (const n of body.nodes) if (chain.has(n)) n.outputs.forEach((v, i) => local.set(v, act.copy(n, n.inputs.map((u) => local.get(u)!))[i]!));
  const callee = act.build([local.get(hidden)!]);

  // A chain node whose values only the chain reads is left out of the rewritten body.
  const readOutside = new Set<Value>(body.outputs);
  for (const n of body.nodes) if (!chain.has(n)) for (const v of n.inputs) readOutside.add(v);
  const b = new GraphBuilder(body.name);
  const env = new Map(body.inputs.map((v) => [v, b.input(v.type, v.hint)] as const));
  for (const n of body.nodes) {
    if (n === producer.get(hidden)) {
      env.set(hidden, b.add("jit", [env.get(pre)!, ...(up ? [env.get(up)!] : [])], { callee })[0]!);
      continue;
    }
    if (chain.has(n) && !n.outputs.some((v) => readOutside.has(v))) continue;
    b.copy(n, n.inputs.map((v) => env.get(v)!)).forEach((o, i) => env.set(n.outputs[i]!, o));
  }
  return b.build(body.outputs.map((v) => env.get(v)!));
}

const tangentBodies = new WeakMap<Graph, Graph>();

/** (operands, their tangents) -> d out: the forward-mode derivative of the body, its activation a call. */
function tangentBody(params: MoeParams): Graph {
  const hit = tangentBodies.get(params.body);
  if (hit) return hit;
  const body = activationAsCall(params.body, params);
  const types = body.inputs.map((v) => v.type);
  const n = types.length;
  const staged = stageGraph(`${params.body.name}_jvp`, [...types, ...types], (args) => {
    const [, touts] = jvpFlat((xs) => evalGraphWithBind(body, xs), args.slice(0, n), args.slice(n));
    return [touts[0] ?? lax.zerosLike(args[0]!)];
  }).graph;
  tangentBodies.set(params.body, staged);
  return staged;
}

/** JVP of moe_ffn: the node for the primal, one moe_ffn_jvp node for the tangent (zero tangents made explicit). */
export function moeJvp(): JvpRule<"moe_ffn"> {
  return (primals, tangents, params) => {
    const out = bind("moe_ffn", primals, params);
    if (tangents.every((t) => t === null)) return [out, [null]];
    const ts = tangents.map((t, i) => t ?? lax.zerosLike(primals[i]!));
    const touts: Tangent[] = bind("moe_ffn_jvp", [...primals, ...ts], { ...params, body: tangentBody(params) });
    return [out, touts];
  };
}

/** moe_ffn_jvp is linear in its tangents; its transpose is moe_ffn_bwd, the dense backward as its body. */
export function moeJvpTranspose(): TransposeRule<"moe_ffn_jvp"> {
  return (cts, args, params) => {
    const n = moeOperandNames(params).length;
    const fixed = args.slice(0, n);
    if (!fixed.every((a): a is Tensor => a instanceof Tensor))
      throw new Error("transpose: moe_ffn_jvp is linear only in the tangents; an operand before them is linear");
    const ct = cts[0] ?? lax.zerosLike(fixed[0]!);
    const body = transposeGraph(params.body, args.map((_, i) => i >= n));
    const grads = bind("moe_ffn_bwd", [...fixed, ct], { ...params, body });
    return args.map((a, i) => (i >= n && !(a instanceof Tensor) ? grads[i - n]! : null));
  };
}

