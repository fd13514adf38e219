/**
 * Strided views: a value that a chain of layout ops makes from one buffer, written as an
 * affine map from its own multi-index to an element of the buffer (tinygrad's
 * ShapeTracker with one view; numpy's offset and strides). transpose permutes the
 * strides, slice moves the offset and scales them, broadcast_in_dim gives new axes stride
 * 0, and reshape regroups axes where they are contiguous among themselves (numpy's
 * no-copy reshape). pad and concatenate are no strided view: they need a test per
 * element, so their consumers evaluate them as index expressions instead.
 */
import { type Shape, stridesOf } from "./dtype.js";
import type { Node } from "./graph.js";
import type { PrimitiveParams } from "./primitives.js";

export interface StridedView {
  /** The view's shape. */
  readonly shape: Shape;
  /** Element (i0, i1, ...) is buffer element offset + Σ i_d · strides[d]. */
  readonly offset: number;
  readonly strides: readonly number[];
}

/** A whole row-major buffer of `shape`. */
export const contiguous = (shape: Shape): StridedView => ({ shape, offset: 0, strides: stridesOf(shape) });

/** The view `n` makes of `v` (n's operand), or undefined when n is no strided layout op. */
function applyView(v: StridedView, n: Pick<Node, "prim" | "params" | "outputs">): StridedView | undefined {
  const shape = n.outputs[0]!.shape;
  switch (n.prim) {
    case "transpose": {
      const { perm } = n.params as PrimitiveParams["transpose"];
      return { shape, offset: v.offset, strides: perm.map((p) => v.strides[p]!) };
    }
    case "slice": {
      const { start, strides } = n.params as PrimitiveParams["slice"];
      const offset = v.offset + start.reduce((o, s, d) => o + s * v.strides[d]!, 0);
      return { shape, offset, strides: v.strides.map((s, d) => s * strides[d]!) };
    }
    case "broadcast_in_dim": {
      const { dims } = n.params as PrimitiveParams["broadcast_in_dim"];
      const strides = new Array<number>(shape.length).fill(0);
      dims.forEach((out, d) => (strides[out] = v.shape[d] === 1 ? 0 : v.strides[d]!));
      return { shape, offset: v.offset, strides };
    }
    case "reshape":
      return reshapeView(v, shape);
    default:
      return undefined;
  }
}

/**
 * `v` seen with shape `to` (same element count, row-major order), or undefined when that
 * needs a copy. Unit axes are dropped; then the axes of both shapes are matched in runs of
 * equal product, and each run of `v` must be contiguous among itself (each stride its
 * inner neighbour's times that neighbour's size) to be split into `to`'s axes.
 */
function reshapeView(v: StridedView, to: Shape): StridedView | undefined {
  // An empty array reads no element: any strides do.
  if (to.includes(0)) return { shape: to, offset: v.offset, strides: to.map(() => 0) };
  const from = v.shape.map((d, i) => ({ d, s: v.strides[i]! })).filter((a) => a.d !== 1);
  const live = to.map((d, i) => ({ d, i })).filter((a) => a.d !== 1);
  const strides = new Array<number>(to.length).fill(0);
  let f = 0, t = 0;
  while (f < from.length && t < live.length) {
    // One run: the fewest axes on each side whose sizes multiply to the same number.
    const f0 = f, t0 = t;
    let pf = from[f++]!.d, pt = live[t++]!.d;
    while (pf !== pt) {
      if (pf < pt) pf *= from[f++]!.d;
      else pt *= live[t++]!.d;
    }
    for (let k = f0; k + 1 < f; k++) if (from[k]!.s !== from[k + 1]!.s * from[k + 1]!.d) return undefined;
    let stride = from[f - 1]!.s;
    for (let k = t - 1; k >= t0; k--) {
      strides[live[k]!.i] = stride;
      stride *= live[k]!.d;
    }
  }
  return { shape: to, offset: v.offset, strides };
}

/**
 * The strided view a chain of layout ops makes of a buffer of shape `source`, applied in
 * order (the op nearest the buffer first); undefined when one of them is no strided view.
 */
export function viewThrough(source: Shape, chain: readonly Pick<Node, "prim" | "params" | "outputs">[]): StridedView | undefined {
  let v: StridedView | undefined = contiguous(source);
  for (const n of chain) {
    v = applyView(v, n);
    if (!v) return undefined;
  }
  return v;
}

/** The view in layout-op words, for kernel listings: `slice[.., 0:768] ∘ transpose[1,0,2]`. */
export function describeChain(chain: readonly Pick<Node, "prim" | "params" | "outputs" | "inputs">[]): string {
  return chain.map(describeView).join(" ∘ ");
}

function describeView(n: Pick<Node, "prim" | "params" | "outputs" | "inputs">): string {
  switch (n.prim) {
    case "transpose":
      return `transpose[${(n.params as PrimitiveParams["transpose"]).perm.join(",")}]`;
    case "slice": {
      const { start, limit, strides } = n.params as PrimitiveParams["slice"];
      const from = n.inputs[0]!.shape;
      const axes = start.map((s, d) =>
        s === 0 && limit[d] === from[d] && strides[d] === 1 ? ".." : `${s}:${limit[d]}${strides[d] === 1 ? "" : `:${strides[d]}`}`);
      return `slice[${axes.join(", ")}]`;
    }
    case "reshape":
      return `reshape[${n.outputs[0]!.shape.join(",")}]`;
    case "broadcast_in_dim":
      return `broadcast[${n.outputs[0]!.shape.join(",")}]`;
    case "pad": {
      const { low, high } = n.params as PrimitiveParams["pad"];
      return `pad[${low.map((l, d) => `${l}:${high[d]}`).join(", ")}]`;
    }
    default:
      return n.prim;
  }
}

/**
 * The stride of a group of axes of a view read as one linear index over them (row-major in
 * the order given): defined when they are adjacent in memory in that order, each stride its
 * inner neighbour's times that neighbour's size (unit axes skipped; 0 for none).
 */
export function groupStride(shape: Shape, strides: readonly number[], dims: readonly number[]): number | undefined {
  const live = dims.filter((d) => shape[d] !== 1);
  if (live.length === 0) return 0;
  const inner = strides[live[live.length - 1]!]!;
  let span = 1;
  for (let i = live.length - 1; i >= 0; i--) {
    if (strides[live[i]!] !== inner * span) return undefined;
    span *= shape[live[i]!]!;
  }
  return inner;
}

/**
 * Where each element of `x` lands in the row-major buffer of `y`, when `chain` (transposes
 * and reshapes, nearest x first) makes y from x: the view of y's buffer with x's shape
 * that a kernel computing x stores through, so y is written without a copy. Undefined
 * when some op is not bijective or a reshape would need a copy.
 */
export function storeView(x: Shape, chain: readonly Pick<Node, "prim" | "params" | "inputs" | "outputs">[]): StridedView | undefined {
  let v: StridedView | undefined = contiguous(chain.length ? chain[chain.length - 1]!.outputs[0]!.shape : x);
  for (let i = chain.length - 1; i >= 0 && v; i--) {
    const n = chain[i]!;
    const from = n.inputs[0]!.shape;
    if (n.prim === "reshape") v = reshapeView(v, from);
    else if (n.prim === "transpose") {
      const { perm } = n.params as PrimitiveParams["transpose"];
      const strides = new Array<number>(perm.length);
      perm.forEach((p, k) => (strides[p] = v!.strides[k]!));
      v = { shape: from, offset: v.offset, strides };
    } else return undefined;
  }
  return v;
}
