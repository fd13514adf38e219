/**
 * Vectorising map (autodidax, "Vectorized batching with vmap"): a BatchTracer
 * holds a value and the axis along which it is batched (or null: the same for
 * every batch element). Each primitive has one batching rule that maps batched
 * operands to batched results, usually by moving the batch axis to the front and
 * shifting the primitive's axis parameters by one.
 */
import { checkNotAsync } from "./arguments.js";
import { type AbstractValue, formatType } from "../ir/dtype.js";
import type { Graph } from "../ir/graph.js";
import {
  BINARY_OPS, COMPARE_OPS, COMPOSITE_OPS, type CompositeOp, type Primitive, type PrimitiveParams, REDUCE_OPS, UNARY_OPS,
  compositeBody,
} from "../ir/primitives.js";
import { type MainTrace, type Tensor, Trace, Tracer, bind, dynamicLevel, withMainTrace } from "./core.js";
import { flattenTensors } from "./jvp.js";
import * as lax from "./lax.js";
import { ruleFor } from "./rule-error.js";
import { evalGraphWithBind, stageGraph } from "./staging.js";
import { type TreeDef, leafCount, unflatten } from "./tree.js";

/** The batch axis of a value, or null where it is not batched. */
export type BDim = number | null;

export class BatchTracer extends Tracer {
  readonly aval: AbstractValue;
  constructor(
    trace: Trace,
    readonly val: Tensor,
    readonly bdim: BDim,
  ) {
    super(trace);
    const a = val.aval;
    this.aval = bdim === null ? a : { dtype: a.dtype, shape: a.shape.filter((_, i) => i !== bdim) };
  }
  /** An unbatched value is the same at every level below: drop the wrapper (autodidax's full_lower). */
  override fullLower(): Tensor {
    return this.bdim === null ? this.val.fullLower() : this;
  }
  override toString(): string {
    return `BatchTracer(${this.val}, bdim=${this.bdim})`;
  }
}

class BatchTrace extends Trace {
  get axisSize(): number {
    return (this.main.globalData as { size: number }).size;
  }
  pure(x: Tensor): Tensor {
    return new BatchTracer(this, x, null);
  }
  processPrimitive<P extends Primitive>(prim: P, tracers: Tensor[], params: PrimitiveParams[P]): Tensor[] {
    const vals = tracers.map((t) => (t as BatchTracer).val);
    const dims = tracers.map((t) => (t as BatchTracer).bdim);
    if (dims.every((d) => d === null)) return bind(prim, vals, params).map((v) => new BatchTracer(this, v, null));
    const rule = ruleFor(batchRules, prim, "vmap") as BatchRule<P>;
    const [outs, outDims] = rule(vals, dims, params, this.axisSize);
    return outs.map((v, i) => new BatchTracer(this, v, outDims[i]!));
  }
}

/** Batches `fn` (flat lists) over axis `dims[i]` of each input; returns raw values and their batch axes. */
/**
 * Calls `f(x, ...rest)` for an `f` that maps each row of x [..., d] on its own (a tokenwise
 * layer: nn.moe routes each token by itself). When x is batched by a vmap and nothing else
 * f reads is, the batch axis joins x's leading axes and `f` runs once below that vmap on the
 * larger x, rather than under it with every op batched; `f` sees the same ops it would see
 * unbatched (so the moe pass still finds nn.moe's form inside jit(vmap(...))). Anything else
 * (another operand batched, a closure reading a batched value, a jit tracing inside the
 * vmap) runs `f(x, ...rest)` as usual; an error in the joined attempt is thrown again, if it
 * is the user's, by that run.
 */
export function tokenwise(f: (x: Tensor, ...rest: Tensor[]) => Tensor, x: Tensor, rest: readonly Tensor[]): Tensor {
  if (x instanceof BatchTracer && x.bdim !== null) {
    const level = x.trace.main.level;
    if (dynamicLevel() < level && rest.every((r) => r.trace.main.level < level)) {
      const leading = moveAxis(x.val, x.bdim, 0);
      // A closure over a batched value meets the joined tokens inside f: its result lands at
      // this vmap's level, or its shapes disagree. Then f runs again, batched as usual (the
      // first attempt's staged nodes are dead code).
      let out: Tensor | undefined;
      try {
        out = tokenwise(f, leading, rest);
      } catch {
        out = undefined;
      }
      if (out && out.trace.main.level < level) return new BatchTracer(x.trace, out, 0);
    }
  }
  return f(x, ...rest);
}

export function batchFlat(fn: (xs: Tensor[]) => Tensor[], vals: Tensor[], dims: BDim[], size: number): [Tensor[], BDim[]] {
  return withMainTrace(BatchTrace, { size }, (main: MainTrace) => {
    const trace = new BatchTrace(main);
    const outs = fn(vals.map((v, i) => (dims[i] === null ? v : new BatchTracer(trace, v, dims[i]!))));
    const mine = (o: Tensor): o is BatchTracer => o instanceof BatchTracer && o.trace.main === main;
    return [outs.map((o) => (mine(o) ? o.val : o)), outs.map((o) => (mine(o) ? o.bdim : null))];
  });
}

// ---------------------------------------------------------------------------
// the public vmap

export type Axes = number | null | readonly Axes[] | { readonly [k: string]: Axes };

export interface VmapOptions {
  /** Per-argument batch axis: a number or null for all, or an array with one pytree prefix per argument. */
  readonly inAxes?: Axes;
  /** Where the batch axis goes in each output (a pytree prefix of the result); null keeps an output unbatched. */
  readonly outAxes?: Axes;
}

export class VmapError extends Error {
  override name = "VmapError";
}

/** One axis per leaf of `def`, from a pytree prefix of axes (JAX's in_axes broadcasting). */
function axesPerLeaf(prefix: Axes, def: TreeDef, what: string): (number | null)[] {
  if (prefix === null || typeof prefix === "number") return new Array<number | null>(leafCount(def)).fill(prefix);
  if (def.kind === "array" && Array.isArray(prefix)) {
    if (prefix.length !== def.children.length)
      throw new VmapError(`vmap: ${what} has ${prefix.length} entries for ${def.children.length} values`);
    return def.children.flatMap((c, i) => axesPerLeaf(prefix[i]!, c, what));
  }
  if (def.kind === "object" && !Array.isArray(prefix))
    return def.children.flatMap((c, i) => {
      const k = def.keys[i]!;
      const sub = (prefix as { readonly [k: string]: Axes })[k];
      if (sub === undefined) throw new VmapError(`vmap: ${what} has no entry for key '${k}'`);
      return axesPerLeaf(sub, c, what);
    });
  throw new VmapError(`vmap: ${what} does not match the structure of the values (a ${def.kind} there)`);
}

function normalizeAxis(axis: number, rank: number, what: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new VmapError(`vmap: ${what} axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/**
 * jax.vmap: maps `f` over an axis of its arguments. `inAxes` (default 0) says
 * which axis of each argument is mapped, null for an argument passed whole to
 * every call; `outAxes` (default 0) where the mapped axis goes in the results.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function vmap<F extends (...args: any[]) => unknown>(f: F, options: VmapOptions = {}) {
  checkNotAsync("vmap", f);
  return (...args: Parameters<F>): ReturnType<F> => {
    const inAxes = options.inAxes === undefined ? 0 : options.inAxes;
    const [leaves, inDef] = flattenTensors(args);
    const axes = axesPerLeaf(inAxes, inDef, "inAxes");
    let size: number | undefined;
    const dims = leaves.map((x, i) => {
      const a = axes[i]!;
      if (a === null) return null;
      const d = normalizeAxis(a, x.ndim, `inAxes for ${formatType(x.aval)}`);
      const n = x.shape[d]!;
      if (size !== undefined && n !== size)
        throw new VmapError(`vmap: mapped axes have different sizes: ${size} and ${n} (axis ${d} of ${formatType(x.aval)})`);
      size = n;
      return d;
    });
    if (size === undefined) throw new VmapError(`vmap: no argument is mapped (every inAxes entry is null)`);
    let outDef: TreeDef | undefined;
    const [outs, outDims] = batchFlat(
      (xs) => {
        const [o, def] = flattenTensors(f(...(unflatten(inDef, xs) as Parameters<F>)));
        outDef = def;
        return o;
      },
      leaves,
      dims,
      size,
    );
    const outAxes = axesPerLeaf(options.outAxes === undefined ? 0 : options.outAxes, outDef!, "outAxes");
    const placed = outs.map((o, i) => {
      const want = outAxes[i]!, have = outDims[i]!;
      if (want === null) {
        if (have !== null) throw new VmapError(`vmap: output ${i} is batched but its outAxes entry is null`);
        return o;
      }
      const to = normalizeAxis(want, o.ndim + (have === null ? 1 : 0), `outAxes for output ${i}`);
      return have === null ? broadcastAt(o, to, size!) : moveAxis(o, have, to);
    });
    return unflatten(outDef!, placed) as ReturnType<F>;
  };
}

// ---------------------------------------------------------------------------
// rules

export type BatchRule<P extends Primitive> = (
  vals: Tensor[],
  dims: BDim[],
  params: PrimitiveParams[P],
  size: number,
) => [Tensor[], BDim[]];

const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);
const inc = (xs: readonly number[]) => xs.map((a) => a + 1);

export function moveAxis(x: Tensor, from: number, to: number): Tensor {
  if (from === to) return x;
  const perm = range(x.ndim).filter((i) => i !== from);
  perm.splice(to, 0, from);
  return lax.transpose(x, perm);
}

/** `x` with a new axis of `size` at `at`, repeating it. */
function broadcastAt(x: Tensor, at: number, size: number): Tensor {
  const shape = [...x.shape];
  shape.splice(at, 0, size);
  return lax.broadcastInDim(x, shape, range(x.ndim).map((i) => (i < at ? i : i + 1)));
}

/** The value batched along axis 0 (broadcast when it was not batched). */
const front = (x: Tensor, d: BDim, size: number) => (d === null ? broadcastAt(x, 0, size) : moveAxis(x, d, 0));

/** Batch axis at the front, params shifted: the rule of most ops with one operand. */
const frontRule = <P extends Primitive>(prim: P, shift: (p: PrimitiveParams[P], size: number) => PrimitiveParams[P]): BatchRule<P> =>
  ([x], [d], params, size) => {
    const outs = bind(prim, [front(x!, d!, size)], shift(params, size));
    return [outs, outs.map(() => 0)];
  };

/** Elementwise ops: batch axes aligned (at the front unless all operands agree), unbatched operands broadcast. */
const elementwiseRule = <P extends Primitive>(prim: P): BatchRule<P> => (vals, dims, params, size) => {
  const d0 = dims.find((d) => d !== null)!;
  if (dims.every((d) => d === d0)) return [bind(prim, vals, params), [d0]];
  return [bind(prim, vals.map((v, i) => front(v, dims[i]!, size)), params), [0]];
};


const dotRule: BatchRule<"dot_general"> = ([x, y], [dx, dy], p) => {
  const { lhs_contract: lc, rhs_contract: rc, lhs_batch: lb, rhs_batch: rb } = p;
  if (dx !== null && dy !== null) {
    const params = { lhs_contract: inc(lc), rhs_contract: inc(rc), lhs_batch: [0, ...inc(lb)], rhs_batch: [0, ...inc(rb)] };
    return [bind("dot_general", [moveAxis(x!, dx, 0), moveAxis(y!, dy, 0)], params), [0]];
  }
  if (dx !== null) {
    // The batch axis is a free lhs axis: first among lhs free axes, right after the batch dims.
    const params = { lhs_contract: inc(lc), rhs_contract: rc, lhs_batch: inc(lb), rhs_batch: rb };
    return [bind("dot_general", [moveAxis(x!, dx, 0), y!], params), [lb.length]];
  }
  const params = { lhs_contract: lc, rhs_contract: inc(rc), lhs_batch: lb, rhs_batch: inc(rb) };
  const lhsFree = x!.ndim - lc.length - lb.length;
  return [bind("dot_general", [x!, moveAxis(y!, dy!, 0)], params), [lb.length + lhsFree]];
};

/**
 * x: [B, pre, n, post] with indices batched too → a flat view [B·n, pre, post]
 * and indices offset by b·n into it, so one gather/scatter serves every batch element.
 */
function flatBatchAxis(x: Tensor, axis: number): Tensor {
  const moved = moveAxis(x, axis + 1, 1);
  return lax.reshape(moved, [moved.shape[0]! * moved.shape[1]!, ...moved.shape.slice(2)]);
}
function offsetIndices(idx: Tensor, n: number, clampOrDrop: "clamp" | "drop"): Tensor {
  const i = lax.cast(idx, "i32");
  const c = (v: number) => lax.fullLike(i, v);
  const offset = lax.mul(lax.iota(i.shape, 0), c(n));
  if (clampOrDrop === "clamp") return lax.add(lax.min(lax.max(i, c(0)), c(Math.max(n - 1, 0))), offset);
  const inRange = lax.and(lax.ge(i, c(0)), lax.lt(i, c(n)));
  return lax.select(inRange, lax.add(i, offset), c(-1));
}

const gatherRule: BatchRule<"gather"> = ([x, idx], [dx, di], { axis }, size) => {
  if (di === null) return [[lax.gather(moveAxis(x!, dx!, 0), idx!, axis + 1)], [0]];
  if (dx === null) return [[lax.gather(x!, idx!, axis)], [axis + di]];
  const xf = front(x!, dx, size), idf = front(idx!, di, size);
  const n = xf.shape[axis + 1]!;
  const r = lax.gather(flatBatchAxis(xf, axis), offsetIndices(idf, n, "clamp"), 0); // [B, I..., pre, post]
  const ni = idf.ndim - 1;
  const perm = [0, ...range(axis, 1 + ni), ...range(ni, 1), ...range(r.ndim - 1 - ni - axis, 1 + ni + axis)];
  return [[lax.transpose(r, perm)], [0]];
};

const scatterRule: BatchRule<"scatter_add"> = ([x, idx, u], [dx, di, du], { axis }, size) => {
  const xf = front(x!, dx!, size), uf = front(u!, du!, size);
  if (di === null) return [[lax.scatterAdd(xf, idx!, uf, axis + 1)], [0]];
  const idf = front(idx!, di, size);
  const n = xf.shape[axis + 1]!, ni = idf.ndim - 1;
  // updates [B, pre, I..., post] → [B, I..., pre, post], matching the flat operand.
  const perm = [0, ...range(ni, 1 + axis), ...range(axis, 1), ...range(uf.ndim - 1 - ni - axis, 1 + ni + axis)];
  const flat = lax.scatterAdd(flatBatchAxis(xf, axis), offsetIndices(idf, n, "drop"), lax.transpose(uf, perm), 0);
  const unflat = lax.reshape(flat, [size, n, ...flat.shape.slice(1)]);
  return [[moveAxis(unflat, 1, axis + 1)], [0]];
};

/** A composite node (ir/primitives.ts: a jit call, a fusion, ...) through its body: a call of the batched body. */
const bodyRule = <P extends CompositeOp>(prim: P): BatchRule<P> => (vals, dims, params, size) => {
  const { graph, outDims } = batchedGraph(compositeBody(prim, params), dims, size);
  return [lax.call(graph, vals), outDims];
};

const fromOps = <K extends Primitive>(ops: readonly K[], rule: (op: K) => BatchRule<K>) =>
  Object.fromEntries(ops.map((op) => [op, rule(op)])) as unknown as { readonly [P in K]: BatchRule<P> };

export const batchRules: { readonly [P in Primitive]: BatchRule<P> } = {
  ...fromOps(UNARY_OPS, elementwiseRule),
  ...fromOps(BINARY_OPS, elementwiseRule),
  ...fromOps(COMPARE_OPS, elementwiseRule),
  select: elementwiseRule("select"),
  cast: elementwiseRule("cast"),
  // No operands, so never batched; listed so the table is complete.
  iota: (vals, _d, params) => [bind("iota", vals, params), [null]],
  constant: (vals, _d, params) => [bind("constant", vals, params), [null]],
  broadcast_in_dim: frontRule("broadcast_in_dim", (p, size) => ({ shape: [size, ...p.shape], dims: [0, ...inc(p.dims)] })),
  reshape: frontRule("reshape", (p, size) => ({ shape: [size, ...p.shape] })),
  transpose: frontRule("transpose", (p) => ({ perm: [0, ...inc(p.perm)] })),
  slice: frontRule("slice", (p, size) => ({ start: [0, ...p.start], limit: [size, ...p.limit], strides: [1, ...p.strides] })),
  pad: frontRule("pad", (p) => ({ low: [0, ...p.low], high: [0, ...p.high], value: p.value })),
  concatenate: (vals, dims, { axis }, size) => [[lax.concatenate(vals.map((v, i) => front(v, dims[i]!, size)), axis + 1)], [0]],
  ...fromOps(REDUCE_OPS, (op) => frontRule(op, (p) => ({ axes: inc(p.axes) }))),
  argmax: frontRule("argmax", (p) => ({ axis: p.axis + 1 })),
  cumsum: frontRule("cumsum", (p) => ({ axis: p.axis + 1, reverse: p.reverse })),
  // top_k works on the last axis, which the front batch axis leaves last.
  top_k: frontRule("top_k", (p) => p),
  dot_general: dotRule,
  gather: gatherRule,
  scatter_add: scatterRule,
  // Composite nodes (jit calls, fusions, ...) go through their bodies; see bodyRule.
  ...fromOps(COMPOSITE_OPS, bodyRule),
};

// ---------------------------------------------------------------------------
// composite nodes: the batched body is a graph of its own, called with the `jit` primitive

const batchedGraphs = new WeakMap<Graph, Map<string, { graph: Graph; outDims: BDim[] }>>();

function batchedGraph(callee: Graph, dims: BDim[], size: number): { graph: Graph; outDims: BDim[] } {
  let perCallee = batchedGraphs.get(callee);
  if (!perCallee) batchedGraphs.set(callee, (perCallee = new Map()));
  const key = `${size}|${dims.join(",")}`;
  const hit = perCallee.get(key);
  if (hit) return hit;
  let outDims: BDim[] = [];
  const avals = callee.inputs.map((v, i) => {
    const d = dims[i]!;
    if (d === null) return v.type;
    const shape = [...v.type.shape];
    shape.splice(d, 0, size);
    return { dtype: v.type.dtype, shape };
  });
  const staged = stageGraph(`${callee.name}_vmap`, avals, (args) => {
    const [outs, od] = batchFlat((xs) => evalGraphWithBind(callee, xs), args, dims, size);
    outDims = od;
    return outs;
  });
  if (staged.consts.length) throw new Error(`vmap of @${callee.name}: the callee captured outside values; it should be closed`);
  const out = { graph: staged.graph, outDims };
  perCallee.set(key, out);
  return out;
}
