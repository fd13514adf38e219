/**
 * Reductions and scans: reduce_sum/max/min over any axes and argmax as workgroup-parallel
 * tree reductions (each invocation folds a strided slice of the reduced elements, then
 * log2(workgroup) halving steps in workgroup memory; Harris, "Optimizing Parallel
 * Reduction in CUDA"), or one invocation per output when the reduced extent is small;
 * cumsum as one sequential scan per line; top_k by rank counting, which needs no sort and
 * is deterministic: an element's output slot is the number of elements ranking before it.
 */
import { type DType, type Shape, sizeOf } from "../ir/dtype.js";
import type { ReduceOp } from "../ir/primitives.js";
import { gridFor, groupAddress, groupIndex, linearGroupId } from "./indexing.js";
import {
  type Binding, type Expr, type Kernel, type Scalar, BodyBuilder,
  and, bin, call, cast, eq, f32, ge, iadd, id, imul, irem, idiv, isub, lit, load, lt, select, u32,
} from "./kernel.js";
import type { Target } from "./target.js";

export interface KernelHead {
  readonly name: string;
  readonly source: string;
  readonly bindings: readonly Binding[];
}

/** Below this many reduced elements one invocation per output is cheaper than a workgroup. */
const SERIAL_LIMIT = 128;

/** The value a reduction starts from (its operator's identity). */
export function identity(op: ReduceOp, t: Scalar): Expr {
  if (op === "reduce_sum") return lit(t, 0);
  const max = op === "reduce_max";
  if (t === "f32") return f32(max ? -Infinity : Infinity);
  if (t === "i32") return lit("i32", max ? -2147483648 : 2147483647);
  return lit("u32", max ? 0 : 4294967295);
}

export function combine(op: ReduceOp, a: Expr, b: Expr): Expr {
  return op === "reduce_sum" ? bin("add", a, b) : bin(op === "reduce_max" ? "max" : "min", a, b);
}

/** Elements summed into a block before it joins the next level (BlockedSum). */
export const SUM_BLOCK = 256;

/**
 * One invocation's share of a reduction, folded in a loop. A float sum is blocked: values
 * go into a block sum, every SUM_BLOCK elements the block joins a second-level sum, and
 * every SUM_BLOCK blocks that joins the total, so each addend meets an accumulator at most
 * SUM_BLOCK times its size and the rounding error grows with 3·SUM_BLOCK, not with the row
 * (one f32 accumulator over 2^24 small values drifts by 2.5%). The flushes cost one
 * counter and a uniform branch per step. Other folds (max, min, integer sums) are exact.
 */
export class BlockedSum {
  private readonly levels: (Expr & { k: "ref" })[];
  private readonly count: (Expr & { k: "ref" }) | undefined;

  /** `perStep`: elements each `step` adds (4 for a 4-vector step). */
  constructor(b: BodyBuilder, private readonly op: ReduceOp, private readonly t: Scalar, private readonly perStep = 1) {
    const blocked = op === "reduce_sum" && t === "f32";
    this.levels = blocked
      ? [b.var("acc_block", identity(op, t)), b.var("acc_mid", identity(op, t)), b.var("acc", identity(op, t))]
      : [b.var("acc", identity(op, t))];
    this.count = blocked ? b.var("acc_steps", u32(0)) : undefined;
  }

  /** Folds one value (inside the loop). */
  add(bb: BodyBuilder, v: Expr): void {
    const first = this.levels[0]!;
    bb.assign(first, combine(this.op, first, v));
  }

  /** Ends one loop step: flushes a full block, and a full second level. */
  step(bb: BodyBuilder): void {
    if (!this.count) return;
    const [block, mid, total] = this.levels as [Expr & { k: "ref" }, Expr & { k: "ref" }, Expr & { k: "ref" }];
    const steps = Math.max(1, Math.floor(SUM_BLOCK / this.perStep));
    bb.assign(this.count, iadd(this.count, u32(1)));
    bb.if(eq(irem(this.count, u32(steps)), u32(0)), (f) => {
      f.assign(mid, bin("add", mid, block));
      f.assign(block, f32(0));
      f.if(eq(irem(this.count!, u32(steps * SUM_BLOCK)), u32(0)), (g) => {
        g.assign(total, bin("add", total, mid));
        g.assign(mid, f32(0));
      });
    });
  }

  /** The folded value (after the loop). */
  result(b: BodyBuilder): Expr {
    if (!this.count) return this.levels[0]!;
    const [block, mid, total] = this.levels as [Expr, Expr, Expr];
    return b.let("acc_sum", bin("add", total, bin("add", mid, block)));
  }
}

function workgroupWidth(r: number, target: Target): number {
  let w = 32;
  while (w < 256 && w < r) w *= 2;
  return Math.min(w, target.limits.maxComputeInvocationsPerWorkgroup, target.limits.maxComputeWorkgroupSizeX);
}

/** One invocation per output element: `gid` and an early exit past the end. */
function perElement(b: BodyBuilder, n: number, width: number, target: Target): { gid: Expr; grid: [number, number, number] } {
  const grid = gridFor(Math.ceil(n / width), target);
  const gid = b.let("gid", iadd(imul(linearGroupId(grid), u32(width)), id("local", 0)));
  b.if(ge(gid, u32(n)), (x) => x.return());
  return { gid, grid };
}

function kernel(head: KernelHead, b: BodyBuilder, width: number, grid: [number, number, number], shared: Kernel["shared"] = []): Kernel {
  return { ...head, workgroupSize: [width, 1, 1], grid, shared, body: b.stmts };
}

/** One invocation per output element (a short row): `gid`, and the address of its row's first element. */
function serialRows(b: BodyBuilder, outSize: number, kept: readonly number[], shape: Shape, target: Target) {
  const { gid, grid } = perElement(b, outSize, 64, target);
  return { gid, grid, base: b.let("base", groupAddress(b, gid, kept, shape, "o")) };
}

/** One workgroup per output element (a long row): the output `o`, the invocation's `lid`, and the row's first element. */
function workgroupRows(b: BodyBuilder, outSize: number, r: number, kept: readonly number[], shape: Shape, target: Target) {
  const width = workgroupWidth(r, target);
  const grid = gridFor(outSize, target);
  const o = groupIndex(b, "o", grid, outSize);
  const lid = b.let("lid", id("local", 0));
  return { width, grid, o, lid, base: b.let("base", groupAddress(b, o, kept, shape, "o")) };
}

/** Splits axes into kept (ascending) and reduced (in the given order). */
function split(shape: Shape, axes: readonly number[]) {
  const kept = shape.map((_, i) => i).filter((i) => !axes.includes(i));
  return { kept, outSize: sizeOf(kept.map((i) => shape[i]!)), r: sizeOf(axes.map((i) => shape[i]!)) };
}

/**
 * A reduction folds `r` values per output; `fold` receives the value address and gives the
 * combined accumulator. Both strategies share the per-output prologue.
 */
export function reduceKernel(head: KernelHead, op: ReduceOp, dtype: DType, shape: Shape, axes: readonly number[], target: Target): Kernel {
  const t = dtype as Scalar;
  const [x, out] = [head.bindings[0]!.name, head.bindings[1]!.name];
  const { kept, outSize, r } = split(shape, axes);
  const b = new BodyBuilder();
  if (r <= SERIAL_LIMIT) {
    const { gid, grid, base } = serialRows(b, outSize, kept, shape, target);
    const acc = b.var("acc", identity(op, t));
    b.for("j", u32(0), u32(r), (j, body) =>
      body.assign(acc, combine(op, acc, load(t, x, iadd(base, groupAddress(body, j, axes, shape, "r"))))));
    b.store(out, gid, acc);
    return kernel(head, b, 64, grid);
  }
  const { width, grid, o, lid, base } = workgroupRows(b, outSize, r, kept, shape, target);
  const sum = new BlockedSum(b, op, t);
  b.for("j", lid, u32(r), (j, body) => {
    sum.add(body, load(t, x, iadd(base, groupAddress(body, j, axes, shape, "r"))));
    sum.step(body);
  }, width);
  b.store("partial", lid, sum.result(b), "workgroup");
  b.barrier();
  treeReduce(b, op, t, "partial", u32(0), lid, width);
  b.if(eq(lid, u32(0)), (e) => e.store(out, o, load(t, "partial", u32(0), "workgroup")));
  return kernel(head, b, width, grid, [{ name: "partial", t, size: width }]);
}

/**
 * Folds `width` (a power of two) partials stored at partial[base + lane], already behind a
 * barrier, into partial[base]: log2(width) halving steps, each followed by a barrier.
 */
export function treeReduce(b: BodyBuilder, op: ReduceOp, t: Scalar, partial: string, base: Expr, lane: Expr, width: number): void {
  const at = b.let("slot", iadd(base, lane));
  for (let s = width / 2; s >= 1; s /= 2) {
    b.if(lt(lane, u32(s)), (e) =>
      e.store(partial, at, combine(op, load(t, partial, at, "workgroup"), load(t, partial, iadd(at, u32(s)), "workgroup")), "workgroup"));
    b.barrier();
  }
}

/** `a` ranks before `b` for argmax/top_k: larger first, NaN largest; ties are broken by the caller. */
function greater(a: Expr, b: Expr): Expr {
  if (a.t !== "f32") return bin("gt", a, b);
  return bin("or", bin("gt", a, b), and(call("isnan", a), un_not(call("isnan", b))));
}
const un_not = (e: Expr): Expr => ({ k: "un", t: "bool", op: "not", a: e });

/** First index of the maximum along `axis` (NaN counts as the maximum), as i32. */
export function argmaxKernel(head: KernelHead, dtype: DType, shape: Shape, axis: number, target: Target): Kernel {
  const t = dtype as Scalar;
  const [x, out] = [head.bindings[0]!.name, head.bindings[1]!.name];
  const { kept, outSize, r } = split(shape, [axis]);
  const b = new BodyBuilder();
  const lowest = t === "f32" ? f32(-Infinity) : t === "i32" ? lit("i32", -2147483648) : u32(0);
  const fold = (body: BodyBuilder, best: Expr, at: Expr, base: Expr, j: Expr) => {
    const v = body.let("v", load(t, x, iadd(base, groupAddress(body, j, [axis], shape, "r"))));
    // j runs upwards, so a strict comparison keeps the first maximum.
    body.if(greater(v, best), (e) => {
      e.assign(best, v);
      e.assign(at, j);
    });
  };
  if (r <= SERIAL_LIMIT) {
    const { gid, grid, base } = serialRows(b, outSize, kept, shape, target);
    const best = b.var("best", load(t, x, base));
    const at = b.var("best_at", u32(0));
    b.for("j", u32(1), u32(r), (j, body) => fold(body, best, at, base, j));
    b.store(out, gid, cast("i32", at));
    return kernel(head, b, 64, grid);
  }
  const { width, grid, o, lid, base } = workgroupRows(b, outSize, r, kept, shape, target);
  const best = b.var("best", lowest);
  const at = b.var("best_at", u32(0xffffffff));
  b.for("j", lid, u32(r), (j, body) => fold(body, best, at, base, j), width);
  b.store("best_value", lid, best, "workgroup");
  b.store("best_index", lid, at, "workgroup");
  b.barrier();
  for (let s = width / 2; s >= 1; s /= 2) {
    b.if(lt(lid, u32(s)), (e) => {
      const [va, ia] = [e.let("va", load(t, "best_value", lid, "workgroup")), e.let("ia", load("u32", "best_index", lid, "workgroup"))];
      const other = e.let("other", iadd(lid, u32(s)));
      const [vb, ib] = [e.let("vb", load(t, "best_value", other, "workgroup")), e.let("ib", load("u32", "best_index", other, "workgroup"))];
      const tie = t === "f32" ? bin("or", eq(vb, va), and(call("isnan", va), call("isnan", vb))) : eq(vb, va);
      e.if(bin("or", greater(vb, va), and(tie, lt(ib, ia))), (w) => {
        w.store("best_value", lid, vb, "workgroup");
        w.store("best_index", lid, ib, "workgroup");
      });
    });
    b.barrier();
  }
  b.if(eq(lid, u32(0)), (e) => e.store(out, o, cast("i32", load("u32", "best_index", u32(0), "workgroup"))));
  return kernel(head, b, width, grid, [{ name: "best_value", t, size: width }, { name: "best_index", t: "u32", size: width }]);
}

/** Inclusive prefix sums along `axis`, one invocation per line (from the end when `reverse`). */
export function cumsumKernel(head: KernelHead, dtype: DType, shape: Shape, axis: number, reverse: boolean, target: Target): Kernel {
  const t = dtype as Scalar;
  const [x, out] = [head.bindings[0]!.name, head.bindings[1]!.name];
  const n = shape[axis]!, inner = sizeOf(shape.slice(axis + 1)), lines = sizeOf(shape) / Math.max(n, 1);
  const b = new BodyBuilder();
  const { gid, grid } = perElement(b, lines, 64, target);
  const base = b.let("base", iadd(imul(idiv(gid, u32(inner)), u32(n * inner)), irem(gid, u32(inner))));
  const acc = b.var("acc", lit(t, 0));
  b.for("s", u32(0), u32(n), (s, body) => {
    const pos = reverse ? isub(u32(n - 1), s) : s;
    const addr = body.let("at", iadd(base, imul(pos, u32(inner))));
    body.assign(acc, bin("add", acc, load(t, x, addr)));
    body.store(out, addr, acc);
  });
  return kernel(head, b, 64, grid);
}

/**
 * top_k along the last axis. Each input element counts the elements ranking before it
 * (larger, NaN largest, ties to the lower index); ranks are a permutation, so the k
 * smallest ranks write each output slot exactly once. O(n) work per element.
 */
export function topKKernel(head: KernelHead, dtype: DType, shape: Shape, k: number, target: Target): Kernel {
  const t = dtype as Scalar;
  const [x, values, indices] = [head.bindings[0]!.name, head.bindings[1]!.name, head.bindings[2]!.name];
  const n = shape[shape.length - 1]!, total = sizeOf(shape);
  const b = new BodyBuilder();
  const { gid, grid } = perElement(b, total, 64, target);
  const row = b.let("row", idiv(gid, u32(n)));
  const i = b.let("i", irem(gid, u32(n)));
  const xi = b.let("xi", load(t, x, gid));
  const rowBase = b.let("row_base", imul(row, u32(n)));
  const rank = b.var("rank", u32(0));
  b.for("j", u32(0), u32(n), (j, body) => {
    const xj = body.let("xj", load(t, x, iadd(rowBase, j)));
    const tie = t === "f32" ? bin("or", eq(xj, xi), and(call("isnan", xj), call("isnan", xi))) : eq(xj, xi);
    const before = bin("or", greater(xj, xi), and(tie, lt(j, i)));
    body.assign(rank, iadd(rank, select(before, u32(1), u32(0))));
  });
  b.if(lt(rank, u32(k)), (e) => {
    const slot = e.let("slot", iadd(imul(row, u32(k)), rank));
    e.store(values, slot, xi);
    e.store(indices, slot, cast("i32", i));
  });
  return kernel(head, b, 64, grid);
}


