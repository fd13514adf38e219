/**
 * The row structure of a "reduction" fusion body (contract in passes/fuse.ts): which
 * values are computed once per row, which are the same at every element of a row, and
 * which element values a later pass over the row reads again. codegen/fused-reduction.ts
 * builds the kernel from it.
 *
 * Passes: one per reduction, in body order (pass p folds reduction p's operand), then the
 * store pass (the D-shaped results).
 */
import type { Shape } from "../ir/dtype.js";
import { sameShape, sizeOf } from "../ir/dtype.js";
import type { Node, Value } from "../ir/graph.js";
import { REDUCE_OPS, type ReduceOp } from "../ir/primitives.js";
import type { BodyEval } from "./fused-body.js";
import { isNodeOf } from "./lower.js";

export const isReduce = (n: Node): n is Node<ReduceOp> => (REDUCE_OPS as readonly string[]).includes(n.prim);

export class RowStructure {
  readonly reductions: readonly Node<ReduceOp>[];
  /** The reduced operands' shape D, the reduced axes A (ascending) and the kept ones. */
  readonly d: Shape;
  readonly axes: readonly number[];
  readonly kept: readonly number[];
  /** K = D without A (one row per element) and the row's own shape (A's extents). */
  readonly kShape: Shape;
  readonly aShape: Shape;
  readonly rows: number;
  readonly length: number;
  /** Whether the innermost non-unit axis is reduced: a row's neighbours are neighbours in memory. */
  readonly rowMajor: boolean;
  private readonly invariantMemo = new Map<Value, boolean>();

  constructor(private readonly ev: BodyEval) {
    this.reductions = ev.body.nodes.filter(isReduce);
    const first = this.reductions[0]!;
    const d = (this.d = first.inputs[0]!.shape);
    this.axes = [...first.params.axes].sort((x, y) => x - y);
    this.kept = d.map((_, i) => i).filter((i) => !this.axes.includes(i));
    this.kShape = this.kept.map((i) => d[i]!);
    this.aShape = this.axes.map((i) => d[i]!);
    this.rows = sizeOf(this.kShape);
    this.length = sizeOf(this.aShape);
    const innermost = d.map((_, i) => i).filter((i) => d[i] !== 1).at(-1);
    this.rowMajor = innermost === undefined || this.axes.includes(innermost);
  }

  /** A reduction, or a computed value of shape K: one per row. */
  isRowValue(v: Value): boolean {
    const p = this.ev.producerOf(v);
    return p !== undefined && (isReduce(p) || sameShape(v.shape, this.kShape));
  }

  /**
   * The same at every element of a row: a row value seen through views, a splat constant,
   * or an elementwise op of such values (layer norm's rsqrt(var + eps) after canonicalise
   * has moved the broadcast above the add). Computed once per row instead of per element.
   */
  invariant(v: Value): boolean {
    const hit = this.invariantMemo.get(v);
    if (hit !== undefined) return hit;
    const p = this.ev.producerOf(v);
    let r: boolean;
    if (this.isRowValue(this.throughBroadcasts(v))) r = true;
    // A layout op moves values between positions, so its result is no longer the same across a row.
    else if (!p || p.prim === "iota" || p.prim === "concatenate" || this.ev.isView(p)) r = false;
    else if (isNodeOf(p, "constant")) r = p.params.value.length === 1;
    else r = p.inputs.every((u) => this.invariant(u));
    this.invariantMemo.set(v, r);
    return r;
  }

  /**
   * Follows reshapes and size-keeping broadcasts (unit axes added) back from `v`: views under
   * which every element keeps its linear position, so a row value read through them is read
   * at the same row index.
   */
  sameLinearSource(v: Value): Value {
    for (let n = this.ev.producerOf(v); n && (n.prim === "reshape" || (n.prim === "broadcast_in_dim" && sizeOf(n.inputs[0]!.shape) === sizeOf(v.shape))); n = this.ev.producerOf(v))
      v = n.inputs[0]!;
    return v;
  }

  /** Follows broadcast_in_dim and reshape (which keep a row value the same along a row) back from `v`. */
  private throughBroadcasts(v: Value): Value {
    for (let n = this.ev.producerOf(v); n && (n.prim === "broadcast_in_dim" || n.prim === "reshape"); n = this.ev.producerOf(v)) v = n.inputs[0]!;
    return v;
  }
}
