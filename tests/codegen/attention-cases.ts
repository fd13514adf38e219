/** Flash-attention test cases shared by the WebGPU and CUDA suites. */
import type { AbstractValue, HostArray } from "../../ir/dtype.js";
import { type Graph, GraphBuilder } from "../../ir/graph.js";
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

