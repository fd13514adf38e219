/**
 * Forward-mode differentiation (autodidax, "Forward-mode autodiff with jvp"): a
 * JVPTracer carries a primal and a tangent, and each primitive has one JVP rule
 * that maps (primals, tangents) to (primal outputs, tangent outputs). A tangent of
 * `null` is a symbolic zero: it costs nothing and a primitive whose tangents are
 * all zero runs on its primals alone. Rules are written on lax and emit only ops
 * that are linear in the tangents (mul by a primal value, dot_general, layout ops,
 * reduce_sum, gather/scatter_add, select, jit calls), so vjp can transpose them.
 */
import { isFloat } from "../ir/dtype.js";
import type { Graph } from "../ir/graph.js";
import {
  COMPARE_OPS, COMPOSITE_OPS, type CompareOp, type CompositeOp, type Primitive, type PrimitiveParams,
  REDUCE_OPS, compositeBody,
} from "../ir/primitives.js";
import { patternsBeforeDifferentiation, flashAttentionJvp } from "./attention-rules.js";
import { moeJvp } from "./moe-rules.js";
import { type MainTrace, Tensor, Trace, Tracer, bind, withMainTrace } from "./core.js";
import * as lax from "./lax.js";
import { ruleFor } from "./rule-error.js";
import { evalGraphWithBind, stageGraph } from "./staging.js";
import { type TreeDef, flatten, unflatten } from "./tree.js";
import { scalar } from "./creation.js";

/** A tangent; `null` is a symbolic zero. */
export type Tangent = Tensor | null;

export class JVPTracer extends Tracer {
  constructor(
    trace: Trace,
    readonly primal: Tensor,
    readonly tangent: Tangent,
  ) {
    super(trace);
  }
  get aval() {
    return this.primal.aval;
  }
  override toString(): string {
    return `JVPTracer(${this.primal}, ${this.tangent ?? "zero"})`;
  }
}

class JVPTrace extends Trace {
  pure(x: Tensor): Tensor {
    return new JVPTracer(this, x, null);
  }
  processPrimitive<P extends Primitive>(prim: P, tracers: Tensor[], params: PrimitiveParams[P]): Tensor[] {
    const primals = tracers.map((t) => (t as JVPTracer).primal);
    const tangents = tracers.map((t) => (t as JVPTracer).tangent);
    if (tangents.every((t) => t === null)) return bind(prim, primals, params).map((p) => new JVPTracer(this, p, null));
    const rule = ruleFor(jvpRules, prim, "jvp") as JvpRule<P>;
    const [outs, touts] = rule(primals, tangents, params);
    return outs.map((p, i) => new JVPTracer(this, p, isFloat(p.dtype) ? (touts[i] ?? null) : null));
  }
}

/**
 * Pushes tangents through `fn` (flat lists). Outputs that do not depend on the
 * inputs get a zero (`null`) tangent.
 */
export function jvpFlat(fn: (xs: Tensor[]) => Tensor[], primals: Tensor[], tangents: Tangent[]): [Tensor[], Tangent[]] {
  return withMainTrace(JVPTrace, null, (main: MainTrace) => {
    const trace = new JVPTrace(main);
    const ins = primals.map((p, i) => new JVPTracer(trace, p, isFloat(p.dtype) ? (tangents[i] ?? null) : null));
    const outs = fn(ins);
    const ps: Tensor[] = [], ts: Tangent[] = [];
    for (const o of outs) {
      const mine = o instanceof JVPTracer && o.trace.main === main;
      ps.push(mine ? o.primal : o);
      ts.push(mine ? o.tangent : null);
    }
    return [ps, ts];
  });
}

const isLeaf = (x: unknown): x is Tensor | number => typeof x === "number" || x instanceof Tensor;
const asTensor = (x: Tensor | number): Tensor => (typeof x === "number" ? scalar(x) : x);

export function flattenTensors(tree: unknown): [Tensor[], TreeDef] {
  const [leaves, def] = flatten(tree, isLeaf);
  return [leaves.map(asTensor), def];
}

/**
 * jax.jvp: evaluates `f(...primals)` and its directional derivative along
 * `tangents` (pytrees matching `primals`). Returns [outputs, output tangents].
 */
export function jvp<R>(f: (...args: never[]) => R, primals: readonly unknown[], tangents: readonly unknown[]): [R, R] {
  const [ps, inDef] = flattenTensors([...primals]);
  const [ts] = flattenTensors([...tangents]);
  if (ts.length !== ps.length) throw new TypeError(`jvp: primals have ${ps.length} leaves but tangents have ${ts.length}`);
  ps.forEach((p, i) => {
    const t = ts[i]!;
    if (p.dtype !== t.dtype || p.shape.join() !== t.shape.join())
      throw new TypeError(`jvp: tangent ${i} is ${t} but its primal is ${p}; they must match`);
  });
  let outDef: TreeDef | undefined;
  const [outs, touts] = jvpFlat(
    (xs) => {
      const [leaves, def] = flattenTensors(f(...(unflatten(inDef, xs) as never[])));
      outDef = def;
      return leaves;
    },
    ps,
    ts,
  );
  return [unflatten(outDef!, outs) as R, unflatten(outDef!, touts.map((t, i) => t ?? lax.zerosLike(outs[i]!))) as R];
}

// ---------------------------------------------------------------------------
// rules

export type JvpRule<P extends Primitive> = (
  primals: Tensor[],
  tangents: Tangent[],
  params: PrimitiveParams[P],
) => [Tensor[], Tangent[]];

const zero = (x: Tensor, t: Tangent) => t ?? lax.zerosLike(x);
const full = (like: Tensor, v: number) => lax.fullLike(like, v);
function addT(a: Tangent, b: Tangent): Tangent {
  return a === null ? b : b === null ? a : lax.add(a, b);
}
const mulT = (t: Tangent, by: Tensor): Tangent => (t === null ? null : lax.mul(t, by));

/** Outputs are piecewise constant (or not floating point): zero tangents. */
const zeroRule = <P extends Primitive>(prim: P): JvpRule<P> => (primals, _t, params) => {
  const outs = bind(prim, primals, params);
  return [outs, outs.map(() => null)];
};

/** f is linear in every operand: the tangent is f of the tangents. */
const linearRule = <P extends Primitive>(prim: P): JvpRule<P> => (primals, tangents, params) => [
  bind(prim, primals, params),
  bind(prim, tangents.map((t, i) => zero(primals[i]!, t)), params),
];

/** An elementwise unary op with derivative `d(x, y)` (y the output). */
const unaryRule = <P extends Primitive>(prim: P, d: (x: Tensor, y: Tensor) => Tensor): JvpRule<P> => ([x], [t], params) => {
  const y = bind(prim, [x!], params)[0]!;
  return [[y], [mulT(t!, d(x!, y))]];
};

/**
 * The weight each operand of max/min gets where they tie: 1 where x is the
 * result and y is not, 1/2 where both are (JAX's `_balanced_eq`).
 */
function balancedEq(x: Tensor, z: Tensor, y: Tensor): Tensor {
  const one = full(z, 1), zero0 = full(z, 0), two = full(z, 2);
  return lax.div(lax.select(lax.eq(x, z), one, zero0), lax.select(lax.eq(y, z), two, one));
}

const chooserRule = (prim: "max" | "min"): JvpRule<typeof prim> => ([x, y], [tx, ty]) => {
  const z = bind(prim, [x!, y!], {})[0]!;
  return [[z], [addT(mulT(tx!, balancedEq(x!, z, y!)), mulT(ty!, balancedEq(y!, z, x!)))]];
};

/** reduce_max/min: the tangent averaged over the positions that attain the result (JAX's `_reduce_chooser_jvp_rule`). */
const reduceChooserRule = (prim: "reduce_max" | "reduce_min"): JvpRule<typeof prim> => ([x], [t], params) => {
  const y = bind(prim, [x!], params)[0]!;
  const kept = x!.shape.map((_, i) => i).filter((i) => !params.axes.includes(i));
  const at = lax.cast(lax.eq(x!, lax.broadcastInDim(y, x!.shape, kept)), x!.dtype);
  const counts = lax.reduceSum(at, params.axes);
  return [[y], [lax.div(lax.reduceSum(lax.mul(t!, at), params.axes), counts)]];
};

/** pow: d/dx = y·x^(y-1) (0 where y = 0), d/dy = log(x)·x^y with log(0) read as log(1) (JAX's pow JVP). */
const powRule: JvpRule<"pow"> = ([x, y], [tx, ty]) => {
  const z = lax.pow(x!, y!);
  const dx = () =>
    lax.select(lax.eq(y!, full(y!, 0)), full(z, 0), lax.mul(y!, lax.pow(x!, lax.sub(y!, full(y!, 1)))));
  const safeX = () => lax.select(lax.eq(x!, full(x!, 0)), full(x!, 1), x!);
  return [[z], [addT(tx ? lax.mul(tx, dx()) : null, ty ? lax.mul(ty, lax.mul(lax.log(safeX()), z)) : null)]];
};

/** atan2(y, x): d = (x·dy − y·dx) / (x² + y²). */
const atan2Rule: JvpRule<"atan2"> = ([y, x], [ty, tx]) => {
  const z = lax.binary("atan2", y!, x!);
  const r2 = lax.add(lax.mul(x!, x!), lax.mul(y!, y!));
  return [[z], [addT(ty ? lax.div(lax.mul(ty, x!), r2) : null, tx ? lax.neg(lax.div(lax.mul(tx, y!), r2)) : null)]];
};

/** top_k: the value tangent is the input tangent at the chosen indices, gathered row by row from a flat view. */
const topKRule: JvpRule<"top_k"> = ([x], [t], params) => {
  const [values, indices] = lax.topK(x!, params.k);
  const n = x!.shape[x!.ndim - 1]!;
  const rows = x!.size / n;
  const rowStart = lax.mul(lax.iota([rows, params.k], 0), lax.fullLike(indices, n, [rows, params.k]));
  const flatIdx = lax.add(lax.reshape(indices, [rows, params.k]), rowStart);
  const tv = lax.reshape(lax.gather(lax.reshape(t!, [rows * n]), flatIdx, 0), values.shape);
  return [[values, indices], [tv, null]];
};

const dotRule: JvpRule<"dot_general"> = ([x, y], [tx, ty], params) => [
  bind("dot_general", [x!, y!], params),
  [addT(tx ? bind("dot_general", [tx, y!], params)[0]! : null, ty ? bind("dot_general", [x!, ty], params)[0]! : null)],
];

/**
 * A composite node (ir/primitives.ts: a jit call, a fusion, ...) through its body: the
 * primal is the node itself, the tangent a call of the body's JVP graph (jvpGraph), so
 * the tangent half stays one call that vjp transposes as a unit. A jit call's body has
 * attention and mixtures of experts found in it first (patternsBeforeDifferentiation), for
 * the tiled and routed backwards.
 */
const bodyRule = <P extends CompositeOp>(prim: P): JvpRule<P> => (primals, tangents, params) => {
  const body = prim === "jit" ? patternsBeforeDifferentiation(compositeBody(prim, params)) : compositeBody(prim, params);
  const { graph, outNonzero } = jvpGraph(body, tangents.map((t) => t !== null));
  const touts = outNonzero.some((nz) => nz)
    ? lax.call(graph, [...primals, ...tangents.filter((t): t is Tensor => t !== null)])
    : [];
  let k = 0;
  return [bind(prim, primals, params), outNonzero.map((nz) => (nz ? touts[k++]! : null))];
};

const ERF_SCALE = 2 / Math.sqrt(Math.PI);

const fromOps = <K extends Primitive>(ops: readonly K[], rule: (op: K) => JvpRule<K>) =>
  Object.fromEntries(ops.map((op) => [op, rule(op)])) as unknown as { readonly [P in K]: JvpRule<P> };

export const jvpRules: { [P in Primitive]: JvpRule<P> } = {
  neg: linearRule("neg"),
  abs: unaryRule("abs", (x) => lax.sign(x)),
  sign: zeroRule("sign"),
  floor: zeroRule("floor"),
  ceil: zeroRule("ceil"),
  round: zeroRule("round"),
  not: zeroRule("not"),
  exp: unaryRule("exp", (_x, y) => y),
  expm1: unaryRule("expm1", (_x, y) => lax.add(y, full(y, 1))),
  log: unaryRule("log", (x) => lax.div(full(x, 1), x)),
  sin: unaryRule("sin", (x) => lax.cos(x)),
  cos: unaryRule("cos", (x) => lax.neg(lax.sin(x))),
  tanh: unaryRule("tanh", (_x, y) => lax.sub(full(y, 1), lax.mul(y, y))),
  logistic: unaryRule("logistic", (_x, y) => lax.mul(y, lax.sub(full(y, 1), y))),
  sqrt: unaryRule("sqrt", (_x, y) => lax.div(full(y, 0.5), y)),
  rsqrt: unaryRule("rsqrt", (x, y) => lax.mul(full(y, -0.5), lax.div(y, x))),
  erf: unaryRule("erf", (x) => lax.mul(full(x, ERF_SCALE), lax.exp(lax.neg(lax.mul(x, x))))),
  and: zeroRule("and"),
  or: zeroRule("or"),
  add: ([x, y], [tx, ty]) => [[lax.add(x!, y!)], [addT(tx!, ty!)]],
  sub: ([x, y], [tx, ty]) => [[lax.sub(x!, y!)], [addT(tx!, ty ? lax.neg(ty) : null)]],
  mul: ([x, y], [tx, ty]) => [[lax.mul(x!, y!)], [addT(mulT(tx!, y!), ty ? lax.mul(x!, ty) : null)]],
  div: ([x, y], [tx, ty]) => {
    const z = lax.div(x!, y!);
    // d(x/y) = tx/y − ty·z/y
    return [[z], [addT(tx ? lax.div(tx, y!) : null, ty ? lax.neg(lax.div(lax.mul(ty, z), y!)) : null)]];
  },
  pow: powRule,
  atan2: atan2Rule,
  max: chooserRule("max"),
  min: chooserRule("min"),
  ...fromOps<CompareOp>(COMPARE_OPS, zeroRule),
  select: ([p, a, b], [, ta, tb]) => [[lax.select(p!, a!, b!)], [lax.select(p!, zero(a!, ta!), zero(b!, tb!))]],
  cast: ([x], [t], params) => [[lax.cast(x!, params.dtype)], [isFloat(params.dtype) && t ? lax.cast(t, params.dtype) : null]],
  iota: zeroRule("iota"),
  constant: zeroRule("constant"),
  broadcast_in_dim: linearRule("broadcast_in_dim"),
  reshape: linearRule("reshape"),
  transpose: linearRule("transpose"),
  slice: linearRule("slice"),
  pad: ([x], [t], params) => [bind("pad", [x!], params), bind("pad", [t!], { ...params, value: 0 })],
  concatenate: linearRule("concatenate"),
  ...fromOps(REDUCE_OPS, linearRule),
  reduce_max: reduceChooserRule("reduce_max"),
  reduce_min: reduceChooserRule("reduce_min"),
  argmax: zeroRule("argmax"),
  cumsum: linearRule("cumsum"),
  top_k: topKRule,
  dot_general: dotRule,
  gather: ([x, idx], [t], params) => [[lax.gather(x!, idx!, params.axis)], [t ? lax.gather(t, idx!, params.axis) : null]],
  scatter_add: ([x, idx, u], [tx, , tu], params) => [
    [lax.scatterAdd(x!, idx!, u!, params.axis)],
    [lax.scatterAdd(zero(x!, tx!), idx!, zero(u!, tu!), params.axis)],
  ],
  // Composite nodes (jit calls, fusions, ...) go through their bodies; see bodyRule.
  ...fromOps(COMPOSITE_OPS, bodyRule),
  // Its own rule: the tangent is a node whose transpose is the tiled backward.
  flash_attention: flashAttentionJvp(bodyRule("flash_attention")),
  // Its own rule too: the tangent's transpose is the routed backward.
  moe_ffn: moeJvp(),
};

// ---------------------------------------------------------------------------
// composite nodes: the JVP of a body is itself a graph, called with the `jit` primitive

interface JvpGraph {
  /** Inputs: the callee's inputs, then the tangents of the inputs marked nonzero; outputs: the nonzero output tangents. */
  graph: Graph;
  outNonzero: boolean[];
}

const jvpGraphs = new WeakMap<Graph, Map<string, JvpGraph>>();

/**
 * The tangent half of a call, staged once per callee and set of nonzero input
 * tangents. It recomputes the primal it needs inside (like jax.checkpoint), so the
 * primal call stays the user's own graph and the tangent call is purely linear in
 * its tangent inputs, which is what vjp's transpose needs.
 */
export function jvpGraph(callee: Graph, nonzero: boolean[]): JvpGraph {
  let perCallee = jvpGraphs.get(callee);
  if (!perCallee) jvpGraphs.set(callee, (perCallee = new Map()));
  const key = nonzero.map(Number).join("");
  const hit = perCallee.get(key);
  if (hit) return hit;
  const n = callee.inputs.length;
  let outNonzero: boolean[] = [];
  const staged = stageGraph(
    `${callee.name}_jvp`,
    [...callee.inputs.map((v) => v.type), ...callee.inputs.filter((_, i) => nonzero[i]).map((v) => v.type)],
    (args) => {
      let k = n;
      const tangents = nonzero.map((nz) => (nz ? args[k++]! : null));
      const [, touts] = jvpFlat((xs) => evalGraphWithBind(callee, xs), args.slice(0, n), tangents);
      outNonzero = touts.map((t) => t !== null);
      return touts.filter((t): t is Tensor => t !== null);
    },
  );
  if (staged.consts.length) throw new Error(`jvp of @${callee.name}: the callee captured outside values; it should be closed`);
  const out = { graph: staged.graph, outNonzero };
  perCallee.set(key, out);
  return out;
}
