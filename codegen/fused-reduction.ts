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
 * Later passes read earlier passes' element values from registers where they fit, and
 * otherwise re-read and recompute them:
 * - slots: when each invocation's share of the row is at most MAX_SLOTS elements, every
 *   element gets its own site (codegen/fused-body.ts), so what one pass loaded or computed
 *   (x; exp(x - max)) is still a named register in the next. This is the GPU path, and
 *   where a fused softmax or layer norm gains over the unfused kernels: one read of x.
 * - a loop: on a CPU adapter (lavapipe) barriers are expensive (each one switches every
 *   invocation's coroutine), so one invocation walks a whole row, and each pass re-reads
 *   the row (from cache: a row of a few KiB stays there between passes). Keeping the values
 *   in per-invocation arrays instead (a private row cache, as this template once did) was
 *   no faster on lavapipe, and LLVM took 8 s to compile W3's layer norm with two arrays of
 *   1,024 floats against 0.25 s without (MESA_SHADER_CACHE_DISABLE=true; issue 13).
 * A sum folded in a loop is blocked (BlockedSum in codegen/reduce.ts), so a long row's
 * error does not grow with its length.
 *
 * When the rows are the contiguous tail of D and a multiple of 4 long, a step covers 4
 * consecutive elements: inputs read at their own element, or broadcast along the innermost
 * axis (a gain, a bias), are loaded as one 4-vector, and results stored as one
 * (VectorReads). Measured on lavapipe (2 shared cores; [4096,1024], median of 21, fused and
 * unfused interleaved): softmax 19 vs 274 ms, layer norm with gain and bias 19 vs 529 ms.
 */
import { sameShape } from "../ir/dtype.js";
import type { Graph, Node, Value } from "../ir/graph.js";
import type { ReduceOp } from "../ir/primitives.js";
import { Index } from "./elementwise.js";
import { BodyEval, type Site, VectorReads, fusionBindings, fusionBuilder, site } from "./fused-body.js";
import { RowStructure } from "./fused-rows.js";
import { gridFor, linearGroupId, unravel } from "./indexing.js";
import {
  type Binding, type BodyBuilder, type Expr, type Kernel, type Scalar, type SharedArray,
  and, bin, eq, ge, iadd, id, imul, load, lt, select, u32,
} from "./kernel.js";
import { type LowerContext, LoweringError } from "./lower.js";
import { BlockedSum, combine, identity, treeReduce } from "./reduce.js";
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
}

/** Register budget per invocation for a row kept in registers (times the values kept per element). */
export const MAX_SLOTS = 16;

const nextPow2 = (x: number) => 2 ** Math.ceil(Math.log2(Math.max(x, 1)));

/**
 * GPU: a team per row when the row is contiguous and long enough to share (about four
 * elements per invocation, up to 256 invocations); one invocation per row when it is short,
 * or when the innermost axis is kept (a column reduction: neighbouring invocations then
 * read neighbouring addresses, XLA's column-reduction rule). CPU adapter: one invocation
 * per row, always.
 */
export function rowLayout(rs: RowStructure, width: 1 | 4, target: Target): RowLayout {
  const r = rs.length, groups = r / width;
  const maxInv = Math.min(256, target.limits.maxComputeInvocationsPerWorkgroup, target.limits.maxComputeWorkgroupSizeX);
  const slotsFor = (team: number) => (Math.ceil(groups / team) * width <= MAX_SLOTS ? Math.ceil(groups / team) : undefined);
  const serial = (): RowLayout => ({ team: 1, teams: Math.min(64, maxInv), width, slots: slotsFor(1) });
  if (target.cpuAdapter || !rs.rowMajor || r <= MAX_SLOTS) return serial();
  let team = Math.min(maxInv, nextPow2(Math.ceil(r / 4)), nextPow2(groups));
  let teams = Math.max(1, Math.min(Math.floor(maxInv / team), nextPow2(rs.rows), target.limits.maxComputeWorkgroupSizeY));
  while (rs.reductions.length * team * teams * 4 > target.limits.maxComputeWorkgroupStorageSize && team * teams > 1) {
    if (teams > 1) teams /= 2;
    else team /= 2;
  }
  if (team === 1) return serial();
  return { team, teams, width, slots: slotsFor(team) };
}

export function reductionKernel(node: Node<"fusion">, ctx: LowerContext, forced?: RowLayout): Kernel {
  return new ReductionKernel(node, ctx, forced).build();
}

/** Where an element of the row is visited: its sites, its group index, and whether it is inside the row. */
interface GroupVisit {
  readonly sites: Site[];
  readonly group: Expr;
  /** Only for the last unrolled slot, which can pass the row's end. */
  readonly inRow: Expr | undefined;
}

/**
 * The phases of one reduction fusion kernel, in emission order: choose the layout and
 * bindings, map rows onto invocations, fold each reduction across the row, then store the
 * row's element-shaped and row-shaped results.
 */
class ReductionKernel {
  private readonly body: Graph;
  private readonly ev: BodyEval;
  private readonly rs: RowStructure;
  /** Values later passes read, with the pass that computes them. */
  private readonly reads: VectorReads;
  private readonly layout: RowLayout;
  private readonly bindings: Binding[];
  private readonly b: BodyBuilder;
  private readonly grid: readonly [number, number, number];
  /** Steps of `layout.width` elements in a row. */
  private readonly groups: number;
  private row!: Expr;
  private lane!: Expr;
  /** False for a team past the last row (it redoes the last row but stores nothing). */
  private live: Expr | undefined;
  private kIdx!: Expr[];
  private rowAt!: Index;
  private readonly results = new Map<Value, Expr>();
  private rowSite!: Site;
  private readonly slots: GroupVisit[] = [];
  private readonly shared: SharedArray[] = [];

  constructor(private readonly node: Node<"fusion">, private readonly ctx: LowerContext, forced?: RowLayout) {
    this.body = node.params.body;
    this.ev = new BodyEval(this.body, node.inputs.map((_, i) => `in${i}`));
    this.rs = new RowStructure(this.ev);
    // 4-vectors when a row is the contiguous tail of D (codegen/fused-body.ts VectorReads), results of a word type.
    this.reads = new VectorReads(this.ev, this.rs.d);
    const { kept, axes, d, length } = this.rs;
    const contiguous = kept.every((k) => axes.every((a) => k < a)) && length % 4 === 0;
    const wantVectors = contiguous && (this.reads.inputs.size > 0 || this.body.outputs.some((v) => this.vectorOutput(v)));
    this.layout = forced ?? rowLayout(this.rs, wantVectors ? 4 : 1, ctx.target);
    if (this.layout.width === 4 && !contiguous) throw new LoweringError(`${ctx.name}: rows of [${d}] over axes [${axes}] are not contiguous 4-vectors`);
    this.groups = length / this.layout.width;
    this.bindings = this.vectorBindings();
    this.b = fusionBuilder(node, this.bindings);
    this.grid = gridFor(Math.ceil(this.rs.rows / this.layout.teams), ctx.target);
  }

  private vectorOutput(v: Value): boolean {
    return v.dtype !== "bool" && !this.rs.isRowValue(v);
  }

  /** The fusion's bindings, those read or written as 4-vectors declared with width 4. */
  private vectorBindings(): Binding[] {
    const vectorInputs = this.layout.width === 4 ? this.reads.inputs : new Set<Value>();
    const { inputs, outputs } = this.body;
    return fusionBindings(this.node).map((x, i) =>
      this.layout.width === 4 && (i < inputs.length ? vectorInputs.has(inputs[i]!) : this.vectorOutput(outputs[i - inputs.length]!))
        ? { ...x, width: 4 as const }
        : x);
  }

  build(): Kernel {
    this.assignRows();
    this.declareRowSite();
    this.unrollSlots();
    this.foldReductions();
    this.storeElementResults();
    this.storeRowResults();
    const { team, teams } = this.layout;
    return {
      name: this.ctx.name, source: this.ctx.source, bindings: this.bindings,
      workgroupSize: team === 1 ? [teams, 1, 1] : [team, teams, 1], grid: this.grid, shared: this.shared, body: this.b.stmts,
    };
  }

  /** Which row this invocation works on, and its lane in the row's team. */
  private assignRows(): void {
    const { b, grid } = this;
    const { team, teams } = this.layout;
    const rows = this.rs.rows;
    const overshoot = grid[0] * grid[1] * teams !== rows;
    if (team === 1) {
      // No barrier follows, so invocations past the last row may leave.
      this.row = b.let("row", iadd(imul(linearGroupId(grid), u32(teams)), id("local", 0)));
      if (overshoot) b.if(ge(this.row, u32(rows)), (x) => x.return());
      this.lane = u32(0);
    } else {
      // Barriers need the whole workgroup: a team past the last row redoes the last row and stores nothing.
      this.lane = b.let("lane", id("local", 0));
      const raw = b.let("row", teams === 1 ? linearGroupId(grid) : iadd(imul(linearGroupId(grid), u32(teams)), id("local", 1)));
      this.live = overshoot ? b.let("live", lt(raw, u32(rows))) : undefined;
      this.row = overshoot ? b.let("row_c", bin("min", raw, u32(rows - 1))) : raw;
    }
  }

  /**
   * The row's site: K-shaped values and row invariants. One emitted while a pass's loop is
   * being built lands before that loop (a loop is appended to `b` once its body is complete).
   */
  private declareRowSite(): void {
    this.kIdx = unravel(this.b, this.row, this.rs.kShape, "k");
    this.rowAt = new Index(this.b, this.rs.kShape, { idx: this.kIdx, linear: this.row });
    this.rowSite = site(this.rowAt, (v) => {
      // Only views that keep each element at its linear position (reshapes, unit axes added)
      // read a row value at this row's index; a slice, pad or transpose moves it.
      const src = this.rs.sameLinearSource(v);
      return this.results.get(v) ?? (src !== v && this.rs.isRowValue(src) ? this.rowValue(src) : undefined);
    });
  }

  private rowValue(v: Value): Expr {
    return this.ev.eval(v, this.b, this.rowAt, this.rowSite);
  }

  /**
   * Element j of the row, as a site at its position in D; `given` supplies values loaded
   * as vectors.
   */
  private position(bb: BodyBuilder, j: Expr, given?: (v: Value) => Expr | undefined): Site {
    const { aShape, d, kept, axes } = this.rs;
    // One live reduced axis (the usual case) needs no unravelling, so no names either.
    const jIdx = aShape.filter((x) => x !== 1).length <= 1 ? aShape.map((x) => (x === 1 ? u32(0) : j)) : unravel(bb, j, aShape, "j");
    const idx = d.map((_, axis) => (kept.includes(axis) ? this.kIdx[kept.indexOf(axis)]! : jIdx[axes.indexOf(axis)]!));
    // Only a value at D's own shape is asked as the row's: one reached through a view that
    // changes the shape (a concatenation's operand, a pad's) sits at another index than the row.
    // A group's vector loads are this element's values: not for a read a view moved elsewhere.
    return site(new Index(bb, d, { idx }), (v, home) => (sameShape(v.shape, d) && this.rs.invariant(v) ? this.rowValue(v) : home ? given?.(v) : undefined));
  }

  /**
   * Group g of the row (`width` consecutive elements), as one site per element. A vector
   * input is loaded (once per group) only when a value the pass computes reads it.
   */
  private group(bb: BodyBuilder, g: Expr): Site[] {
    const width = this.layout.width;
    let vector: ((v: Value, c: number) => Expr | undefined) | undefined;
    const sites = Array.from({ length: width }, (_, c) => {
      const j = width === 1 ? g : iadd(imul(g, u32(width)), u32(c));
      return this.position(bb, j, (v) => vector?.(v, c));
    });
    if (width === 4) vector = this.reads.group(bb, sites[0]!.at, iadd(imul(this.row, u32(this.groups)), g));
    return sites;
  }

  /** With registers for the whole share of a row: one unrolled slot per group, whose sites persist across passes. */
  private unrollSlots(): void {
    const { b, groups } = this;
    const team = this.layout.team;
    for (let e = 0; e < (this.layout.slots ?? 0); e++) {
      const g = b.let("g", iadd(this.lane, u32(e * team)));
      // Only the last slot can pass the row's end; it reads the last group and contributes nothing.
      const tail = (e + 1) * team > groups;
      const clamped = tail ? b.let("g_c", bin("min", g, u32(groups - 1))) : g;
      this.slots.push({ sites: this.group(b, clamped), group: clamped, inRow: tail ? b.let("in_row", lt(g, u32(groups))) : undefined });
    }
  }

  /** Visits every group of the row: the unrolled slots, or a loop over the invocation's share. */
  private eachGroup(visit: (bb: BodyBuilder, at: GroupVisit) => void): void {
    if (this.layout.slots !== undefined) return this.slots.forEach((slot) => visit(this.b, slot));
    this.b.for("g", this.lane, u32(this.groups), (g, lb) => visit(lb, { sites: this.group(lb, g), group: g, inRow: undefined }), this.layout.team);
  }

  /** One pass per reduction: each invocation folds its share, then the team combines its partials (Harris tree). */
  private foldReductions(): void {
    const { b, lane } = this;
    const { team, teams } = this.layout;
    const teamBase = team > 1 && teams > 1 ? b.let("team_base", imul(id("local", 1), u32(team))) : u32(0);
    this.rs.reductions.forEach((red, pass) => {
      const op = red.prim as ReduceOp, t = red.outputs[0]!.dtype as Scalar;
      // Unrolled slots fold at most MAX_SLOTS elements: only a loop needs blocks.
      const looped = this.layout.slots === undefined;
      const sum = looped ? new BlockedSum(b, op, t, this.layout.width) : undefined;
      const acc = sum ? undefined : b.var("acc", identity(op, t));
      this.eachGroup((bb, { sites, inRow }) => {
        for (const s of sites) {
          const v = this.ev.eval(red.inputs[0]!, bb, s.at, s);
          const x = inRow ? select(inRow, v, identity(op, t)) : v;
          if (sum) sum.add(bb, x);
          else bb.assign(acc!, combine(op, acc!, x));
        }
        sum?.step(bb);
      });
      const folded = sum ? sum.result(b) : acc!;
      if (team === 1) return this.results.set(red.outputs[0]!, folded);
      const partial = `partial${pass}`;
      this.shared.push({ name: partial, t, size: team * teams });
      b.store(partial, iadd(teamBase, lane), folded, "workgroup");
      b.barrier();
      treeReduce(b, op, t, partial, teamBase, lane, team);
      this.results.set(red.outputs[0]!, b.let(op.replace("reduce_", "row_"), load(t, partial, teamBase, "workgroup")));
    });
  }

  /** A last pass over the row stores its D-shaped results (as 4-vectors where the binding is one). */
  private storeElementResults(): void {
    const elemOuts = this.body.outputs.flatMap((v, i) => (this.rs.isRowValue(v) ? [] : [{ v, i }]));
    if (!elemOuts.length) return;
    const live = this.live;
    this.eachGroup((bb, { sites, group, inRow }) => {
      const values = sites.map((s) => elemOuts.map(({ v }) => this.ev.eval(v, bb, s.at, s)));
      const guard = live && inRow ? and(live, inRow) : live ?? inRow;
      const emit = (x: BodyBuilder) => elemOuts.forEach(({ v, i }, n) => {
        if (this.layout.width === 4 && this.vectorOutput(v))
          x.store4(`out${i}`, iadd(imul(this.row, u32(this.groups)), group), values.map((vs) => vs[n]!) as [Expr, Expr, Expr, Expr]);
        else sites.forEach((s, c) => x.store(`out${i}`, s.at.linear(), values[c]![n]!));
      });
      if (guard) bb.if(guard, emit);
      else emit(bb);
    });
  }

  /** Lane 0 of each live team stores the row's K-shaped results. */
  private storeRowResults(): void {
    const rowOuts = this.body.outputs.flatMap((v, i) => (this.rs.isRowValue(v) ? [{ v, i }] : []));
    if (!rowOuts.length) return;
    const values = rowOuts.map(({ v }) => this.rowValue(v));
    const first = this.layout.team > 1 ? eq(this.lane, u32(0)) : undefined;
    const guard = first && this.live ? and(first, this.live) : first ?? this.live;
    const emit = (x: BodyBuilder) => rowOuts.forEach(({ i }, n) => x.store(`out${i}`, this.row, values[n]!));
    if (guard) this.b.if(guard, emit);
    else emit(this.b);
  }
}
