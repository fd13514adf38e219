/**
 * The kernel of a "reduction" fusion (contract in passes/fuse.ts; the row structure is in
 * codegen/fused-rows.ts): every reduction folds axes A of one shape D, one row per element
 * of K = D without A.
 *
 * A team of invocations owns a row (short rows: several teams per workgroup). For each
 * reduction in body order, a strided pass over the row folds its operand, which may read
 * the row's earlier reductions (softmax's max before its sum), and a workgroup tree
 * (Harris, as in codegen/reduce.ts) combines the team's partials; then one pass stores the
 * row's D-shaped results, and lane 0 its K-shaped ones. Values that are the same along a
 * row (K-shaped ones, and e.g. rsqrt(var + eps)) are computed once per row, after the
 * reductions they read.
 *
 * Later passes read earlier passes' element values from a row cache instead of memory:
 * - slots: when each invocation's share of the row is at most MAX_SLOTS elements, every
 *   element gets its own site (codegen/fused-body.ts), so what one pass loaded or computed
 *   (x; exp(x - max)) is still a named register in the next. This is the GPU path, and
 *   where a fused softmax or layer norm gains over the unfused kernels: one read of x.
 * - private arrays: on a CPU adapter (lavapipe) barriers are expensive (each one switches
 *   every invocation's coroutine), so one invocation walks a whole row, keeping the values
 *   later passes need (RowStructure.carried) in per-invocation arrays. All invocations of
 *   a workgroup are at the same j, so lavapipe reads those arrays as whole SIMD vectors,
 *   where each load from memory is a loop over the lanes.
 * Otherwise later passes re-read and recompute.
 *
 * When the rows are the contiguous tail of D and a multiple of 4 long, a step covers 4
 * consecutive elements: inputs read at their own element, or broadcast along the innermost
 * axis (a gain, a bias), are loaded as one 4-vector, and results stored as one
 * (VectorReads). Measured on lavapipe (2 shared cores; [4096,1024], median of 21, fused and
 * unfused interleaved): softmax 19 vs 274 ms, layer norm with gain and bias 19 vs 529 ms.
 */
import type { Node, Value } from "../ir/graph.js";
import type { ReduceOp } from "../ir/primitives.js";
import { Index } from "./elementwise.js";
import { BodyEval, type Site, VectorReads, fusionBindings, fusionBuilder, site } from "./fused-body.js";
import { RowStructure } from "./fused-rows.js";
import { gridFor, linearGroupId, unravel } from "./indexing.js";
import {
  type BodyBuilder, type Expr, type Kernel, type Scalar, type SharedArray,
  and, bin, eq, ge, iadd, id, imul, load, lt, select, u32,
} from "./kernel.js";
import { type LowerContext, LoweringError } from "./lower.js";
import { combine, identity, treeReduce } from "./reduce.js";
import type { Target } from "./target.js";

/** How rows map onto invocations. */
export interface RowLayout {
  /** Invocations per row; 1 walks the row in one invocation, with no barrier. */
  readonly team: number;
  /** Rows per workgroup. */
  readonly teams: number;
  /** Consecutive row elements per step: 4 loads and stores the row as 4-vectors. */
  readonly width: 1 | 4;
  /** Steps (of `width` elements) each invocation keeps in registers across passes (unrolled), or undefined to loop. */
  readonly slots: number | undefined;
  /** In a loop of a one-invocation row: keep carried values in per-invocation arrays. */
  readonly privateCache: boolean;
}

/** Register budget per invocation for a row kept in registers (times the values kept per element). */
export const MAX_SLOTS = 16;
/** Per-invocation bytes of private row cache on a CPU adapter (lavapipe keeps them on the stack). */
export const MAX_PRIVATE_CACHE_BYTES = 16384;

const nextPow2 = (x: number) => 2 ** Math.ceil(Math.log2(Math.max(x, 1)));

/**
 * GPU: a team per row when the row is contiguous and long enough to share (about four
 * elements per invocation, up to 256 invocations); one invocation per row when it is short,
 * or when the innermost axis is kept (a column reduction: neighbouring invocations then
 * read neighbouring addresses, XLA's column-reduction rule). CPU adapter: one invocation
 * per row, always.
 */
export function rowLayout(rs: RowStructure, carried: number, width: 1 | 4, target: Target): RowLayout {
  const r = rs.length, groups = r / width;
  const maxInv = Math.min(256, target.limits.maxComputeInvocationsPerWorkgroup, target.limits.maxComputeWorkgroupSizeX);
  const slotsFor = (team: number) => (Math.ceil(groups / team) * width <= MAX_SLOTS ? Math.ceil(groups / team) : undefined);
  const serial = (): RowLayout => ({
    team: 1, teams: Math.min(64, maxInv), width, slots: slotsFor(1),
    privateCache: !!target.cpuAdapter && carried > 0 && r * carried * 4 <= MAX_PRIVATE_CACHE_BYTES,
  });
  if (target.cpuAdapter || !rs.rowMajor || r <= MAX_SLOTS) return serial();
  let team = Math.min(maxInv, nextPow2(Math.ceil(r / 4)), nextPow2(groups));
  let teams = Math.max(1, Math.min(Math.floor(maxInv / team), nextPow2(rs.rows), target.limits.maxComputeWorkgroupSizeY));
  while (rs.reductions.length * team * teams * 4 > target.limits.maxComputeWorkgroupStorageSize && team * teams > 1) {
    if (teams > 1) teams /= 2;
    else team /= 2;
  }
  if (team === 1) return serial();
  return { team, teams, width, slots: slotsFor(team), privateCache: false };
}

export function reductionKernel(node: Node<"fusion">, ctx: LowerContext, forced?: RowLayout): Kernel {
  const body = node.params.body;
  const ev = new BodyEval(body, node.inputs.map((_, i) => `in${i}`));
  const rs = new RowStructure(ev);
  const { d, kept, axes, kShape, aShape, rows, length: r } = rs;
  const carried = rs.carried();
  // 4-vectors when a row is the contiguous tail of D (codegen/fused-body.ts VectorReads), results of a word type.
  const reads = new VectorReads(ev, d);
  const vecOut = (v: Value) => v.dtype !== "bool" && !rs.isRowValue(v);
  const contiguous = kept.every((k) => axes.every((a) => k < a)) && r % 4 === 0;
  const layout = forced ?? rowLayout(rs, carried.size, contiguous && (reads.inputs.size > 0 || body.outputs.some(vecOut)) ? 4 : 1, ctx.target);
  if (layout.width === 4 && !contiguous) throw new LoweringError(`${ctx.name}: rows of [${d}] over axes [${axes}] are not contiguous 4-vectors`);
  const vecIn = layout.width === 4 ? reads.inputs : new Set<Value>();
  const { team: T, teams: G } = layout;
  const bindings = fusionBindings(node).map((x, i) =>
    layout.width === 4 && (i < body.inputs.length ? vecIn.has(body.inputs[i]!) : vecOut(body.outputs[i - body.inputs.length]!)) ? { ...x, width: 4 as const } : x);

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

  // The row's site: K-shaped values and row invariants. One emitted while a pass's loop is
  // being built lands before that loop (a loop is appended to `b` once its body is complete).
  const kIdx = unravel(b, row, kShape, "k");
  const rowAt = new Index(b, kShape, { idx: kIdx, linear: row });
  const results = new Map<Value, Expr>();
  const rowValue = (v: Value): Expr => ev.eval(v, b, rowAt, rowSite);
  const rowSite = site(rowAt, (v) => {
    const src = ev.throughViews(v);
    return results.get(v) ?? (src !== v && rs.isRowValue(src) ? rowValue(src) : undefined);
  });

  // Element j of the row, as a site at its position in D; `given` supplies values loaded
  // as vectors or kept in the private cache.
  const position = (bb: BodyBuilder, j: Expr, given?: (v: Value) => Expr | undefined): Site => {
    // One live reduced axis (the usual case) needs no unravelling, so no names either.
    const jIdx = aShape.filter((x) => x !== 1).length <= 1 ? aShape.map((x) => (x === 1 ? u32(0) : j)) : unravel(bb, j, aShape, "j");
    const idx = d.map((_, axis) => (kept.includes(axis) ? kIdx[kept.indexOf(axis)]! : jIdx[axes.indexOf(axis)]!));
    return site(new Index(bb, d, { idx }), (v) => (rs.invariant(v) ? rowValue(v) : given?.(v)));
  };
  const W = layout.width, groups = r / W;
  const arrays = new Map<Value, string>();
  if (layout.slots === undefined && layout.privateCache && T === 1)
    for (const v of carried.keys()) arrays.set(v, b.array(`row_${ev.producerOf(v)?.prim ?? ev.inputName(v)}`, v.dtype as Scalar, r));
  /**
   * Group g of the row (W consecutive elements) in pass p, as one site per element. A value
   * an earlier pass kept comes from the private cache; a vector input is loaded (once per
   * group) only when this pass reads it.
   */
  const group = (bb: BodyBuilder, g: Expr, p: number): Site[] => {
    let vector: ((v: Value, c: number) => Expr | undefined) | undefined;
    const sites = Array.from({ length: W }, (_, c) => {
      const j = W === 1 ? g : iadd(imul(g, u32(W)), u32(c));
      const fromCache = new Map<Value, Expr>();
      return position(bb, j, (v) => {
        const name = arrays.get(v);
        if (name && carried.get(v)! < p) {
          if (!fromCache.has(v)) fromCache.set(v, bb.let(`${name}_j`, load(v.dtype as Scalar, name, j, "private")));
          return fromCache.get(v);
        }
        return vector?.(v, c);
      });
    });
    if (W === 4) vector = reads.group(bb, sites[0]!.at, iadd(imul(row, u32(groups)), g));
    return sites;
  };
  /** Visits every group of the row in pass p: the unrolled slots (their sites persist across passes), or a loop. */
  const slots: { sites: Site[]; g: Expr; inRow: Expr | undefined }[] = [];
  for (let e = 0; e < (layout.slots ?? 0); e++) {
    const g = b.let("g", iadd(lane, u32(e * T)));
    // Only the last slot can pass the row's end; it reads the last group and contributes nothing.
    const tail = (e + 1) * T > groups;
    const gc = tail ? b.let("g_c", bin("min", g, u32(groups - 1))) : g;
    slots.push({ sites: group(b, gc, 0), g: gc, inRow: tail ? b.let("in_row", lt(g, u32(groups))) : undefined });
  }
  const eachGroup = (p: number, visit: (bb: BodyBuilder, sites: Site[], g: Expr, inRow: Expr | undefined) => void) => {
    if (layout.slots !== undefined) return slots.forEach(({ sites, g, inRow }) => visit(b, sites, g, inRow));
    b.for("g", lane, u32(groups), (g, lb) => {
      const sites = group(lb, g, p);
      visit(lb, sites, g, undefined);
      for (const [v, name] of arrays)
        if (carried.get(v) === p) sites.forEach((s, c) => lb.store(name, iadd(imul(g, u32(W)), u32(c)), ev.eval(v, lb, s.at, s), "private"));
    }, T);
  };

  const shared: SharedArray[] = [];
  const teamBase = T > 1 && G > 1 ? b.let("team_base", imul(id("local", 1), u32(T))) : u32(0);
  rs.reductions.forEach((red, p) => {
    const op = red.prim as ReduceOp, t = red.outputs[0]!.dtype as Scalar;
    const acc = b.var("acc", identity(op, t));
    eachGroup(p, (bb, sites, _g, inRow) => {
      for (const s of sites) {
        const v = ev.eval(red.inputs[0]!, bb, s.at, s);
        bb.assign(acc, combine(op, acc, inRow ? select(inRow, v, identity(op, t)) : v));
      }
    });
    if (T === 1) return results.set(red.outputs[0]!, acc);
    const partial = `partial${p}`;
    shared.push({ name: partial, t, size: T * G });
    b.store(partial, iadd(teamBase, lane), acc, "workgroup");
    b.barrier();
    treeReduce(b, op, t, partial, teamBase, lane, T);
    results.set(red.outputs[0]!, b.let(op.replace("reduce_", "row_"), load(t, partial, teamBase, "workgroup")));
  });

  const rowOuts = body.outputs.flatMap((v, i) => (rs.isRowValue(v) ? [{ v, i }] : []));
  const elemOuts = body.outputs.flatMap((v, i) => (rs.isRowValue(v) ? [] : [{ v, i }]));
  if (elemOuts.length)
    eachGroup(rs.reductions.length, (bb, sites, g, inRow) => {
      const values = sites.map((s) => elemOuts.map(({ v }) => ev.eval(v, bb, s.at, s)));
      const guard = live && inRow ? and(live, inRow) : live ?? inRow;
      const emit = (x: BodyBuilder) => elemOuts.forEach(({ v, i }, n) => {
        if (W === 4 && vecOut(v)) x.store4(`out${i}`, iadd(imul(row, u32(groups)), g), values.map((vs) => vs[n]!) as [Expr, Expr, Expr, Expr]);
        else sites.forEach((s, c) => x.store(`out${i}`, s.at.linear(), values[c]![n]!));
      });
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
