/**
 * Test graphs for the pass suites, built as the frontend would trace them (W1, softmax,
 * layer norm, MLP, many-input sums), plus helpers: run the pipeline applying the
 * round-trip law after every pass, evaluate on the interpreter, compare results, and
 * re-state the fusion contract of passes/fuse.ts so a violation names the node.
 */
import { expect } from "vitest";
import { webgpuTarget } from "../../codegen/target.js";
import { type AbstractValue, type DType, type HostArray, hostArray, sameShape, sizeOf } from "../../ir/dtype.js";
import { type Graph, GraphBuilder, type Node, type Value } from "../../ir/graph.js";
import type { Primitive, PrimitiveParams } from "../../ir/primitives.js";
import { type PipelineOptions, type Stage, runPipeline } from "../../passes/pipeline.js";
import { evalGraph } from "../../runtime/interp.js";
import { roundTrip } from "../ir/roundtrip.js";

/** A GraphBuilder with one-line ops, so test graphs read like the math. */
export class Tb {
  readonly b: GraphBuilder;
  constructor(name: string) {
    this.b = new GraphBuilder(name);
  }
  input(dtype: DType, shape: number[], hint?: string): Value {
    return this.b.input({ dtype, shape }, hint);
  }
  op<P extends Primitive>(prim: P, inputs: Value[], params: PrimitiveParams[P] = {} as PrimitiveParams[P]): Value {
    return this.b.add(prim, inputs, params)[0]!;
  }
  /** A scalar constant broadcast to `shape`, as `fullLike` traces it. */
  full(value: number, shape: readonly number[], dtype: DType = "f32"): Value {
    const c = this.op("constant", [], { value: [value], shape: [], dtype });
    return shape.length ? this.op("broadcast_in_dim", [c], { shape: [...shape], dims: [] }) : c;
  }
  bcast(x: Value, shape: number[], dims: number[]): Value {
    return this.op("broadcast_in_dim", [x], { shape, dims });
  }
  build(outputs: Value[]): Graph {
    return this.b.build(outputs);
  }
}

/** W1: an elementwise chain of ~10 ops over a vector. */
export function w1(n = 64): Graph {
  const t = new Tb("w1");
  const x = t.input("f32", [n], "x");
  const a = t.op("mul", [x, t.full(2, [n])]);
  const b = t.op("add", [a, t.full(1, [n])]);
  const c = t.op("tanh", [b]);
  const d = t.op("mul", [c, c]);
  const e = t.op("sub", [t.full(1, [n]), d]);
  const f = t.op("mul", [e, x]);
  const g = t.op("max", [f, t.full(0, [n])]);
  const h = t.op("sqrt", [t.op("add", [g, t.full(1, [n])])]);
  return t.build([t.op("exp", [t.op("neg", [h])])]);
}

/** softmax over the last axis; `keepdims` spells the broadcast as jnp does (reshape to [R,1]). */
export function softmax(r = 4, c = 8, keepdims = false): Graph {
  const t = new Tb("softmax");
  const x = t.input("f32", [r, c], "x");
  const back = (v: Value) =>
    keepdims ? t.bcast(t.op("reshape", [v], { shape: [r, 1] }), [r, c], [0, 1]) : t.bcast(v, [r, c], [0]);
  const m = t.op("reduce_max", [x], { axes: [1] });
  const e = t.op("exp", [t.op("sub", [x, back(m)])]);
  const s = t.op("reduce_sum", [e], { axes: [1] });
  return t.build([t.op("div", [e, back(s)])]);
}

/** layer norm over the last axis with gain and bias. */
export function layerNorm(r = 4, c = 8, eps = 1e-5): Graph {
  const t = new Tb("layer_norm");
  const x = t.input("f32", [r, c], "x");
  const gamma = t.input("f32", [c], "gamma");
  const beta = t.input("f32", [c], "beta");
  const mean = t.op("div", [t.op("reduce_sum", [x], { axes: [1] }), t.full(c, [r])]);
  const xc = t.op("sub", [x, t.bcast(mean, [r, c], [0])]);
  const v = t.op("div", [t.op("reduce_sum", [t.op("mul", [xc, xc])], { axes: [1] }), t.full(c, [r])]);
  const inv = t.op("rsqrt", [t.op("add", [v, t.full(eps, [r])])]);
  const y = t.op("mul", [t.op("mul", [xc, t.bcast(inv, [r, c], [0])]), t.bcast(gamma, [r, c], [1])]);
  return t.build([t.op("add", [y, t.bcast(beta, [r, c], [1])])]);
}

const MATMUL = { lhs_contract: [1], rhs_contract: [0], lhs_batch: [], rhs_batch: [] };

/** gelu (tanh form) as nn.gelu traces it. */
export function gelu(t: Tb, x: Value): Value {
  const s = [...x.shape];
  const x3 = t.op("mul", [t.op("mul", [x, x]), x]);
  const inner = t.op("mul", [t.full(Math.sqrt(2 / Math.PI), s), t.op("add", [x, t.op("mul", [t.full(0.044715, s), x3])])]);
  return t.op("mul", [t.op("mul", [t.full(0.5, s), x]), t.op("add", [t.full(1, s), t.op("tanh", [inner])])]);
}

/** W5: gelu(x·W1 + b1)·W2 + b2. */
export function mlp(n = 4, d = 8, h = 16): Graph {
  const t = new Tb("mlp");
  const x = t.input("f32", [n, d], "x");
  const w1 = t.input("f32", [d, h], "w1");
  const b1 = t.input("f32", [h], "b1");
  const w2 = t.input("f32", [h, d], "w2");
  const b2 = t.input("f32", [d], "b2");
  const hid = gelu(t, t.op("add", [t.op("dot_general", [x, w1], MATMUL), t.bcast(b1, [n, h], [1])]));
  return t.build([t.op("add", [t.op("dot_general", [hid, w2], MATMUL), t.bcast(b2, [n, d], [1])])]);
}

/** The sum of `k` inputs, left to right. */
export function sumOf(k: number, n = 16): Graph {
  const t = new Tb("sum_of");
  const xs = Array.from({ length: k }, (_, i) => t.input("f32", [n], `x${i}`));
  return t.build([xs.slice(1).reduce((acc, x) => t.op("add", [acc, x]), xs[0]!)]);
}

// ---------------------------------------------------------------------------

/** Runs the pipeline; every stage must verify and obey the round-trip law. */
export function stagesOf(g: Graph, options: PipelineOptions = {}): Stage[] {
  const { stages } = runPipeline(g, { verify: true, ...options });
  for (const s of stages) roundTrip(s.graph);
  return stages;
}

export const finalGraph = (g: Graph, options: PipelineOptions = {}) => stagesOf(g, options).at(-1)!.graph;

export const limitTarget = (n: number) => webgpuTarget({ maxStorageBuffersPerShaderStage: n });

export const fusions = (g: Graph) => g.nodes.filter((n): n is Node<"fusion"> => n.prim === "fusion");

/** Deterministic inputs in [-1, 1) for a graph's signature. */
export function inputsFor(g: Graph, seed = 1): HostArray[] {
  let s = seed >>> 0 || 1;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  return g.inputs.map((v) => {
    const n = sizeOf(v.shape);
    const data = Array.from({ length: n }, () => (v.dtype === "f32" ? next() * 2 - 1 : Math.floor(next() * 7) - 3));
    return hostArray(v.dtype, v.shape, v.dtype === "bool" ? data.map((x) => (x > 0 ? 1 : 0)) : data);
  });
}

/** Elements equal within a relative tolerance; NaN equals NaN, infinities must match. */
export function expectClose(actual: HostArray[], expected: HostArray[], tol = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => {
    const e = expected[i]!;
    expect(a.shape).toEqual(e.shape);
    for (let j = 0; j < e.data.length; j++) {
      const x = a.data[j]!, y = e.data[j]!;
      if (Number.isNaN(y) || !Number.isFinite(y)) expect(x).toBe(y);
      else if (Math.abs(x - y) > tol * (1 + Math.abs(y))) expect.fail(`output ${i}[${j}]: ${x} vs ${y}`);
    }
  });
}

export const run = (g: Graph, inputs: HostArray[]) => evalGraph(g, inputs);

const REDUCES = new Set(["reduce_sum", "reduce_max", "reduce_min"]);
const VIEWS = new Set(["broadcast_in_dim", "reshape", "transpose", "slice", "pad", "concatenate"]);
const ALLOWED = new Set([
  "neg", "abs", "sign", "exp", "log", "sin", "cos", "tanh", "logistic", "sqrt", "rsqrt", "erf", "floor", "ceil",
  "round", "not", "add", "sub", "mul", "div", "pow", "max", "min", "and", "or", "eq", "ne", "lt", "le", "gt", "ge",
  "select", "cast", "iota", "broadcast_in_dim", "reshape", "transpose", "slice", "pad", "concatenate",
]);

/**
 * The fusion contract codegen relies on (passes/fuse.ts), stated independently: returns
 * a list of violations (empty when the node is a kernel codegen can lower).
 */
export function contractViolations(n: Node<"fusion">, limit: number): string[] {
  const { body, kind } = n.params;
  const bad: string[] = [];
  if (kind === "attention" || kind === "moe") {
    // One template node; everything else is a layout op over inputs (its operand views and result fold).
    const templates = body.nodes.filter((m) => (kind === "moe" ? m.prim === "moe_ffn" : m.prim === "flash_attention" || m.prim === "flash_attention_bwd"));
    if (templates.length !== 1) bad.push(`${templates.length} template nodes in a ${kind} fusion`);
    for (const m of body.nodes) if (!templates.includes(m) && !VIEWS.has(m.prim)) bad.push(`${kind} body holds ${m.prim}`);
    return bad;
  }
  const shapeOf = (v: AbstractValue) => `[${v.shape}]`;
  if (body.inputs.length + body.outputs.length > limit) bad.push(`binds ${body.inputs.length + body.outputs.length} > ${limit}`);
  const producer = new Map<Value, Node>();
  for (const m of body.nodes) for (const v of m.outputs) producer.set(v, m);
  for (const m of body.nodes) {
    const ok = ALLOWED.has(m.prim) || (m.prim === "constant" && (m.params as PrimitiveParams["constant"]).value.length === 1) ||
      (kind === "reduction" && REDUCES.has(m.prim)) || (kind === "matmul" && m.prim === "dot_general");
    if (!ok) bad.push(`${kind} body holds ${m.prim}`);
  }
  if (body.outputs.some((v) => !producer.has(v))) bad.push("an output is a body input");
  // Values made from iota and constants alone (a causal mask) are recomputed wherever they are read: any shape.
  const sourceOnly = (v: Value): boolean => {
    const p = producer.get(v);
    return p !== undefined && (p.prim === "iota" || p.prim === "constant" || (p.inputs.length > 0 && p.inputs.every(sourceOnly)));
  };
  const computed = body.nodes.filter((m) => !VIEWS.has(m.prim) && !sourceOnly(m.outputs[0]!));
  if (kind === "elementwise") {
    const d = body.outputs[0]!;
    if (body.outputs.some((v) => !sameShape(v.shape, d.shape))) bad.push("outputs differ in shape");
  } else if (kind === "matmul") {
    const dots = body.nodes.filter((m) => m.prim === "dot_general");
    if (dots.length !== 1) bad.push(`${dots.length} dot_generals`);
    const dot = dots[0]!;
    // An operand is made from inputs (and sources) by layout ops alone: the template's
    // address map where they are strided, an index expression per element otherwise.
    const loaded = (v: Value): boolean => {
      const p = producer.get(v);
      return !p || sourceOnly(v) || (VIEWS.has(p.prim) && p.inputs.every(loaded));
    };
    if (!dot.inputs.every(loaded)) bad.push("a dot_general operand is computed in the kernel");
    for (const m of computed) if (!sameShape(m.outputs[0]!.shape, dot.outputs[0]!.shape)) bad.push(`${m.prim} ${shapeOf(m.outputs[0]!)} in a matmul epilogue`);
  } else if (kind === "reduction") {
    const reds = body.nodes.filter((m) => REDUCES.has(m.prim));
    if (!reds.length) bad.push("no reduction");
    const d = reds[0]!.inputs[0]!.shape, axes = (reds[0]!.params as { axes: number[] }).axes;
    const k = d.filter((_, i) => !axes.includes(i));
    for (const r of reds)
      if (!sameShape(r.inputs[0]!.shape, d) || `${(r.params as { axes: number[] }).axes}` !== `${axes}`) bad.push("reductions over different rows");
    for (const m of computed)
      if (!sameShape(m.outputs[0]!.shape, d) && !sameShape(m.outputs[0]!.shape, k)) bad.push(`${m.prim} ${shapeOf(m.outputs[0]!)} outside the rows`);
    // A view of a computed value must be the row broadcast K → D along the kept axes.
    for (const m of body.nodes) {
      if (!VIEWS.has(m.prim)) continue;
      const src = producer.get(m.inputs[0]!);
      if (!src || sourceOnly(m.inputs[0]!) || VIEWS.has(src.prim)) continue;
      const p = m.params as PrimitiveParams["broadcast_in_dim"];
      const kept = d.flatMap((_, i) => (axes.includes(i) ? [] : [i]));
      if (m.prim !== "broadcast_in_dim" || !sameShape(p.shape, d) || `${p.dims}` !== `${kept}`) bad.push(`${m.prim} of a computed value off the rows`);
    }
  } else bad.push(`unknown kind ${kind}`);
  return bad;
}
