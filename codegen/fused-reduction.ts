/**
 * The kernel of a "reduction" fusion (contract in passes/fuse.ts): every reduction folds
 * axes A of one shape D; K is D without A, one row per element of K.
 *
 * A team of invocations owns a row (short rows: several teams per workgroup). For each
 * reduction in body order, a strided pass over the row folds its operand, which may read
 * the row's earlier reductions (softmax's max before its sum), and a workgroup tree
 * (Harris, as in codegen/reduce.ts) combines the team's partials; then one pass stores the
 * row's D-shaped results, and lane 0 its K-shaped ones. Values of shape K are computed
 * once per row, at the row's site, after the reductions they read.
 *
 * When each invocation's share of the row is at most MAX_SLOTS elements, the share is held
 * in registers across the passes: every element gets its own site (codegen/fused-body.ts),
 * so an element loaded for the first reduction, or exp(x - max) computed for the sum, is
 * still a named value when the last pass stores the result. Each pass then reads nothing
 * from global memory; that, not the saved launches, is where a fused softmax or layer norm
 * gains over the unfused kernels. Longer rows loop, re-reading and recomputing per pass.
 */
import { type Shape, sameShape, sizeOf, stridesOf } from "../ir/dtype.js";
import type { Node, Value } from "../ir/graph.js";
import { REDUCE_OPS, type ReduceOp } from "../ir/primitives.js";
import { Index } from "./elementwise.js";
import { BodyEval, type Site, fusionBindings, fusionBuilder, site } from "./fused-body.js";
import { gridFor, linearGroupId, ravel, unravel } from "./indexing.js";
import {
  type BodyBuilder, type Expr, type Kernel, type Scalar, type SharedArray,
  and, bin, eq, ge, iadd, id, imul, load, lt, select, u32,
} from "./kernel.js";
import type { LowerContext } from "./lower.js";
import { combine, identity, treeReduce } from "./reduce.js";
import type { Target } from "./target.js";

/** How rows map onto invocations. */
export interface RowLayout {
  /** Invocations per row; 1 walks the row in one invocation, with no barrier. */
  readonly team: number;
  /** Rows per workgroup. */
  readonly teams: number;
  /** Row elements each invocation keeps in registers across passes, or undefined to loop and re-read. */
  readonly slots: number | undefined;
}

/** Register budget per invocation for a cached row (times the values kept per element). */
export const MAX_SLOTS = 16;

const nextPow2 = (x: number) => 2 ** Math.ceil(Math.log2(Math.max(x, 1)));

/**
 * A team per row when the row is contiguous and long enough to share (about four elements
 * per invocation, up to 256 invocations); one invocation per row when it is short, or when
 * the innermost axis is kept (a column reduction: neighbouring invocations then read
 * neighbouring addresses, XLA's column-reduction rule).
 */
export function rowLayout(r: number, rows: number, reductions: number, rowMajor: boolean, target: Target): RowLayout {
  const maxInv = Math.min(256, target.limits.maxComputeInvocationsPerWorkgroup, target.limits.maxComputeWorkgroupSizeX);
  const serial = (): RowLayout => ({ team: 1, teams: Math.min(64, maxInv), slots: r <= MAX_SLOTS ? r : undefined });
  if (!rowMajor || r <= MAX_SLOTS) return serial();
  let team = Math.min(maxInv, nextPow2(Math.ceil(r / 4)));
  let teams = Math.max(1, Math.min(Math.floor(maxInv / team), nextPow2(rows), target.limits.maxComputeWorkgroupSizeY));
  while (reductions * team * teams * 4 > target.limits.maxComputeWorkgroupStorageSize && team * teams > 1) {
    if (teams > 1) teams /= 2;
    else team /= 2;
  }
  if (team === 1) return serial();
  const slots = Math.ceil(r / team);
  return { team, teams, slots: slots <= MAX_SLOTS ? slots : undefined };
}

const isReduce = (n: Node) => (REDUCE_OPS as readonly string[]).includes(n.prim);

export function reductionKernel(node: Node<"fusion">, ctx: LowerContext, forced?: RowLayout): Kernel {
  const body = node.params.body;
  const bindings = fusionBindings(node);
  const ev = new BodyEval(body, node.inputs.map((_, i) => `in${i}`));
  const reds = body.nodes.filter(isReduce);
  const d: Shape = reds[0]!.inputs[0]!.shape;
  const axes = [...(reds[0]!.params as { axes: number[] }).axes].sort((x, y) => x - y);
  const kept = d.map((_, i) => i).filter((i) => !axes.includes(i));
  const kShape = kept.map((i) => d[i]!), aShape = axes.map((i) => d[i]!);
  const rows = sizeOf(kShape), r = sizeOf(aShape);
  const innermost = d.map((_, i) => i).filter((i) => d[i] !== 1).at(-1);
  const envT = process.env.SMELT_ROW_TEAM;
  const envForced: RowLayout | undefined = envT ? { team: Number(envT), teams: Number(process.env.SMELT_ROW_TEAMS ?? (Number(envT) === 1 ? 64 : 1)), slots: process.env.SMELT_ROW_SLOTS ? Number(process.env.SMELT_ROW_SLOTS) : undefined } : undefined;
  const layout = forced ?? envForced ?? rowLayout(r, rows, reds.length, innermost === undefined || axes.includes(innermost), ctx.target);
  const { team: T, teams: G } = layout;

  const b = fusionBuilder(node, bindings);
  const grid = gridFor(Math.ceil(rows / G), ctx.target);
  const overshoot = grid[0] * grid[1] * G !== rows;
  let row: Expr, lane: Expr, live: Expr | undefined;
  if (T === 1) {
    // No barrier follows, so invocations past the last row may leave.
    row = b.let("row", iadd(imul(linearGroupId(grid), u32(G)), id("local", 0)));
    if (overshoot) b.if(ge(row, u32(rows)), (x) => x.return());
    lane = u32(0);
  } else {
    // Barriers need the whole workgroup: a team past the last row redoes the last row and stores nothing.
    lane = b.let("lane", id("local", 0));
    const raw = b.let("row", G === 1 ? linearGroupId(grid) : iadd(imul(linearGroupId(grid), u32(G)), id("local", 1)));
    live = overshoot ? b.let("live", lt(raw, u32(rows))) : undefined;
    row = overshoot ? b.let("row_c", bin("min", raw, u32(rows - 1))) : raw;
  }

  // The row: its K-shaped values, computed once from the reductions finished before them.
  const kIdx = unravel(b, row, kShape, "k");
  const rowAt = new Index(b, kShape, { idx: kIdx, linear: row });
  const results = new Map<Value, Expr>();
  const rowSite = site(rowAt, (v) => results.get(v));
  const isRowValue = (v: Value) => {
    const p = ev.producerOf(v);
    return p !== undefined && (isReduce(p) || sameShape(v.shape, kShape));
  };
  // A row value emitted while a pass's loop is being built lands before that loop (the
  // loop statement is appended to `b` only when its body is complete).
  const rowValue = (v: Value) => ev.eval(v, b, rowAt, rowSite);
  const elementGiven = (v: Value) => {
    const src = ev.throughViews(v);
    return isRowValue(src) ? rowValue(src) : undefined;
  };

  // Element j of the row, as a position in D.
  const dStrides = stridesOf(d);
  const position = (bb: BodyBuilder, j: Expr): Site => {
    const jIdx = unravel(bb, j, aShape, "j");
    const idx = d.map((_, axis) => (kept.includes(axis) ? kIdx[kept.indexOf(axis)]! : jIdx[axes.indexOf(axis)]!));
    return site(new Index(bb, d, { idx, linear: bb.let("at", ravel(idx, dStrides)) }), elementGiven);
  };
  const slots: { s: Site; inRow: Expr | undefined }[] = [];
  for (let e = 0; e < (layout.slots ?? 0); e++) {
    const j = b.let("j", iadd(lane, u32(e * T)));
    // Only the last slot can pass the row's end; it reads the last element and contributes nothing.
    const tail = (e + 1) * T > r;
    slots.push({ s: position(b, tail ? b.let("j_c", bin("min", j, u32(r - 1))) : j), inRow: tail ? b.let("in_row", lt(j, u32(r))) : undefined });
  }
  const eachElement = (visit: (bb: BodyBuilder, s: Site, inRow: Expr | undefined) => void) => {
    if (layout.slots !== undefined) for (const { s, inRow } of slots) visit(b, s, inRow);
    else b.for("j", lane, u32(r), (j, lb) => visit(lb, position(lb, j), undefined), T);
  };

  const shared: SharedArray[] = [];
  const teamBase = T > 1 && G > 1 ? b.let("team_base", imul(id("local", 1), u32(T))) : u32(0);
  reds.forEach((red, k) => {
    const op = red.prim as ReduceOp, t = red.outputs[0]!.dtype as Scalar;
    const acc = b.var("acc", identity(op, t));
    eachElement((bb, s, inRow) => {
      const v = ev.eval(red.inputs[0]!, bb, s.at, s);
      bb.assign(acc, combine(op, acc, inRow ? select(inRow, v, identity(op, t)) : v));
    });
    if (T === 1) return results.set(red.outputs[0]!, acc);
    const partial = `partial${k}`;
    shared.push({ name: partial, t, size: T * G });
    b.store(partial, iadd(teamBase, lane), acc, "workgroup");
    b.barrier();
    treeReduce(b, op, t, partial, teamBase, lane, T);
    results.set(red.outputs[0]!, b.let(op.replace("reduce_", "row_"), load(t, partial, teamBase, "workgroup")));
  });

  const rowOuts = body.outputs.flatMap((v, i) => (isRowValue(v) ? [{ v, i }] : []));
  const elemOuts = body.outputs.flatMap((v, i) => (isRowValue(v) ? [] : [{ v, i }]));
  if (elemOuts.length)
    eachElement((bb, s, inRow) => {
      const values = elemOuts.map(({ v }) => ev.eval(v, bb, s.at, s));
      const guard = live && inRow ? and(live, inRow) : live ?? inRow;
      const emit = (x: BodyBuilder) => elemOuts.forEach(({ i }, n) => x.store(`out${i}`, s.at.linear(), values[n]!));
      if (guard) bb.if(guard, emit);
      else emit(bb);
    });
  if (rowOuts.length) {
    const values = rowOuts.map(({ v }) => rowValue(v));
    const first = T > 1 ? eq(lane, u32(0)) : undefined;
    const guard = first && live ? and(first, live) : first ?? live;
    const emit = (x: BodyBuilder) => rowOuts.forEach(({ i }, n) => x.store(`out${i}`, row, values[n]!));
    if (guard) b.if(guard, emit);
    else emit(b);
  }
  return {
    name: ctx.name, source: ctx.source, bindings,
    workgroupSize: T === 1 ? [G, 1, 1] : [T, G, 1], grid, shared, body: b.stmts,
  };
}
