/**
 * The matmul templates for CPU adapters (lavapipe, SwiftShader): register blocking with no
 * barriers or workgroup memory. On lavapipe a workgroup runs as the SIMD lanes of one
 * thread: a barrier turns invocations into coroutines that spill every accumulator, and a
 * storage load with a per-invocation address is a scalar loop over the lanes, so these
 * templates are shaped by the number of loads per invocation, not by bytes.
 */
import { gridFor, groupIndex } from "./indexing.js";
import {
  type Expr, type Kernel, type Scalar, BodyBuilder, bin, broadcast, id, idiv, iadd, imul, lit, load, lt, u32,
} from "./kernel.js";
import { type MatmulSpec, type MatmulTile, OutputWriter, groupedTile, kBounds, operandAt, vectorStorable, kernelBindings, madd, scalarType, tileOrigin } from "./matmul-spec.js";
import type { Target } from "./target.js";

/**
 * Register-blocked matmul for CPU adapters, one subgroup per workgroup. A subgroup owns a
 * TM×TN tile of C (TM = 32 rows, fewer for a short C; TN = 4 columns per lane); each lane
 * keeps its 4 columns of all TM rows in registers (128 accumulators) and, per k:
 * - loads its own 4 columns of B's row k (one 4-vector where B is n-contiguous);
 * - loads a 1/subgroup share of A's TM values at k (rows `lane`, `lane+8`, ..., or 4 rows
 *   as one 4-vector when A is m-contiguous), and takes every value from the lane that
 *   loaded it by a subgroup broadcast with a constant lane.
 *
 * Why: lavapipe runs 8 invocations as the 8 SIMD lanes of one thread; arithmetic costs what
 * it costs on the CPU, but every storage-buffer load with a per-invocation address becomes
 * a scalar loop over the lanes with a bounds check per component (Mesa's
 * lp_bld_nir_soa.c emit_load_mem), while a broadcast from a constant lane is one register
 * shuffle. So the template shares each lane-load among many multiply-adds: TM/8 + 1 loads
 * per 4·TM multiply-adds. Measured on lavapipe (2 cores, Mesa 25.0, a shared machine;
 * f32 1024³, with the earlier 4-deep k step), in GFLOP per CPU-second × 2: plain 8×8
 * scalar registers 4.6–6.6, subgroup broadcast tiles of 8×32 12.3, 16×64 15.1, 32×32
 * 17.6–23 (24×32 14.4, 40×32 13.2, 48×32 11.0), 32×64 (256 accumulators, spilled)
 * 11.5–13.9. One subgroup per workgroup keeps the exchange correct without assuming how an
 * adapter forms subgroups.
 *
 * One k per loop step. Steps 4 deep (4-vector loads of A along k, 4 rows of B) load a
 * quarter as often but hold 4× the code beside the accumulators: on W8's and W5's matmuls
 * and 1024³ (plain, A transposed, B transposed; cold, one kernel per process, two rounds)
 * the 1-deep loop ran 10–45% faster and compiled in about half the time.
 *
 * Addresses are hoisted out of the k-loop (operands with affine strides); out-of-range
 * rows and columns are clamped on load and masked on store, so the k-loop has no checks for
 * any shape.
 */
export function subgroupMatmul(spec: MatmulSpec, target: Target, sg: number, rows = 32): Kernel {
  const grouped = spec.grouped;
  if (grouped) rows = grouped.tileRows;
  if (rows % sg) throw new Error(`matmul ${spec.name}: subgroup tiles need a multiple of ${sg} rows, got ${rows}`);
  // A short C (a matrix-vector product) gets fewer rows per tile, not 32 rows of clamped copies;
  // a grouped matmul's tiles are the groups' (its rows are padded to them).
  const tileRows = grouped ? rows : Math.min(rows, Math.ceil(spec.m / sg) * sg);
  const tileCols = 4 * sg;
  const tilesN = Math.ceil(spec.n / tileCols), tilesM = Math.ceil(spec.m / tileRows);
  const groups = spec.batch * tilesM * tilesN;
  const grid = gridFor(groups, target);
  const modes = operandModes(spec, tileRows, sg);

  const b = new BodyBuilder();
  const wg = groupIndex(b, "wg", grid, groups);
  const { tileN, batch, rhsBatch, m0 } = tileOrigin(spec, b, wg, tilesM, tilesN, tileRows);
  const lane = b.let("lane", id("subgroup_lane"));
  const col0 = b.let("col0", iadd(imul(tileN, u32(tileCols)), imul(lane, u32(4))));
  const tile: SubgroupTile = { spec, t: scalarType(spec), sg, tileRows, tileCols, b, batch, rhsBatch, lane, m0, col0 };

  const lhs = lhsStep(tile, modes.lhs);
  const rhs = rhsStep(tile, modes.rhs);
  const acc = accumulate(tile, lhs, rhs);
  storeTile(tile, acc, modes.vectorOut);

  const vec4 = new Set<string>();
  if (modes.lhs !== "scalar") vec4.add(spec.lhs.name);
  if (modes.rhs !== "scalar") vec4.add(spec.rhs.name);
  if (modes.vectorOut) vec4.add(spec.out);
  return {
    name: spec.name, source: spec.source, bindings: kernelBindings(spec, vec4),
    workgroupSize: [sg, 1, 1], grid, shared: [], body: b.stmts, subgroupSize: sg,
  };
}

/** What every phase of the subgroup template shares: the tile's shape and its position in C. */
interface SubgroupTile {
  readonly spec: MatmulSpec;
  readonly t: Scalar;
  readonly sg: number;
  /** Rows of C per subgroup (TM). */
  readonly tileRows: number;
  /** Columns of C per subgroup (TN = 4 per lane). */
  readonly tileCols: number;
  readonly b: BodyBuilder;
  /** A's and C's batch; B's is `rhsBatch` (the same except in a grouped matmul). */
  readonly batch: Expr;
  readonly rhsBatch: Expr;
  readonly lane: Expr;
  /** First row of the tile. */
  readonly m0: Expr;
  /** First of this lane's 4 columns. */
  readonly col0: Expr;
}

interface OperandModes {
  /** m4: A's 4 rows at one k as a 4-vector (A m-contiguous). */
  readonly lhs: "m4" | "scalar";
  /** n4: B's 4 columns at one k as a 4-vector (B n-contiguous). */
  readonly rhs: "n4" | "scalar";
  /** C stored as 4-vectors. */
  readonly vectorOut: boolean;
}

/**
 * 4-vector access needs a unit-stride axis whose extent and every other stride (and each
 * batch's base) are multiples of 4, so no vector straddles a row, a matrix or the end.
 */
function operandModes(spec: MatmulSpec, tileRows: number, sg: number): OperandModes {
  const { m, n } = spec;
  const a = spec.lhs.strides, bs = spec.rhs.strides;
  const four = (x: number) => x % 4 === 0;
  let lhs: OperandModes["lhs"] =
    a && a.row === 1 && four(a.col) && four(a.baseAlign) && four(m) && tileRows % (4 * sg) === 0 && !spec.grouped?.lhsRow ? "m4" : "scalar";
  let rhs: OperandModes["rhs"] = bs && bs.col === 1 && four(bs.row) && four(bs.baseAlign) && four(n) ? "n4" : "scalar";
  // One buffer read as both operands is one binding: one element type for both.
  if (spec.lhs.name === spec.rhs.name && (lhs === "scalar") !== (rhs === "scalar")) lhs = rhs = "scalar";
  // (A spec whose `out` is not one of its bindings rewrites the scalar stores itself.)
  const vectorOut = vectorStorable(spec) && spec.out !== spec.lhs.name && spec.out !== spec.rhs.name && spec.bindings.some((x) => x.name === spec.out);
  return { lhs, rhs, vectorOut };
}

const clamp = (e: Expr, n: number) => (n === 1 ? u32(0) : bin("min", e, u32(n - 1)));

/** One k's loads of an operand, emitted into the loop body. */
type KStep = (body: BodyBuilder, k: Expr) => (index: number) => Expr;

/** A: per k, a function i -> A[m0 + i, k], the same value in every lane (a subgroup broadcast). */
function lhsStep(tile: SubgroupTile, mode: OperandModes["lhs"]): KStep {
  const { spec, t, sg, tileRows, b, batch, lane, m0 } = tile;
  const a = spec.lhs.strides;
  const M = spec.m;
  if (mode === "m4") {
    const base4 = b.let("a_base4", idiv(spec.lhs.addr(b, batch, u32(0), u32(0)), u32(4)));
    const quads = Array.from({ length: tileRows / (4 * sg) }, (_, r) =>
      b.let(`a_quad${r}`, iadd(base4, clamp(iadd(idiv(m0, u32(4)), iadd(u32(r * sg), lane)), M / 4))));
    return (body, k) => {
      const v = quads.map((q, r) => body.load4(`a${r}`, t, spec.lhs.name, iadd(q, imul(k, u32(a!.col / 4)))));
      return (i) => broadcast(v[Math.floor(i / (4 * sg))]![i % 4]!, Math.floor(i / 4) % sg);
    };
  }
  // A's row of a row of C: a grouped matmul's gather, behind the clamp.
  const lhsRow = spec.grouped?.lhsRow;
  const rows = Array.from({ length: tileRows / sg }, (_, r) => {
    const row = clamp(iadd(m0, iadd(u32(r * sg), lane)), M);
    return b.let(`a_row${r}`, lhsRow ? lhsRow(b, row) : row);
  });
  const bases = a ? rows.map((r, i) => b.let(`a_base${i}`, iadd(spec.lhs.addr(b, batch, u32(0), u32(0)), imul(r, u32(a.row))))) : [];
  return (body, k) => {
    const v = rows.map((r, ri) =>
      body.let(`a${ri}`, a ? load(t, spec.lhs.name, iadd(bases[ri]!, imul(k, u32(a.col)))) : operandAt(t, spec.lhs, body, batch, r, k)));
    return (i) => broadcast(v[Math.floor(i / sg)]!, i % sg);
  };
}

/** B: per k, a function j -> B[k, col0 + j], this lane's own values. */
function rhsStep(tile: SubgroupTile, mode: OperandModes["rhs"]): KStep {
  const { spec, t, b, rhsBatch: batch, col0 } = tile;
  const bs = spec.rhs.strides;
  const N = spec.n;
  if (mode === "n4") {
    const base = b.let("b_col4", iadd(idiv(spec.rhs.addr(b, batch, u32(0), u32(0)), u32(4)), clamp(idiv(col0, u32(4)), N / 4)));
    return (body, k) => {
      const v = body.load4("b", t, spec.rhs.name, iadd(base, imul(k, u32(bs!.row / 4))));
      return (j) => v[j]!;
    };
  }
  const cols = [0, 1, 2, 3].map((j) => b.let(`b_col${j}`, clamp(iadd(col0, u32(j)), N)));
  const bases = bs ? cols.map((c, j) => b.let(`b_base${j}`, iadd(spec.rhs.addr(b, batch, u32(0), u32(0)), imul(c, u32(bs.col))))) : [];
  return (body, k) => {
    const v = cols.map((c, j) =>
      body.let(`b${j}`, bs ? load(t, spec.rhs.name, iadd(bases[j]!, imul(k, u32(bs.row)))) : operandAt(t, spec.rhs, body, batch, k, c)));
    return (j) => v[j]!;
  };
}

/** The k loop (over a batch's k range where the spec has one): TM×4 accumulators per lane. */
function accumulate(tile: SubgroupTile, lhs: KStep, rhs: KStep): Expr[][] {
  const { b, t, tileRows } = tile;
  const acc = Array.from({ length: tileRows }, (_, i) => [0, 1, 2, 3].map((j) => b.var(`acc${i}_${j}`, lit(t, 0))));
  const { start, end } = kBounds(tile.spec, b, tile.batch, 1);
  b.for("k", start, end, (k, body) => {
    const bv = rhs(body, k);
    const av = lhs(body, k);
    for (let i = 0; i < tileRows; i++) {
      const ai = body.let(`x${i}`, av(i));
      for (let j = 0; j < 4; j++) body.assign(acc[i]![j]!, madd(acc[i]![j]!, ai, bv(j)));
    }
  });
  return acc;
}

/**
 * C: the accumulators go to a private array, and one rolled loop over the tile's rows loads
 * each row back, applies the epilogue and stores it. Stored in place, each of the TM rows
 * is a scatter over the lanes with its guards, pasted TM times beside 4·TM live
 * accumulators; LLVM's time grew with that product. Measured on lavapipe (W8's fc2, 32-row
 * tile, cold): 2.3 s of compile with the rows stored in place and the epilogue rolled
 * after them, 0.8 s staged through the array, at the same steady speed. An epilogue pasted
 * per accumulator was worse still (a GELU: ~100 s per kernel on a loaded 2-core machine).
 */
function storeTile(tile: SubgroupTile, acc: Expr[][], vectorOut: boolean): void {
  const { spec, t, b, batch, rhsBatch, m0, col0, tileRows, tileCols } = tile;
  const { m: M, n: N } = spec;
  const out = new OutputWriter(spec, b, batch, rhsBatch);
  const outRow = spec.grouped?.outRow;
  const colsIn = N % tileCols === 0;
  const col4 = b.let("col4", idiv(col0, u32(4)));
  const staged = b.array("tile_acc", t, tileRows * 4);
  acc.forEach((row, i) => row.forEach((a, j) => b.store(staged, u32(4 * i + j), a, "private")));
  b.rolledFor("st_i", u32(0), u32(tileRows), (i, body) => {
    const row = body.let("st_row", iadd(m0, i));
    // Row i's value at column col0 + j, with the epilogue applied; inside the row's guards.
    const value = (y: BodyBuilder, j: number, to: Expr, col: Expr) =>
      out.value(y, y.let("st_acc", load(t, staged, iadd(imul(i, u32(4)), u32(j)), "private")), to, col);
    const storeRow = (x: BodyBuilder, to: Expr) => {
      if (vectorOut) {
        const emit = (y: BodyBuilder) => {
          const cols = [0, 1, 2, 3].map((j) => (j === 0 ? col0 : y.let("st_col", iadd(col0, u32(j)))));
          y.store4(spec.out, iadd(out.vectorRow(to), col4), cols.map((c, j) => value(y, j, to, c)) as [Expr, Expr, Expr, Expr]);
        };
        if (colsIn) emit(x);
        else x.if(lt(col0, u32(N)), emit);
      } else {
        for (let j = 0; j < 4; j++) {
          const col = x.let("st_col", iadd(col0, u32(j)));
          const emit = (y: BodyBuilder) => y.store(spec.out, out.linear(to, col), value(y, j, to, col));
          if (colsIn) emit(x);
          else x.if(lt(col, u32(N)), emit);
        }
      }
    };
    // Inside C, and where a grouped matmul's scatter stores the row.
    const scattered = (y: BodyBuilder) => {
      if (!outRow) return storeRow(y, row);
      const to = outRow(y, row);
      y.if(to.store, (z) => storeRow(z, to.row));
    };
    M % tileRows === 0 ? scattered(body) : body.if(lt(row, u32(M)), scattered);
  });
}

// register template (CPU adapters without a fixed subgroup size)

/** 8×8 invocations of 8×8 outputs each: no workgroup memory (bm, bn = rows, columns per workgroup). */
export const REGISTER_TILE: MatmulTile = { bm: 64, bn: 64, bk: 1, rm: 8, rn: 8 };

/**
 * Register-blocked matmul without workgroup memory: each invocation owns an RM×RN block of C
 * (contiguous columns) and streams A and B from global memory. Out-of-range rows and
 * columns are clamped on load (always a valid address, no branch) and masked on store.
 */
export function registerMatmul(spec: MatmulSpec, target: Target, tile: MatmulTile): Kernel {
  const { bm, bn, rm, rn } = groupedTile(spec, tile);
  const tx = bn / rn, ty = bm / rm;
  const { m: M, n: N, k: K } = spec;
  const tilesN = Math.ceil(N / bn), tilesM = Math.ceil(M / bm);
  const groups = spec.batch * tilesM * tilesN;
  const grid = gridFor(groups, target);
  const t = scalarType(spec);
  const b = new BodyBuilder();
  const wg = groupIndex(b, "wg", grid, groups);
  const { tileN, batch: bat, rhsBatch, m0 } = tileOrigin(spec, b, wg, tilesM, tilesN, bm);
  const row0 = b.let("row0", iadd(m0, imul(id("local", 1), u32(rm))));
  const col0 = b.let("col0", iadd(imul(tileN, u32(bn)), imul(id("local", 0), u32(rn))));
  const clampTo = (e: Expr, n: number) => (n === 1 ? u32(0) : bin("min", e, u32(n - 1)));
  const lhsRow = spec.grouped?.lhsRow ?? ((_b: BodyBuilder, r: Expr) => r);
  const rows = Array.from({ length: rm }, (_, i) => b.let(`r${i}`, lhsRow(b, clampTo(iadd(row0, u32(i)), M))));
  const cols = Array.from({ length: rn }, (_, j) => b.let(`c${j}`, clampTo(iadd(col0, u32(j)), N)));
  const acc = rows.map((_, i) => cols.map((_, j) => b.var(`acc_${i}_${j}`, lit(t, 0))));
  const { start: k0, end: k1 } = kBounds(spec, b, bat, 1);
  b.for("k", k0, k1, (k, body) => {
    const bv = cols.map((c, j) => body.let(`b${j}`, operandAt(t, spec.rhs, body, rhsBatch, k, c)));
    rows.forEach((r, i) => {
      const a = body.let(`a${i}`, operandAt(t, spec.lhs, body, bat, r, k));
      bv.forEach((bj, j) => body.assign(acc[i]![j]!, madd(acc[i]![j]!, a, bj)));
    });
  });
  const out = new OutputWriter(spec, b, bat, rhsBatch);
  const outRow = spec.grouped?.outRow;
  for (let i = 0; i < rm; i++) {
    const row0i = b.let(`row${i}`, iadd(row0, u32(i)));
    const storeRow = (x: BodyBuilder, row: Expr) => {
      for (let j = 0; j < rn; j++) {
        const col = x.let(`col${i}_${j}`, iadd(col0, u32(j)));
        x.if(lt(col, u32(N)), (y) => y.store(spec.out, out.linear(row, col), out.value(y, acc[i]![j]!, row, col)));
      }
    };
    b.if(lt(row0i, u32(M)), (w) => {
      if (!outRow) return storeRow(w, row0i);
      const to = outRow(w, row0i);
      w.if(to.store, (x) => storeRow(x, to.row));
    });
  }
  return {
    name: spec.name, source: spec.source, bindings: kernelBindings(spec),
    workgroupSize: [tx, ty, 1], grid, shared: [], body: b.stmts,
  };
}
