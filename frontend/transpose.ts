/**
 * Transposition of linear graphs (autodidax, "Transposition" and `backward_pass`).
 * vjp stages the JVP of a function into a graph; the nodes that depend on the
 * tangent inputs are linear in them. `backwardPass` evaluates the other
 * (non-linear) nodes through `bind`, then walks the linear nodes in reverse and
 * applies each primitive's transpose rule, accumulating cotangents. Because it
 * runs on `bind`, whatever trace is current (jit's graph building, an outer jvp,
 * vmap) interprets the backward computation: that is what makes jit(grad(f)),
 * grad(grad(f)) and vmap(grad(f)) work.
 */
import type { AbstractValue } from "../ir/dtype.js";
import type { Graph, Node, Value } from "../ir/graph.js";
import { COMPOSITE_OPS, type CompositeOp, type Primitive, type PrimitiveParams, compositeBody } from "../ir/primitives.js";
import { flashAttentionJvpTranspose } from "./attention-rules.js";
import { moeJvpTranspose } from "./moe-rules.js";
import { type Tensor, bind } from "./core.js";
import * as lax from "./lax.js";
import { ruleFor } from "./rule-error.js";
import { stageGraph } from "./staging.js";

/** An operand of a linear node that is itself linear: known by type only (autodidax's UndefPrimal). */
export class LinearArg {
  constructor(readonly aval: AbstractValue) {}
}

/**
 * Maps output cotangents to operand cotangents. `args` holds the primal value of
 * each non-linear operand and a LinearArg for each linear one; a rule returns a
 * cotangent (or null, a zero) for every operand and is only read for linear ones.
 */
export type TransposeRule<P extends Primitive> = (
  cts: (Tensor | null)[],
  args: (Tensor | LinearArg)[],
  params: PrimitiveParams[P],
) => (Tensor | null)[];

export const zerosOf = (a: AbstractValue): Tensor =>
  lax.broadcastInDim(lax.constant([0], [], a.dtype), a.shape, []);

const isLin = (a: Tensor | LinearArg): a is LinearArg => a instanceof LinearArg;
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const argsort = (xs: readonly number[]) => xs.map((_, i) => i).sort((a, b) => xs[a]! - xs[b]!);

function notLinear(prim: string, why: string): never {
  throw new Error(`transpose: ${prim} is not linear in the operand being transposed (${why})`);
}

/** The one operand of a bilinear op that is not linear (mul, dot_general). */
function primalOperand(prim: string, args: (Tensor | LinearArg)[]): [Tensor, number] {
  const i = args.findIndex((a) => !isLin(a));
  if (i < 0) notLinear(prim, "both operands are linear");
  return [args[i] as Tensor, i];
}

/**
 * The transpose of dot_general with respect to its lhs (JAX's
 * `_dot_general_transpose_lhs`): contract the cotangent with y over y's kept
 * dims, then permute the result into x's axis order.
 */
function dotTransposeLhs(
  ct: Tensor, xShape: readonly number[], y: Tensor, p: PrimitiveParams["dot_general"], swapAns: boolean,
): Tensor {
  const { lhs_contract: xc, rhs_contract: yc, lhs_batch: xb, rhs_batch: yb } = p;
  const xKept = range(0, xShape.length).filter((i) => !xc.includes(i) && !xb.includes(i));
  const yKept = range(0, y.ndim).filter((i) => !yc.includes(i) && !yb.includes(i));
  const nb = xb.length;
  const ansBatch = range(0, nb);
  const ansY = swapAns ? range(nb, nb + yKept.length) : range(nb + xKept.length, nb + xKept.length + yKept.length);
  const xContractSortedByY = argsort(yc).map((i) => xc[i]!);
  const r = lax.dotGeneral(ct, y, { lhsContract: ansY, rhsContract: yKept, lhsBatch: ansBatch, rhsBatch: yb });
  return lax.transpose(r, argsort([...xb, ...xKept, ...xContractSortedByY]));
}

/**
 * The transpose of a strided slice: the cotangent placed at every stride-th
 * position. Along each strided axis, interleave zeros (reshape to [m, 1], pad to
 * [m, s], flatten), then pad/trim to the operand's extent.
 */
function sliceTranspose(ct: Tensor, x: AbstractValue, p: PrimitiveParams["slice"]): Tensor {
  let t = ct;
  p.strides.forEach((s, ax) => {
    if (s === 1) return;
    const m = t.shape[ax]!;
    const split = [...t.shape.slice(0, ax), m, 1, ...t.shape.slice(ax + 1)];
    const low = split.map(() => 0), high = split.map((_, i) => (i === ax + 1 ? s - 1 : 0));
    const padded = lax.pad(lax.reshape(t, split), low, high);
    t = lax.reshape(padded, [...t.shape.slice(0, ax), m * s, ...t.shape.slice(ax + 1)]);
  });
  // Now axis i holds extent start_i + ... from start_i; trim what runs past the operand, pad the rest.
  const keep = t.shape.map((d, i) => Math.min(d, x.shape[i]! - p.start[i]!));
  if (keep.some((k, i) => k !== t.shape[i])) t = lax.slice(t, keep.map(() => 0), keep);
  return lax.pad(t, p.start, x.shape.map((d, i) => d - p.start[i]! - keep[i]!));
}

/**
 * A composite node (ir/primitives.ts: a jit call, a fusion, ...) through its body: a
 * call of the body transposed with respect to the linear operands (transposeGraph).
 */
function bodyRule<P extends CompositeOp>(prim: P): TransposeRule<P> {
  return (cts, args, params) => {
    const body = compositeBody(prim, params);
    const linear = args.map(isLin);
    const outs = lax.call(transposeGraph(body, linear), [
      ...(args.filter((a) => !isLin(a)) as Tensor[]),
      ...cts.map((c, i) => c ?? zerosOf(body.outputs[i]!.type)),
    ]);
    let k = 0;
    return linear.map((l) => (l ? outs[k++]! : null));
  };
}

export const transposeRules: { readonly [P in Primitive]: TransposeRule<P> | null } = {
  neg: ([ct]) => [lax.neg(ct!)],
  add: ([ct]) => [ct!, ct!],
  sub: ([ct]) => [ct!, lax.neg(ct!)],
  mul: ([ct], args) => {
    const [y, i] = primalOperand("mul", args);
    const r = lax.mul(ct!, y);
    return i === 0 ? [null, r] : [r, null];
  },
  div: ([ct], [x, y]) => {
    if (!isLin(x!) || isLin(y!)) notLinear("div", "the divisor is linear");
    return [lax.div(ct!, y as Tensor), null];
  },
  select: ([ct], [p, a, b]) => {
    if (isLin(p!)) notLinear("select", "the predicate is linear");
    const z = lax.zerosLike(ct!);
    return [null, isLin(a!) ? lax.select(p as Tensor, ct!, z) : null, isLin(b!) ? lax.select(p as Tensor, z, ct!) : null];
  },
  cast: ([ct], [x]) => [lax.cast(ct!, x!.aval.dtype)],
  broadcast_in_dim: ([ct], [x], { shape, dims }) => {
    const xs = x!.aval.shape;
    const summed = range(0, shape.length).filter((a) => {
      const i = dims.indexOf(a);
      return i < 0 || (xs[i] === 1 && shape[a] !== 1);
    });
    return [lax.reshape(lax.reduceSum(ct!, summed), xs)];
  },
  reshape: ([ct], [x]) => [lax.reshape(ct!, x!.aval.shape)],
  transpose: ([ct], _args, { perm }) => [lax.transpose(ct!, argsort(perm))],
  slice: ([ct], [x], params) => [sliceTranspose(ct!, x!.aval, params)],
  pad: ([ct], [x], { low, high }) => {
    if (!isLin(x!)) return [null];
    return [lax.slice(ct!, low, ct!.shape.map((d, i) => d - high[i]!))];
  },
  concatenate: ([ct], args, { axis }) => {
    let at = 0;
    return args.map((a) => {
      const n = a.aval.shape[axis]!;
      const start = ct!.shape.map((_, i) => (i === axis ? at : 0));
      const limit = ct!.shape.map((d, i) => (i === axis ? at + n : d));
      at += n;
      return isLin(a) ? lax.slice(ct!, start, limit) : null;
    });
  },
  reduce_sum: ([ct], [x], { axes }) => {
    const shape = x!.aval.shape;
    return [lax.broadcastInDim(ct!, shape, range(0, shape.length).filter((i) => !axes.includes(i)))];
  },
  cumsum: ([ct], _args, { axis, reverse }) => [lax.cumsum(ct!, axis, !reverse)],
  dot_general: ([ct], args, params) => {
    const [x, y] = args as [Tensor | LinearArg, Tensor | LinearArg];
    if (isLin(x) && isLin(y)) notLinear("dot_general", "both operands are linear");
    if (isLin(x)) return [dotTransposeLhs(ct!, x.aval.shape, y as Tensor, params, false), null];
    const swapped = { lhs_contract: params.rhs_contract, rhs_contract: params.lhs_contract, lhs_batch: params.rhs_batch, rhs_batch: params.lhs_batch };
    return [null, dotTransposeLhs(ct!, y.aval.shape, x, swapped, true)];
  },
  gather: ([ct], [x, idx], { axis }) => {
    if (isLin(idx!)) notLinear("gather", "the indices are linear");
    return [lax.scatterAdd(zerosOf(x!.aval), idx as Tensor, ct!, axis), null];
  },
  scatter_add: ([ct], [x, idx, u], { axis }) => {
    if (isLin(idx!)) notLinear("scatter_add", "the indices are linear");
    return [isLin(x!) ? ct! : null, null, isLin(u!) ? lax.gather(ct!, idx as Tensor, axis) : null];
  },
  // Composite nodes (jit calls, fusions, ...) go through their bodies; see bodyRule.
  ...Object.fromEntries(COMPOSITE_OPS.map((op) => [op, bodyRule(op)])) as { readonly [P in CompositeOp]: TransposeRule<P> },
  flash_attention_jvp: flashAttentionJvpTranspose(),
  moe_ffn_jvp: moeJvpTranspose(),
  // Not linear in any operand: transposing them is a bug in a JVP rule, and fails with their name.
  abs: null, sign: null, exp: null, expm1: null, log: null, sin: null, cos: null, tanh: null, logistic: null,
  sqrt: null, rsqrt: null, erf: null, floor: null, ceil: null, round: null, not: null,
  pow: null, atan2: null, max: null, min: null, and: null, or: null,
  eq: null, ne: null, lt: null, le: null, gt: null, ge: null,
  iota: null, constant: null, reduce_max: null, reduce_min: null, argmax: null, top_k: null,
};

// ---------------------------------------------------------------------------
// backward pass

/** The values of `g` that depend on `linearInputs` (so are linear in them). */
export function linearValues(g: Graph, linearInputs: Iterable<Value>): Set<Value> {
  const lin = new Set(linearInputs);
  for (const n of g.nodes) if (n.inputs.some((v) => lin.has(v))) for (const o of n.outputs) lin.add(o);
  return lin;
}

const isLinearNode = (n: Node, lin: Set<Value>) => n.outputs.some((v) => lin.has(v));

/**
 * Evaluates, through bind, the non-linear nodes of `g` that the primal outputs
 * `wanted` or any linear node needs; `env` holds the non-linear inputs and
 * receives the results.
 */
export function evalNonlinear(g: Graph, lin: Set<Value>, env: Map<Value, Tensor>, wanted: readonly Value[]): void {
  const needed = new Set<Value>(wanted.filter((v) => !lin.has(v)));
  for (const n of g.nodes) if (isLinearNode(n, lin)) for (const v of n.inputs) if (!lin.has(v)) needed.add(v);
  const run: Node[] = [];
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i]!;
    if (isLinearNode(n, lin) || !n.outputs.some((v) => needed.has(v))) continue;
    run.push(n);
    for (const v of n.inputs) needed.add(v);
  }
  for (const n of run.reverse()) {
    const outs = bind(n.prim, n.inputs.map((v) => env.get(v)!), n.params);
    n.outputs.forEach((v, i) => env.set(v, outs[i]!));
  }
}

/**
 * Transposes the linear nodes of `g`: given cotangents of some outputs, returns
 * the accumulated cotangent of every linear value reached (the linear inputs
 * among them). `env` must hold the non-linear values (see evalNonlinear).
 */
export function backwardPass(
  g: Graph, lin: Set<Value>, env: Map<Value, Tensor>, outCts: readonly [Value, Tensor | null][],
): Map<Value, Tensor> {
  const ct = new Map<Value, Tensor>();
  const accumulate = (v: Value, t: Tensor) => {
    const prev = ct.get(v);
    ct.set(v, prev ? lax.add(prev, t) : t);
  };
  for (const [v, t] of outCts) if (t && lin.has(v)) accumulate(v, t);
  const inputs = new Set(g.inputs);
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i]!;
    if (!isLinearNode(n, lin)) continue;
    const cts = n.outputs.map((v) => ct.get(v) ?? null);
    if (cts.every((c) => c === null)) continue;
    for (const v of n.outputs) ct.delete(v);
    const args = n.inputs.map((v) => (lin.has(v) ? new LinearArg(v.type) : env.get(v)!));
    const rule = ruleFor(transposeRules, n.prim, "transpose", "it is not linear") as TransposeRule<Primitive>;
    const ctsIn = rule(cts, args, n.params);
    n.inputs.forEach((v, j) => {
      const c = ctsIn[j];
      if (lin.has(v) && c) accumulate(v, c);
    });
  }
  for (const v of ct.keys()) if (!inputs.has(v)) ct.delete(v);
  return ct;
}

// ---------------------------------------------------------------------------
// composite nodes: the transpose of a call is a call of the transposed body

const transposed = new WeakMap<Graph, Map<string, Graph>>();

/**
 * `callee` transposed with respect to the inputs marked linear: a graph from
 * (non-linear inputs, a cotangent per output) to a cotangent per linear input.
 * Staged once per callee and mask, so the compile cache sees the same graph.
 */
export function transposeGraph(callee: Graph, linear: boolean[]): Graph {
  let perCallee = transposed.get(callee);
  if (!perCallee) transposed.set(callee, (perCallee = new Map()));
  const key = linear.map(Number).join("");
  const hit = perCallee.get(key);
  if (hit) return hit;
  const known = callee.inputs.filter((_, i) => !linear[i]);
  const linIns = callee.inputs.filter((_, i) => linear[i]);
  const staged = stageGraph(
    `${callee.name}_transpose`,
    [...known.map((v) => v.type), ...callee.outputs.map((v) => v.type)],
    (args) => {
      const env = new Map<Value, Tensor>();
      known.forEach((v, i) => env.set(v, args[i]!));
      const lin = linearValues(callee, linIns);
      evalNonlinear(callee, lin, env, []);
      const cts = backwardPass(callee, lin, env, callee.outputs.map((v, i) => [v, args[known.length + i]!]));
      return linIns.map((v) => cts.get(v) ?? zerosOf(v.type));
    },
  );
  if (staged.consts.length) throw new Error(`transpose of @${callee.name}: the callee captured outside values; it should be closed`);
  perCallee.set(key, staged.graph);
  return staged.graph;
}
