/** Flash-attention test cases shared by the WebGPU and CUDA suites. */
import { type Tensor, bind } from "../../frontend/core.js";
import * as lax from "../../frontend/lax.js";
import { evalGraphWithBind, stageGraph } from "../../frontend/staging.js";
import { grad } from "../../frontend/vjp.js";
import type { AbstractValue, HostArray } from "../../ir/dtype.js";
import { type Graph, GraphBuilder, type Node } from "../../ir/graph.js";
import { addFlashAttention } from "../../passes/attention-body.js";
import { fill } from "../runtime/webgpu-arbitraries.js";

export interface FlashCase {
  g: number; rep: number; sq: number; sk: number; d: number; dv: number;
  causal: boolean; bias?: number[]; mask?: number[];
}

export function flashGraph(c: FlashCase): Graph {
  const b = new GraphBuilder("flash");
  const t = (shape: number[], dtype: AbstractValue["dtype"] = "f32") => b.input({ dtype, shape });
  const gk = c.g / c.rep;
  const ops = [t([c.g, c.sq, c.d]), t([gk, c.sk, c.d]), t([gk, c.sk, c.dv])];
  if (c.bias) ops.push(t(c.bias));
  if (c.mask) ops.push(t(c.mask, "bool"));
  const outs = addFlashAttention(b, ops, { scale: 1 / Math.sqrt(c.d), causal: c.causal, bias: !!c.bias, mask: !!c.mask });
  return b.build(outs);
}

export function flashInputs(g: Graph, seed: number): HostArray[] {
  return g.inputs.map((v, i) => {
    if (v.dtype !== "bool") return fill("f32", v.shape, seed + i, -2, 2);
    // Keep key 0 of every row, so no row is fully masked (that row is NaN on both sides).
    const m = fill("f32", v.shape, seed + i, 0, 1);
    const sk = v.shape[2]!;
    return { dtype: "bool", shape: v.shape, data: Uint8Array.from(m.data, (x, k) => (k % sk === 0 || x > 0.3 ? 1 : 0)) };
  });
}


/** The case's flash_attention node's params and operand types. */
export function flashNode(c: FlashCase) {
  const g = flashGraph(c);
  const node = g.nodes.find((n): n is Node<"flash_attention"> => n.prim === "flash_attention")!;
  return { params: node.params, types: g.inputs.map((v) => v.type) };
}

/**
 * The gradient, with respect to q, k and v, of a scalar loss over attention's two results
 * weighted by two extra operands (so every element's cotangent differs); attention runs as
 * the flash node (grad emits flash_attention_bwd) or as its body (the materialised path).
 */
export function flashGradGraph(c: FlashCase, viaBody: boolean): Graph {
  const { params, types } = flashNode(c);
  const n = types.length;
  const outs = params.body.outputs.map((v) => v.type);
  return stageGraph("attention_grad", [...types, ...outs], (xs) => {
    const loss = (...args: Tensor[]) => {
      const ops = [...args, ...xs.slice(3, n)];
      const [out, lse] = viaBody ? evalGraphWithBind(params.body, ops) : bind("flash_attention", ops, params);
      const dot = (a: Tensor, w: Tensor) => lax.reduceSum(lax.mul(a, w), a.shape.map((_, i) => i));
      return lax.add(dot(out!, xs[n]!), dot(lse!, xs[n + 1]!));
    };
    return grad(loss, { argnums: [0, 1, 2] })(...xs.slice(0, 3)) as Tensor[];
  }).graph;
}
