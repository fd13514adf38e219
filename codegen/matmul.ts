/**
 * The tiled matmul template behind dot_general: C[b, m, n] = Σ_k A[b, m, k] · B[b, k, n].
 *
 * Classic two-level blocking (Volkov & Demmel 2008; the CUTLASS/"SGEMM in CUDA" scheme):
 * a workgroup computes a BM×BN tile of C, staging BK-deep slices of A and B in workgroup
 * memory; each invocation keeps an RM×RN block of C in registers and reads RM + RN
 * values per k for RM·RN multiply-adds. An invocation's rows and columns are strided by the
 * workgroup's extent (row = ty + i·TY), so neighbouring invocations touch neighbouring
 * addresses in shared memory and in C. Edges are handled by bounds checks on every load
 * and store, never by padding copies; batches and tiles share one linear workgroup id, so
 * a grid past the per-dimension limit splits across x and y like every other kernel.
 */
import type { DType } from "../ir/dtype.js";
import { gridFor, linearGroupId } from "./indexing.js";
import {
  type Binding, type Expr, type Kernel, BodyBuilder,
  and, bin, iadd, id, idiv, imul, irem, lit, load, lt, mul, u32,
} from "./kernel.js";
import type { Target } from "./target.js";

export interface MatmulTile {
  /** Rows and columns of C per workgroup, and the depth of one staged k slice. */
  readonly bm: number;
  readonly bn: number;
  readonly bk: number;
  /** Rows and columns of C per invocation (the register block). */
  readonly rm: number;
  readonly rn: number;
}

/** 64×64 tiles, 16 deep, 4×4 per invocation: 256 invocations, 8 KiB of workgroup memory. */
export const DEFAULT_TILE: MatmulTile = { bm: 64, bn: 64, bk: 16, rm: 4, rn: 4 };

/** Address of an operand element; each gets the batch index and its two matrix coordinates. */
export type OperandAddress = (b: BodyBuilder, batch: Expr, row: Expr, col: Expr) => Expr;

export interface MatmulSpec {
  readonly name: string;
  readonly source: string;
  readonly dtype: DType;
  readonly batch: number;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  /** Bindings in launch order; lhs, rhs and out name three of them. */
  readonly bindings: readonly Binding[];
  readonly lhs: { readonly name: string; readonly addr: OperandAddress; readonly kContiguous: boolean };
  readonly rhs: { readonly name: string; readonly addr: OperandAddress; readonly nContiguous: boolean };
  /** C is written row-major as [batch, m, n]. */
  readonly out: string;
}

/** Shrinks the default tile for small problems so a matrix-vector product does not idle 15/16 of a workgroup. */
export function chooseTile(m: number, n: number, target: Target): MatmulTile {
  let t = DEFAULT_TILE;
  if (m <= 16) t = { ...t, bm: 16, rm: 1, bn: 64, rn: 4 };
  else if (n <= 16) t = { ...t, bn: 16, rn: 1, bm: 64, rm: 4 };
  const threads = (t.bm / t.rm) * (t.bn / t.rn);
  if (threads > target.limits.maxComputeInvocationsPerWorkgroup || (t.bm + t.bn) * t.bk * 4 > target.limits.maxComputeWorkgroupStorageSize)
    t = { bm: 32, bn: 32, bk: 8, rm: 2, rn: 2 };
  return t;
}

/**
 * Which template to use. Workgroup-memory tiling is right for GPUs; on a CPU adapter
 * (lavapipe) barriers turn invocations into coroutines that spill every accumulator, so
 * a barrier-free register-blocked kernel reading through the cache is several times faster.
 */
export type MatmulStrategy = "workgroup" | "registers";

export function matmulStrategy(target: Target): MatmulStrategy {
  return target.cpuAdapter ? "registers" : "workgroup";
}

export function matmulKernel(spec: MatmulSpec, target: Target, tile?: MatmulTile, strategy = matmulStrategy(target)): Kernel {
  return strategy === "registers"
    ? registerMatmul(spec, target, tile ?? REGISTER_TILE)
    : workgroupMatmul(spec, target, tile ?? chooseTile(spec.m, spec.n, target));
}

/** 8×8 invocations of 8×8 outputs each: no workgroup memory (bm, bn = rows, columns per workgroup). */
export const REGISTER_TILE: MatmulTile = { bm: 64, bn: 64, bk: 1, rm: 8, rn: 8 };

/**
 * Register-blocked matmul without workgroup memory: each invocation owns an RM×RN block of C
 * (contiguous columns) and streams A and B from global memory. Out-of-range rows and
 * columns are clamped on load (always a valid address, no branch) and masked on store.
 */
function registerMatmul(spec: MatmulSpec, target: Target, tile: MatmulTile): Kernel {
  const { bm, bn, rm, rn } = tile;
  const tx = bn / rn, ty = bm / rm;
  const { m: M, n: N, k: K } = spec;
  const tilesN = Math.ceil(N / bn), tilesM = Math.ceil(M / bm);
  const groups = spec.batch * tilesM * tilesN;
  const grid = gridFor(groups, target);
  const t = spec.dtype === "bool" ? "u32" : spec.dtype;
  const b = new BodyBuilder();
  const wg = b.let("wg", linearGroupId(grid));
  if (grid[0] * grid[1] !== groups) b.if(bin("ge", wg, u32(groups)), (x) => x.return());
  const tileN = b.let("tile_n", irem(wg, u32(tilesN)));
  const tileM = b.let("tile_m", irem(idiv(wg, u32(tilesN)), u32(tilesM)));
  const bat = b.let("batch", idiv(wg, u32(tilesN * tilesM)));
  const row0 = b.let("row0", iadd(imul(tileM, u32(bm)), imul(id("local", 1), u32(rm))));
  const col0 = b.let("col0", iadd(imul(tileN, u32(bn)), imul(id("local", 0), u32(rn))));
  const clampTo = (e: Expr, n: number) => (n === 1 ? u32(0) : bin("min", e, u32(n - 1)));
  const rows = Array.from({ length: rm }, (_, i) => b.let(`r${i}`, clampTo(iadd(row0, u32(i)), M)));
  const cols = Array.from({ length: rn }, (_, j) => b.let(`c${j}`, clampTo(iadd(col0, u32(j)), N)));
  const acc = rows.map((_, i) => cols.map((_, j) => b.var(`acc_${i}_${j}`, lit(t, 0))));
  b.for("k", u32(0), u32(K), (k, body) => {
    const bv = cols.map((c, j) => body.let(`b${j}`, load(t, spec.rhs.name, spec.rhs.addr(body, bat, k, c))));
    rows.forEach((r, i) => {
      const a = body.let(`a${i}`, load(t, spec.lhs.name, spec.lhs.addr(body, bat, r, k)));
      bv.forEach((bj, j) => body.assign(acc[i]![j]!, bin("add", acc[i]![j]!, mul(a, bj))));
    });
  });
  const outBase = b.let("out_base", imul(bat, u32(M * N)));
  for (let i = 0; i < rm; i++) {
    const row = b.let(`row${i}`, iadd(row0, u32(i)));
    b.if(lt(row, u32(M)), (x) => {
      for (let j = 0; j < rn; j++) {
        const col = iadd(col0, u32(j));
        x.if(lt(col, u32(N)), (y) => y.store(spec.out, iadd(outBase, iadd(imul(row, u32(N)), col)), acc[i]![j]!));
      }
    });
  }
  return {
    name: spec.name, source: spec.source, bindings: spec.bindings,
    workgroupSize: [tx, ty, 1], grid, shared: [], body: b.stmts,
  };
}

function workgroupMatmul(spec: MatmulSpec, target: Target, tile: MatmulTile): Kernel {
  const { bm, bn, bk, rm, rn } = tile;
  const tx = bn / rn, ty = bm / rm, nt = tx * ty;
  if (!Number.isInteger(tx) || !Number.isInteger(ty) || (bm * bk) % nt || (bk * bn) % nt)
    throw new Error(`matmul tile ${JSON.stringify(tile)} does not divide evenly among invocations`);
  const { m: M, n: N, k: K } = spec;
  const tilesN = Math.ceil(N / bn), tilesM = Math.ceil(M / bm);
  const groups = spec.batch * tilesM * tilesN;
  const grid = gridFor(groups, target);
  const t = spec.dtype === "bool" ? "u32" : spec.dtype;
  const zero = lit(t, 0);

  const b = new BodyBuilder();
  const wg = b.let("wg", linearGroupId(grid));
  if (grid[0] * grid[1] !== groups) b.if(bin("ge", wg, u32(groups)), (x) => x.return());
  const tileN = b.let("tile_n", irem(wg, u32(tilesN)));
  const tileM = b.let("tile_m", irem(idiv(wg, u32(tilesN)), u32(tilesM)));
  const bat = b.let("batch", idiv(wg, u32(tilesN * tilesM)));
  const lx = b.let("tx", id("local", 0));
  const ly = b.let("ty", id("local", 1));
  const tid = b.let("tid", iadd(imul(ly, u32(tx)), lx));
  const m0 = b.let("m0", imul(tileM, u32(bm)));
  const n0 = b.let("n0", imul(tileN, u32(bn)));
  const acc: Expr[][] = [];
  for (let i = 0; i < rm; i++) {
    acc.push([]);
    for (let j = 0; j < rn; j++) acc[i]!.push(b.var(`acc_${i}_${j}`, zero));
  }

  b.for("k0", u32(0), u32(K), (k0, body) => {
    // Stage A[m0.., k0..] as As[kk*bm + row] and B[k0.., n0..] as Bs[kk*bn + col]; consecutive
    // invocations walk the operand's contiguous axis so global reads coalesce.
    for (let l = 0; l < (bm * bk) / nt; l++) {
      const e = iadd(tid, u32(l * nt));
      const [row, col] = spec.lhs.kContiguous ? [idiv(e, u32(bk)), irem(e, u32(bk))] : [irem(e, u32(bm)), idiv(e, u32(bm))];
      const gm = body.let("a_row", iadd(m0, row));
      const gk = body.let("a_col", iadd(k0, col));
      const v = body.var("a", zero);
      body.if(and(lt(gm, u32(M)), lt(gk, u32(K))), (x) => x.assign(v, load(t, spec.lhs.name, spec.lhs.addr(x, bat, gm, gk))));
      body.store("As", iadd(imul(col, u32(bm)), row), v, "workgroup");
    }
    for (let l = 0; l < (bk * bn) / nt; l++) {
      const e = iadd(tid, u32(l * nt));
      const [row, col] = spec.rhs.nContiguous ? [idiv(e, u32(bn)), irem(e, u32(bn))] : [irem(e, u32(bk)), idiv(e, u32(bk))];
      const gk = body.let("b_row", iadd(k0, row));
      const gn = body.let("b_col", iadd(n0, col));
      const v = body.var("b", zero);
      body.if(and(lt(gk, u32(K)), lt(gn, u32(N))), (x) => x.assign(v, load(t, spec.rhs.name, spec.rhs.addr(x, bat, gk, gn))));
      body.store("Bs", iadd(imul(row, u32(bn)), col), v, "workgroup");
    }
    body.barrier();
    body.for("kk", u32(0), u32(bk), (kk, inner) => {
      const a = Array.from({ length: rm }, (_, i) =>
        inner.let(`a${i}`, load(t, "As", iadd(imul(kk, u32(bm)), iadd(ly, u32(i * ty))), "workgroup")));
      const bv = Array.from({ length: rn }, (_, j) =>
        inner.let(`b${j}`, load(t, "Bs", iadd(imul(kk, u32(bn)), iadd(lx, u32(j * tx))), "workgroup")));
      for (let i = 0; i < rm; i++)
        for (let j = 0; j < rn; j++) inner.assign(acc[i]![j]!, bin("add", acc[i]![j]!, mul(a[i]!, bv[j]!)));
    });
    body.barrier();
  }, bk);

  const outBase = b.let("out_base", imul(bat, u32(M * N)));
  for (let i = 0; i < rm; i++) {
    const row = b.let(`row${i}`, iadd(m0, iadd(ly, u32(i * ty))));
    for (let j = 0; j < rn; j++) {
      const col = b.let(`col${j}_${i}`, iadd(n0, iadd(lx, u32(j * tx))));
      b.if(and(lt(row, u32(M)), lt(col, u32(N))), (x) =>
        x.store(spec.out, iadd(outBase, iadd(imul(row, u32(N)), col)), acc[i]![j]!));
    }
  }

  return {
    name: spec.name,
    source: spec.source,
    bindings: spec.bindings,
    workgroupSize: [tx, ty, 1],
    grid,
    shared: [{ name: "As", t, size: bk * bm }, { name: "Bs", t, size: bk * bn }],
    body: b.stmts,
  };
}
