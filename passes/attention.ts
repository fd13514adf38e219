/**
 * The attention pass: finds softmax(scale · q·kᵀ [+ bias] [masked]) · v and replaces it
 * with one `flash_attention` node (its kernel never materialises the scores; codegen/
 * attention.ts). Matching starts from the dot_general that multiplies a softmax by v and
 * walks up: softmax (max-subtracted or not, nn.softmax's form or by hand), then the chain
 * between the softmax and q·kᵀ (scale by a constant, additive bias, an additive −∞/−1e30
 * triangle, select with a mask), then the scale folded into q or k. The causal mask is
 * recognised symbolically (iota compares) or by value (constant triangles); batch and head
 * axes may sit anywhere dot_general allows, and k/v broadcast over trailing head axes
 * become grouped-query operands instead of copies.
 *
 * Operands are made canonical around the node (transposes and free reshapes of q, k, v:
 * O(N·D), not O(N²)); the rejected near-matches are explained in the pass's notes.
 *
 * On a CPU adapter (target.cpuAdapter) attention whose scores take under
 * CPU_MATERIALISED_SCORES stays materialised where flash does not pay, and the notes say
 * so: decoding (fewer than CPU_FLASH_MIN_QUERIES query rows: flash-decoding's split and
 * merge cost more than scores that small, which stay in the CPU's caches; lavapipe: W6-decode,
 * 32 heads × 1 × 4096, 75 ms materialised against 171) and attention that is differentiated
 * (the tiled backward keeps per-invocation arrays that lavapipe holds in memory: W9, a GPT-2
 * block's training step at 12 × 256², 4444 ms against 9699). Prefill runs flash there too
 * (W8, 12 × 256² causal: its one kernel 16 ms against 34 for the materialised three).
 */
import { sizeOf } from "../ir/dtype.js";
import { type Graph, GraphBuilder, type Node, type Value } from "../ir/graph.js";
import type { PrimitiveParams } from "../ir/primitives.js";
import { addFlashAttention } from "./attention-body.js";
import { replaceRoots } from "./replace.js";
import type { Target } from "../codegen/target.js";
import type { Pass } from "./pipeline.js";

/** Scores (bytes) below which a CPU adapter keeps decoding or differentiated attention materialised. */
export const CPU_MATERIALISED_SCORES = 16 * 2 ** 20;

/** Query rows below which attention counts as decoding (a CPU adapter keeps its small scores materialised). */
export const CPU_FLASH_MIN_QUERIES = 64;

/** A fill at or below this (f16's lowest finite value) masks a score out as −∞ would. */
const MASK_FILL = -65504;

class Reject extends Error {}
const reject = (why: string): never => {
  throw new Reject(why);
};

interface GraphIndex {
  readonly producer: Map<Value, Node>;
  readonly users: Map<Value, Node[]>;
  readonly outputs: Set<Value>;
}

function indexGraph(g: Graph): GraphIndex {
  const producer = new Map<Value, Node>(), users = new Map<Value, Node[]>();
  for (const n of g.nodes) {
    for (const v of n.outputs) producer.set(v, n);
    for (const v of n.inputs) {
      const list = users.get(v);
      if (list) list.push(n);
      else users.set(v, [n]);
    }
  }
  return { producer, users, outputs: new Set(g.outputs) };
}

type DotParams = PrimitiveParams["dot_general"];

/** The single value of a splat constant, looking through broadcasts and reshapes. */
function splatValue(ix: GraphIndex, v: Value): number | undefined {
  const n = ix.producer.get(v);
  if (!n) return undefined;
  if (n.prim === "broadcast_in_dim" || n.prim === "reshape") return splatValue(ix, n.inputs[0]!);
  if (n.prim === "constant") {
    const { value } = n.params as PrimitiveParams["constant"];
    return value.length === 1 || value.every((x) => Object.is(x, value[0])) ? value[0] : undefined;
  }
  return undefined;
}

/** One operand axis each; the key axis of the scores is the rhs's free axis. */
interface Operand {
  readonly value: Value;
  /** Axis of `value` for each score batch axis, in score order. */
  readonly batch: number[];
  readonly seq: number;
  readonly dim: number;
}

/**
 * Where the value `v` of score shape comes from, as a map from each of its axes to the
 * score axis (looking through broadcast_in_dim); axes of size 1 map to nothing.
 */
function throughBroadcast(ix: GraphIndex, v: Value, axes: (number | undefined)[]): { value: Value; axes: (number | undefined)[] } {
  const n = ix.producer.get(v);
  if (n?.prim === "broadcast_in_dim") {
    const { dims } = n.params as PrimitiveParams["broadcast_in_dim"];
    const x = n.inputs[0]!;
    return throughBroadcast(ix, x, dims.map((d, i) => (x.shape[i] === 1 ? undefined : axes[d])));
  }
  return { value: v, axes };
}

/** The score axis an iota enumerates (after broadcasts), or undefined when `v` is no iota. */
function iotaAxis(ix: GraphIndex, v: Value, axes: (number | undefined)[]): number | undefined {
  const t = throughBroadcast(ix, v, axes);
  const n = ix.producer.get(t.value);
  if (n?.prim === "cast") return iotaAxis(ix, n.inputs[0]!, t.axes);
  if (n?.prim !== "iota") return undefined;
  return t.axes[(n.params as PrimitiveParams["iota"]).dim];
}

const FLIP: Record<string, string> = { ge: "le", le: "ge", gt: "lt", lt: "gt" };

/**
 * Whether a bool value over the scores (`axes` maps its axes to score axes) is true exactly
 * where key j ≤ query i ("keep"), exactly where j > i ("drop"), another query/key
 * comparison ("other"), or none of these.
 */
function causalPredicate(ix: GraphIndex, v: Value, axes: (number | undefined)[], qAxis: number): "keep" | "drop" | "other" | undefined {
  const t = throughBroadcast(ix, v, axes);
  const n = ix.producer.get(t.value);
  if (!n) return undefined;
  if (n.prim === "not") {
    const inner = causalPredicate(ix, n.inputs[0]!, t.axes, qAxis);
    return inner === "keep" ? "drop" : inner === "drop" ? "keep" : inner;
  }
  if (n.prim === "constant") return constantTriangle(n, t.axes, qAxis, (x) => x !== 0, (x) => x === 0);
  if (!(n.prim in FLIP)) return undefined;
  const [a, b] = n.inputs.map((x) => iotaAxis(ix, x, t.axes));
  if (a === undefined || b === undefined || a === b) return undefined;
  // Normalise to `query OP key`.
  const op = a === qAxis ? n.prim : FLIP[n.prim]!;
  if (![a, b].includes(qAxis) || ![a, b].includes(qAxis + 1)) return undefined;
  return op === "ge" ? "keep" : op === "lt" ? "drop" : "other";
}

/** A dense constant over [.., Sq, Sk] that is `visible` where j ≤ i and `hidden` elsewhere. */
function constantTriangle(
  n: Node, axes: (number | undefined)[], qAxis: number, visible: (x: number) => boolean, hidden: (x: number) => boolean,
): "keep" | "drop" | undefined {
  const { value, shape } = n.params as PrimitiveParams["constant"];
  if (value.length === 1) return undefined;
  const qi = axes.indexOf(qAxis), ki = axes.indexOf(qAxis + 1);
  if (qi < 0 || ki < 0) return undefined;
  const strides = shape.map((_, i) => sizeOf(shape.slice(i + 1)));
  let keep = true, drop = true;
  for (let flat = 0; flat < value.length && (keep || drop); flat++) {
    const i = Math.floor(flat / strides[qi]!) % shape[qi]!, j = Math.floor(flat / strides[ki]!) % shape[ki]!;
    const x = value[flat]!;
    if (j <= i ? !visible(x) : !hidden(x)) keep = false;
    if (j <= i ? !hidden(x) : !visible(x)) drop = false;
  }
  return keep ? "keep" : drop ? "drop" : undefined;
}

/** Whether an additive term is 0 where j ≤ i and a mask fill above the diagonal. */
function isCausalTriangle(ix: GraphIndex, v: Value, qAxis: number, rank: number): boolean {
  const t = throughBroadcast(ix, v, [...Array(rank).keys()]);
  const n = ix.producer.get(t.value);
  if (n?.prim === "constant") return constantTriangle(n, t.axes, qAxis, (x) => x === 0, (x) => x <= MASK_FILL) === "keep";
  if (n?.prim === "select") {
    const [p, a, b] = n.inputs as [Value, Value, Value];
    const [va, vb] = [splatValue(ix, a), splatValue(ix, b)];
    const pred = causalPredicate(ix, p, t.axes, qAxis);
    if (va === 0 && vb !== undefined && vb <= MASK_FILL) return pred === "keep";
    if (vb === 0 && va !== undefined && va <= MASK_FILL) return pred === "drop";
  }
  return false;
}

interface Found {
  scale: number;
  causal: boolean;
  bias?: Value;
  /** Keep where true. */
  mask?: Value;
  /** Inverted masks: keep where false. */
  maskNegated?: boolean;
  /** What a masked score becomes: −∞ (a mask operand) or a finite fill (then an additive bias). */
  maskFill?: number;
  q: Operand;
  k: Operand;
  nodes: Set<Node>;
}

/** The softmax input and the nodes of the softmax, for p = softmax over `axis`. */
function matchSoftmax(ix: GraphIndex, p: Value, axis: number): { s: Value; nodes: Node[] } {
  const div = ix.producer.get(p);
  if (div?.prim === "mul") return reject(`the probabilities are scaled after the softmax`);
  if (div?.prim !== "div") return reject(`the probabilities are a ${div?.prim ?? "graph input"}, not a softmax's division`);
  const [e, denom] = div.inputs as [Value, Value];
  const bs = ix.producer.get(denom);
  const sum = bs?.prim === "broadcast_in_dim" ? ix.producer.get(bs.inputs[0]!) : undefined;
  if (sum?.prim !== "reduce_sum" || sum.inputs[0] !== e) return reject(`the softmax denominator is not the broadcast sum of its numerator`);
  const axes = (sum.params as PrimitiveParams["reduce_sum"]).axes;
  if (axes.length !== 1 || axes[0] !== axis) return reject(`softmax over axes [${axes}], but v is contracted over axis ${axis} (the key axis)`);
  const exp = ix.producer.get(e);
  if (exp?.prim !== "exp") return reject(`the softmax numerator is a ${exp?.prim ?? "graph input"}, not exp`);
  const nodes = [div, bs!, sum, exp];
  const x = exp.inputs[0]!;
  const sub = ix.producer.get(x);
  if (sub?.prim === "sub") {
    const [s, mb] = sub.inputs as [Value, Value];
    const bm = ix.producer.get(mb);
    const max = bm?.prim === "broadcast_in_dim" ? ix.producer.get(bm.inputs[0]!) : undefined;
    if (max?.prim === "reduce_max" && max.inputs[0] === s) {
      const maxAxes = (max.params as PrimitiveParams["reduce_max"]).axes;
      if (maxAxes.length !== 1 || maxAxes[0] !== axis) return reject(`the max subtracted is over axes [${maxAxes}], not the key axis ${axis}`);
      return { s, nodes: [...nodes, sub, bm!, max] };
    }
  }
  return { s: x, nodes };
}

/** Walks from the softmax input to q·kᵀ, collecting scale, bias, mask and causality. */
function matchScores(ix: GraphIndex, s: Value, nb: number): Found {
  const rank = nb + 2, qAxis = nb;
  const found: Omit<Found, "q" | "k"> = { scale: 1, causal: false, nodes: new Set() };
  const biases: Value[] = [];
  let cur = s;
  for (;;) {
    const n = ix.producer.get(cur);
    if (!n) return reject(`the scores are a graph input, not q·kᵀ`);
    found.nodes.add(n);
    if (n.prim === "dot_general") break;
    const [a, b, c] = n.inputs as [Value, Value, Value];
    if (n.prim === "mul" || n.prim === "div") {
      const [cb, ca] = [splatValue(ix, b), n.prim === "mul" ? splatValue(ix, a) : undefined];
      if (cb !== undefined) found.scale *= n.prim === "mul" ? cb : 1 / cb, cur = a;
      else if (ca !== undefined) found.scale *= ca, cur = b;
      else return reject(`the scores are multiplied by a non-constant`);
    } else if (n.prim === "add") {
      // The score side is the one that reaches a dot_general through this chain's kinds of node.
      const [score, term] = reachesDot(ix, a) ? [a, b] : [b, a];
      if (isCausalTriangle(ix, term, qAxis, rank)) found.causal = true;
      else biases.push(term);
      cur = score;
    } else if (n.prim === "select") {
      const [fa, fb] = [splatValue(ix, b), splatValue(ix, c)];
      const negated = fa !== undefined && fa <= MASK_FILL && !(fb !== undefined && fb <= MASK_FILL);
      const fill = negated ? fa : fb;
      if (fill === undefined || fill > MASK_FILL) return reject(`a select on the scores fills with ${fill ?? "a non-constant"}, not a mask value (−∞ or ≤ ${MASK_FILL})`);
      const pred = causalPredicate(ix, a, [...Array(rank).keys()], qAxis);
      if (pred === (negated ? "drop" : "keep")) found.causal = true;
      else if (pred !== undefined) return reject(`a triangular mask that is not causal (query i must see keys j ≤ i)`);
      else splitMask(ix, a, qAxis, rank, negated, found), (found.maskFill = fill);
      cur = negated ? c : b;
    } else return reject(`a ${n.prim} between q·kᵀ and the softmax`);
  }
  if (biases.length > 1) return reject(`${biases.length} additive terms on the scores (one bias is supported)`);
  if (biases[0]) found.bias = biases[0];
  if (found.bias && found.mask && found.maskFill !== -Infinity) return reject(`a bias and a mask with a finite fill (${found.maskFill}) on the same scores`);
  const dot = ix.producer.get(cur)!;
  const { q, k } = matchQK(ix, dot, nb, found);
  return { ...found, q, k };
}

/** A keep-mask that may be `and(mask, causal)`: the causal half becomes the flag. */
function splitMask(ix: GraphIndex, pred: Value, qAxis: number, rank: number, negated: boolean, found: Omit<Found, "q" | "k">): void {
  const n = ix.producer.get(pred);
  if (!negated && n?.prim === "and") {
    const [a, b] = n.inputs as [Value, Value];
    const axes = [...Array(rank).keys()];
    const [ca, cb] = [causalPredicate(ix, a, axes, qAxis), causalPredicate(ix, b, axes, qAxis)];
    if (ca === "keep" || cb === "keep") {
      found.causal = true;
      found.mask = ca === "keep" ? b : a;
      return;
    }
  }
  if (found.mask) reject(`two masks on the scores`);
  found.mask = pred;
  if (negated) found.maskNegated = true;
}

/** Whether `v` is q·kᵀ after the kinds of node the score chain may hold. */
function reachesDot(ix: GraphIndex, v: Value): boolean {
  const n = ix.producer.get(v);
  if (n?.prim === "dot_general") return true;
  return !!n && ["mul", "div", "add", "select"].includes(n.prim) && n.inputs.some((x) => reachesDot(ix, x));
}

/** q·kᵀ: one contracting axis (the head dim), one free axis each, batch axes first in order. */
function matchQK(ix: GraphIndex, dot: Node, nb: number, found: Omit<Found, "q" | "k">): { q: Operand; k: Operand } {
  const p = dot.params as DotParams;
  if (p.lhs_contract.length !== 1) return reject(`q·kᵀ contracts ${p.lhs_contract.length} axes (one head dim expected)`);
  if (p.lhs_batch.length !== nb) return reject(`q·kᵀ has ${p.lhs_batch.length} batch axes, the scores ${nb}`);
  const operand = (v: Value, batch: number[], contract: number): Operand => {
    const free = [...Array(v.shape.length).keys()].filter((i) => !batch.includes(i) && i !== contract);
    if (free.length !== 1) reject(`an operand of q·kᵀ has ${free.length} sequence axes (one expected)`);
    return { value: v, batch, seq: free[0]!, dim: contract };
  };
  const unscaled = (v: Value): Value => {
    const n = ix.producer.get(v);
    if (n?.prim === "mul" || n?.prim === "div") {
      const [a, b] = n.inputs as [Value, Value];
      const cb = splatValue(ix, b), ca = n.prim === "mul" ? splatValue(ix, a) : undefined;
      if (cb !== undefined) return (found.scale *= n.prim === "mul" ? cb : 1 / cb), unscaled(a);
      if (ca !== undefined) return (found.scale *= ca), unscaled(b);
    }
    return v;
  };
  const [qv, kv] = dot.inputs as [Value, Value];
  return {
    q: operand(unscaled(qv), p.lhs_batch, p.lhs_contract[0]!),
    k: operand(unscaled(kv), p.rhs_batch, p.rhs_contract[0]!),
  };
}

interface AttentionMatch extends Found {
  root: Node;
  v: Operand;
  /** Axis order of the root's result relative to [score batch..., Sq, Dv]. */
  outBatch: number[];
}

/** The attention whose final product is `root` (p·v), or a Reject saying why not. */
function matchAttention(ix: GraphIndex, root: Node): AttentionMatch {
  const p = root.params as DotParams;
  const [pv, vv] = root.inputs as [Value, Value];
  const nb = pv.shape.length - 2;
  if (nb < 0 || p.lhs_contract.length !== 1 || p.lhs_contract[0] !== nb + 1)
    return reject(`p·v does not contract the last axis of p`);
  if (p.lhs_batch.length !== nb || [...p.lhs_batch].sort((a, b) => a - b).some((d, i) => d !== i))
    return reject(`p·v's batch axes are not p's leading axes`);
  const vFree = [...Array(vv.shape.length).keys()].filter((i) => !p.rhs_batch.includes(i) && i !== p.rhs_contract[0]);
  if (vFree.length !== 1) return reject(`v has ${vFree.length} head-dim axes (one expected)`);
  const { s, nodes } = matchSoftmax(ix, pv, nb + 1);
  const found = matchScores(ix, s, nb);
  // v's axis for score batch axis j: rhs_batch at the position where lhs_batch names j.
  const vBatch = [...Array(nb).keys()].map((j) => p.rhs_batch[p.lhs_batch.indexOf(j)]!);
  for (const n of nodes) found.nodes.add(n);
  found.nodes.add(root);
  return { ...found, root, v: { value: vv, batch: vBatch, seq: p.rhs_contract[0]!, dim: vFree[0]! }, outBatch: p.lhs_batch };
}

/** Intermediate values used outside the pattern must stay: then the scores exist anyway. */
function checkPrivate(ix: GraphIndex, m: AttentionMatch): void {
  for (const n of m.nodes) {
    if (n === m.root) continue;
    for (const v of n.outputs) {
      if (ix.outputs.has(v)) reject(`the ${n.prim} result is a graph output`);
      for (const u of ix.users.get(v) ?? []) if (!m.nodes.has(u)) reject(`the ${n.prim} result is also used by a ${u.prim}`);
    }
  }
}

// ---------------------------------------------------------------------------
// rewriting

const isIdentity = (perm: readonly number[]) => perm.every((p, i) => p === i);

/**
 * k or v as [Gk, S, E]: when trailing batch axes are a broadcast (the operand is
 * broadcast_in_dim of one with fewer heads, possibly reshaped to merge kv-heads × group),
 * the groups before them index the unbroadcast operand (grouped-query attention).
 */
function peelBroadcast(ix: GraphIndex, o: Operand, batchShape: readonly number[]): Operand & { groups: number[] } {
  const full = { ...o, groups: [...batchShape] };
  let x = o.value;
  // A reshape that only splits axes (heads → kv-heads × group) is looked through.
  let batch = o.batch.map((a) => [a]), seq = o.seq, dim = o.dim;
  const r = ix.producer.get(x);
  if (r?.prim === "reshape") {
    const inner = r.inputs[0]!;
    const split = splitAxes(inner.shape, x.shape);
    if (!split || split[seq]!.length !== 1 || split[dim]!.length !== 1) return full;
    batch = batch.map(([a]) => split[a!]!);
    [seq, dim, x] = [split[seq]![0]!, split[dim]![0]!, inner];
  }
  const bc = ix.producer.get(x);
  if (bc?.prim !== "broadcast_in_dim") return full;
  const { dims } = bc.params as PrimitiveParams["broadcast_in_dim"];
  const src = bc.inputs[0]!;
  const srcAxis = (a: number) => {
    const i = dims.indexOf(a);
    return i >= 0 && src.shape[i] === x.shape[a] ? i : undefined;
  };
  const flat = batch.flat();
  const kept = (a: number) => x.shape[a]! > 1 && srcAxis(a) !== undefined;
  const broadcastAxis = (a: number) => x.shape[a]! > 1 && srcAxis(a) === undefined;
  let cut = 0;
  flat.forEach((a, i) => {
    if (kept(a)) cut = i + 1;
  });
  const suffix = flat.slice(cut), prefix = flat.slice(0, cut);
  if (!suffix.some(broadcastAxis) || prefix.some(broadcastAxis)) return full;
  if (srcAxis(seq) === undefined || srcAxis(dim) === undefined) return full;
  const groups = prefix.filter(kept);
  return { value: src, batch: groups.map((a) => srcAxis(a)!), seq: srcAxis(seq)!, dim: srcAxis(dim)!, groups: groups.map((a) => x.shape[a]!) };
}

/** For a reshape from `inner` to `outer` that only splits axes: the inner axes of each outer axis. */
function splitAxes(inner: readonly number[], outer: readonly number[]): number[][] | undefined {
  const out: number[][] = [];
  let i = 0;
  for (const d of outer) {
    const group: number[] = [];
    let size = 1;
    do {
      if (i >= inner.length) return undefined;
      size *= inner[i]!;
      group.push(i++);
    } while (size < d);
    if (size !== d) return undefined;
    out.push(group);
  }
  return i === inner.length ? out : undefined;
}

/** `o` as a rank-3 [groups, seq, dim] value built into `b`. */
function canonical(b: GraphBuilder, o: Operand, groups: number): Value {
  const perm = [...o.batch, o.seq, o.dim];
  let x = o.value;
  const dropped = [...Array(x.shape.length).keys()].filter((a) => !perm.includes(a));
  if (dropped.length) {
    // Axes the operand had only as size-1 broadcasts: reshape them away first.
    const keep = [...Array(x.shape.length).keys()].filter((a) => perm.includes(a));
    x = b.add("reshape", [x], { shape: keep.map((a) => x.shape[a]!) })[0]!;
    const renum = (a: number) => keep.indexOf(a);
    perm.splice(0, perm.length, ...perm.map(renum));
  }
  if (!isIdentity(perm)) x = b.add("transpose", [x], { perm })[0]!;
  const shape = [groups, x.shape[x.shape.length - 2]!, x.shape[x.shape.length - 1]!];
  return x.shape.length === 3 && x.shape[0] === groups ? x : b.add("reshape", [x], { shape })[0]!;
}

/** A bias or mask over the scores as [G | 1, Sq | 1, Sk | 1]. */
function canonicalExtra(ix: GraphIndex, b: GraphBuilder, v: Value, nb: number, negate: boolean, get: (v: Value) => Value): Value {
  const rank = nb + 2;
  const t = throughBroadcast(ix, v, [...Array(rank).keys()]);
  let x = get(t.value);
  const present = new Set(t.axes.filter((a): a is number => a !== undefined));
  const batchFull = [...Array(nb).keys()].some((a) => present.has(a));
  const target = v.shape.map((d, a) => (a < nb ? (batchFull ? d : 1) : present.has(a) ? d : 1));
  const dims: number[] = [];
  const keepAxes: number[] = [];
  t.axes.forEach((a, i) => {
    if (a !== undefined) dims.push(a), keepAxes.push(i);
  });
  if (keepAxes.length !== x.shape.length) x = b.add("reshape", [x], { shape: keepAxes.map((i) => x.shape[i]!) })[0]!;
  if (!(x.shape.length === rank && x.shape.every((d, i) => d === target[i])))
    x = b.add("broadcast_in_dim", [x], { shape: target, dims })[0]!;
  const groups = batchFull ? sizeOf(target.slice(0, nb)) : 1;
  x = b.add("reshape", [x], { shape: [groups, target[nb]!, target[nb + 1]!] })[0]!;
  return negate ? b.add("not", [x], {})[0]! : x;
}

function rewrite(g: Graph, ix: GraphIndex, matches: Map<Node, AttentionMatch>): Graph {
  return replaceRoots(g, matches, (b, m, get) => {
    const nb = m.q.batch.length;
    const scores = [...m.q.batch.map((a) => m.q.value.shape[a]!), m.q.value.shape[m.q.seq]!, m.k.value.shape[m.k.seq]!];
    const batchShape = scores.slice(0, nb);
    const G = sizeOf(batchShape);
    const remap = (o: Operand) => ({ ...o, value: get(o.value) });
    const k = peelBroadcast(ix, m.k, batchShape), v = peelBroadcast(ix, m.v, batchShape);
    const sameGroups = k.groups.length === v.groups.length && k.groups.every((d, i) => d === v.groups[i]);
    const [kk, vv] = sameGroups ? [k, v] : [{ ...m.k, groups: batchShape }, { ...m.v, groups: batchShape }];
    const q = canonical(b, remap(m.q), G);
    const split = !m.causal && !m.bias && !m.mask ? keyParts(ix, kk, vv) : undefined;
    if (split) {
      // Keys and values concatenated along the sequence (a KV cache and the new tokens):
      // attention over each part, merged by log-sum-exp, reads each part where it lies.
      const parts = split.map(([kp, vp]) => addFlashAttention(b, [q, canonical(b, remap(kp), sizeOf(kk.groups)), canonical(b, remap(vp), sizeOf(vv.groups))],
        { scale: m.scale, causal: false, bias: false, mask: false }));
      return restore(b, m, mergeByLse(b, parts), batchShape, G, scores[nb]!);
    }
    const operands = [
      q,
      canonical(b, remap(kk), sizeOf(kk.groups)),
      canonical(b, remap(vv), sizeOf(vv.groups)),
    ];
    let bias = m.bias && canonicalExtra(ix, b, m.bias, nb, false, get);
    let mask = m.mask && canonicalExtra(ix, b, m.mask, nb, !!m.maskNegated, get);
    if (mask && m.maskFill !== -Infinity) {
      // A finite fill is what a masked score becomes: an additive 0 / fill bias (exact when |score| ≪ |fill|).
      const splat = (x: number) => b.add("broadcast_in_dim", [b.add("constant", [], { value: [x], shape: [], dtype: "f32" })[0]!], { shape: [...mask!.shape], dims: [] })[0]!;
      bias = b.add("select", [mask, splat(0), splat(m.maskFill!)], {})[0]!;
      mask = undefined;
    }
    if (bias) operands.push(bias);
    if (mask) operands.push(mask);
    const [out] = addFlashAttention(b, operands, { scale: m.scale, causal: m.causal, bias: !!bias, mask: !!mask });
    return restore(b, m, out, batchShape, G, scores[nb]!);
  });
}

/** flash_attention's [G, Sq, Dv] output in the matched root's shape and axis order. */
function restore(b: GraphBuilder, m: AttentionMatch, out: Value, batchShape: readonly number[], G: number, sq: number): Value {
  const nb = batchShape.length;
  const shape = [...batchShape, sq, out.shape[2]!];
  let y = shape.length === 3 && shape[0] === G ? out : b.add("reshape", [out], { shape })[0]!;
  // The root's result lists batch axes in lhs_batch order.
  const perm = [...m.outBatch, nb, nb + 1];
  if (!isIdentity(perm)) y = b.add("transpose", [y], { perm })[0]!;
  return y;
}

/**
 * When k and v are both concatenations along the sequence axis with the same part lengths,
 * the parts, paired: attention over their concatenation is the parts' attentions merged by
 * log-sum-exp (flash-decoding's merge; FlashInfer's cascade attention), so each part is
 * read where it lies and the concatenation is never stored.
 */
function keyParts(ix: GraphIndex, k: Operand, v: Operand): [Operand, Operand][] | undefined {
  const parts = (o: Operand) => {
    const n = ix.producer.get(o.value);
    return n?.prim === "concatenate" && (n.params as PrimitiveParams["concatenate"]).axis === o.seq ? n.inputs : undefined;
  };
  const [kp, vp] = [parts(k), parts(v)];
  if (!kp || !vp || kp.length !== vp.length || kp.some((x, i) => x.shape[k.seq] !== vp[i]!.shape[v.seq])) return undefined;
  return kp.map((x, i) => [{ ...k, value: x }, { ...v, value: vp[i]! }]);
}

/**
 * Attention results over disjoint key sets merged into attention over their union: with
 * M = max lseᵢ and wᵢ = exp(lseᵢ − M), out = Σ wᵢ·outᵢ / Σ wᵢ.
 */
function mergeByLse(b: GraphBuilder, parts: readonly [Value, Value][]): Value {
  const op = (prim: "max" | "sub" | "exp" | "mul" | "add" | "div", ...xs: Value[]) => b.add(prim, xs, {})[0]!;
  const [out0] = parts[0]!;
  const rows = (x: Value) => b.add("broadcast_in_dim", [x], { shape: [...out0.shape], dims: [0, 1] })[0]!;
  const top = parts.slice(1).reduce((a, [, lse]) => op("max", a, lse), parts[0]![1]);
  const weights = parts.map(([, lse]) => op("exp", op("sub", lse, top)));
  const num = parts.map(([o], i) => op("mul", o, rows(weights[i]!))).reduce((a, x) => op("add", a, x));
  const den = weights.reduce((a, x) => op("add", a, x));
  return op("div", num, rows(den));
}

/**
 * Finds every attention in `g`; `notes` receives one line per match and per rejected
 * candidate. With a CPU-adapter target, attention with small scores is left as it is.
 */
export function fuseAttention(g: Graph, notes: string[] = [], target?: Target, differentiated = false): Graph {
  const ix = indexGraph(g);
  const matches = new Map<Node, AttentionMatch>();
  for (const n of g.nodes) {
    if (n.prim !== "dot_general" || n.inputs[0]!.dtype !== "f32") continue;
    // Candidates worth a note: the lhs is a division, or a product with one (a softmax scaled after).
    const lhs = ix.producer.get(n.inputs[0]!);
    if (lhs?.prim !== "div" && !(lhs?.prim === "mul" && lhs.inputs.some((x) => ix.producer.get(x)?.prim === "div"))) continue;
    try {
      const m = matchAttention(ix, n);
      checkPrivate(ix, m);
      const [G, sq] = m.q.value.shape.length ? [m.q.batch.map((a) => m.q.value.shape[a]!), m.q.value.shape[m.q.seq]!] : [[], 0];
      const sk = m.k.value.shape[m.k.seq]!;
      const scores = 4 * G.reduce((a, x) => a * x, 1) * sq * sk;
      if (target?.cpuAdapter && scores < CPU_MATERIALISED_SCORES && (differentiated || sq < CPU_FLASH_MIN_QUERIES)) {
        notes.push(`attention: kept materialised over [${G}] × ${sq} queries × ${sk} keys: on a CPU adapter its ` +
          `${(scores / 2 ** 20).toFixed(1)} MiB of scores are below ${CPU_MATERIALISED_SCORES / 2 ** 20} MiB and it ` +
          (differentiated ? "is differentiated (the tiled backward does not pay there)"
            : `has ${sq} < ${CPU_FLASH_MIN_QUERIES} query rows (flash-decoding's split and merge do not pay there)`));
        continue;
      }
      matches.set(n, m);
      const parts = !m.causal && !m.bias && !m.mask ? keyParts(ix, m.k, m.v) : undefined;
      notes.push(`attention: flash_attention over [${G}] × ${sq} queries × ${sk} keys, scale ${m.scale}` +
        `${m.causal ? ", causal" : ""}${m.bias ? ", bias" : ""}${m.mask ? ", mask" : ""}` +
        `${parts ? `; keys concatenated from ${parts.length} parts: one flash_attention each, merged by log-sum-exp` : ""}`);
    } catch (e) {
      if (!(e instanceof Reject)) throw e;
      notes.push(`attention: not rewritten (${n.inputs.map(typeText).join(" · ")}): ${e.message}`);
    }
  }
  return matches.size ? rewrite(g, ix, matches) : g;
}

const typeText = (v: Value) => `${v.dtype}[${v.shape}]`;

export const attentionPass: Pass = { name: "attention", run: (g, ctx) => fuseAttention(g, ctx.notes, ctx.target, ctx.differentiated) };
