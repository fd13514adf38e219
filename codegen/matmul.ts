/**
 * The matmul templates behind dot_general: C[b, m, n] = Σ_k A[b, m, k] · B[b, k, n], with an
 * optional epilogue applied to each element of C before it is stored (bias, activation,
 * residual: the fusion codegen's hook, see MatmulEpilogue).
 *
 * Three templates, chosen by what the device is (matmulStrategy):
 * - workgroup (GPUs): two-level blocking through workgroup memory (Volkov & Demmel 2008;
 *   the CUTLASS / "SGEMM in CUDA" scheme).
 * - subgroup (CPU adapters with a fixed subgroup size, i.e. lavapipe): register blocking
 *   with operands exchanged across the subgroup instead of loaded per invocation; see
 *   subgroupMatmul for why and the measurements.
 * - registers (CPU adapters without subgroups): plain register blocking, no barriers.
 *
 * Every template handles any shape by bounds (clamped loads, masked stores), never by
 * padding copies; batches and tiles share one linear workgroup id, so a grid past the
 * per-dimension limit splits across x and y like every other kernel. Shapes are static, so
 * each "is this a multiple of the block" question is answered at compile time and the
 * aligned case carries no check in its k-loop.
 */
import { type DType, stridesOf } from "../ir/dtype.js";
import { gridFor, linearGroupId, unravel } from "./indexing.js";
import {
  type Binding, type Expr, type Kernel, type Scalar, type Stmt, BodyBuilder,
  and, bin, broadcast, call, iadd, id, idiv, imul, irem, lit, load, lt, mul, renameLocals, u32,
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

/**
 * An operand whose address is affine in its matrix coordinates:
 * addr(batch, row, col) = addr(batch, 0, 0) + row·row + col·col, and every batch's base
 * addr(batch, 0, 0) is a multiple of `baseAlign` (0: every base is 0). Lets the templates
 * hoist address math out of the k-loop and use 4-vector loads along a unit-stride axis.
 */
export interface OperandStrides {
  readonly row: number;
  readonly col: number;
  readonly baseAlign: number;
}

export interface MatmulOperand {
  readonly name: string;
  readonly addr: OperandAddress;
  readonly strides?: OperandStrides;
}

/** Where the epilogue is: the element's batch multi-index, its row and column in C, and its index in C. */
export interface MatmulEpilogueIndex {
  readonly batch: Expr[];
  readonly row: Expr;
  readonly col: Expr;
  /** batch·m·n + row·n + col: the element's index in the row-major result. */
  readonly linear: Expr;
}

/**
 * The fusion hook: what happens to each element of C after accumulation.
 *
 * Contract:
 * - `apply(acc, idx)` is called once per output element (several times per invocation,
 *   at code-generation time) with the accumulated value and its position; it returns
 *   statements to run first and the value stored to `out` instead of `acc` (same dtype).
 *   Vector stores call it once per lane. The statements may declare any names: each call's
 *   declarations are renamed apart before they are spliced in; they run only for elements
 *   inside C (after the bounds check), and may load from any binding and store to other
 *   outputs (e.g. a second result at `idx.linear`).
 * - `bindings` are the extra buffers the statements read (bias, residual), read-only, with
 *   names distinct from lhs, rhs and out (bind one buffer twice if it plays two parts).
 *   They are inserted just before the `out` binding, so the kernel's bindings are
 *   spec.bindings with these before `out`; the caller binds its arguments in that order.
 */
export interface MatmulEpilogue {
  readonly bindings: readonly Binding[];
  readonly apply: (acc: Expr, idx: MatmulEpilogueIndex) => { stmts: readonly Stmt[]; value: Expr };
}

export interface MatmulSpec {
  readonly name: string;
  readonly source: string;
  readonly dtype: DType;
  readonly batch: number;
  /** Sizes of the batch dims (their product is `batch`); gives the epilogue a batch multi-index. */
  readonly batchShape?: readonly number[];
  readonly m: number;
  readonly n: number;
  readonly k: number;
  /** Bindings in launch order; lhs, rhs and out name three of them. */
  readonly bindings: readonly Binding[];
  readonly lhs: MatmulOperand & { readonly kContiguous: boolean };
  readonly rhs: MatmulOperand & { readonly nContiguous: boolean };
  /** C is written row-major as [batch, m, n]. */
  readonly out: string;
  readonly epilogue?: MatmulEpilogue;
}

/**
 * The strides of an operand of `shape` whose rows (columns) are the row-major linear index
 * over `rowDims` (`colDims`): defined when each group's dims are adjacent in memory in that
 * order, as groupAddress merges them; undefined otherwise.
 */
export function operandStrides(shape: readonly number[], batchDims: readonly number[], rowDims: readonly number[], colDims: readonly number[]): OperandStrides | undefined {
  const st = stridesOf(shape);
  const group = (dims: readonly number[]): number | undefined => {
    const live = dims.filter((d) => shape[d] !== 1);
    if (live.length === 0) return 0;
    const inner = st[live[live.length - 1]!]!;
    let span = 1;
    for (let i = live.length - 1; i >= 0; i--) {
      if (st[live[i]!] !== inner * span) return undefined;
      span *= shape[live[i]!]!;
    }
    return inner;
  };
  const row = group(rowDims), col = group(colDims);
  if (row === undefined || col === undefined) return undefined;
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  return { row, col, baseAlign: batchDims.filter((d) => shape[d] !== 1).reduce((g, d) => gcd(g, st[d]!), 0) };
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

export type MatmulStrategy = "workgroup" | "subgroup" | "registers";

/** Subgroup sizes the subgroup template is written for (tiles are 32 rows × 4·size columns). */
const SUBGROUP_SIZES: ReadonlySet<number> = new Set([4, 8, 16, 32]);

/**
 * Workgroup-memory tiling is right for GPUs. On a CPU adapter (lavapipe) a barrier turns
 * invocations into coroutines that spill every accumulator, and each invocation's load
 * costs a scalar loop over the SIMD lanes, so the templates there avoid barriers and
 * minimise loads per invocation: through subgroup broadcasts when the subgroup size is fixed.
 */
export function matmulStrategy(target: Target): MatmulStrategy {
  if (!target.cpuAdapter) return "workgroup";
  return target.subgroupSize && SUBGROUP_SIZES.has(target.subgroupSize) ? "subgroup" : "registers";
}

export function matmulKernel(spec: MatmulSpec, target: Target, tile?: MatmulTile, strategy = matmulStrategy(target)): Kernel {
  for (const e of spec.epilogue?.bindings ?? [])
    if ([spec.lhs.name, spec.rhs.name, spec.out].includes(e.name))
      throw new Error(`matmul ${spec.name}: epilogue binding '${e.name}' reuses the name of an operand; bind the buffer twice under another name`);
  if (strategy === "subgroup") {
    if (!target.subgroupSize || !SUBGROUP_SIZES.has(target.subgroupSize))
      throw new Error(`matmul ${spec.name}: the subgroup template needs a fixed subgroup size of 4, 8, 16 or 32 (target has ${target.subgroupSize ?? "none"})`);
    return subgroupMatmul(spec, target, target.subgroupSize, tile?.bm);
  }
  return strategy === "registers"
    ? registerMatmul(spec, target, tile ?? REGISTER_TILE)
    : workgroupMatmul(spec, target, tile ?? chooseTile(spec.m, spec.n, target));
}

// ---------------------------------------------------------------------------
// shared pieces

function scalarType(spec: MatmulSpec): Scalar {
  return spec.dtype === "bool" ? "u32" : spec.dtype;
}

/** acc + a·b, fused on f32 (one instruction on every target; lavapipe does not contract a·b + c itself). */
function madd(acc: Expr, a: Expr, b: Expr): Expr {
  return acc.t === "f32" ? call("fma", a, b, acc) : bin("add", acc, mul(a, b));
}

/** The kernel's bindings: the spec's, 4-vector where a template asks, the epilogue's before `out`. */
function kernelBindings(spec: MatmulSpec, vec4: ReadonlySet<string> = new Set()): Binding[] {
  const out: Binding[] = [];
  for (const b of spec.bindings) {
    if (b.name === spec.out) out.push(...(spec.epilogue?.bindings ?? []));
    out.push(vec4.has(b.name) ? { ...b, width: 4 } : b);
  }
  return out;
}

/** The values of C stored at one row: the accumulators, through the epilogue when there is one. */
class OutputWriter {
  private readonly batchIndex: Expr[];
  private readonly rowBase: Expr;

  constructor(
    private readonly spec: MatmulSpec,
    b: BodyBuilder,
    bat: Expr,
  ) {
    const { m: M, n: N } = spec;
    this.rowBase = b.let("out_base", imul(bat, u32(M * N)));
    this.batchIndex = spec.epilogue
      ? spec.batchShape && spec.batchShape.length > 1 ? unravel(b, bat, spec.batchShape, "ep_b") : [bat]
      : [];
  }

  /** Index of (row, col) in C. */
  linear(row: Expr, col: Expr): Expr {
    return iadd(this.rowBase, iadd(imul(row, u32(this.spec.n)), col));
  }

  value(b: BodyBuilder, acc: Expr, row: Expr, col: Expr): Expr {
    const ep = this.spec.epilogue;
    if (!ep) return acc;
    const linear = b.let("ep_linear", this.linear(row, col));
    const r = ep.apply(acc, { batch: this.batchIndex, row, col, linear });
    const { stmts, value } = renameLocals(r.stmts, r.value, (n) => b.fresh(n));
    b.push(...stmts);
    return b.let("ep_value", value);
  }
}

// ---------------------------------------------------------------------------
// subgroup template (CPU adapters)

/**
 * Register-blocked matmul for CPU adapters, one subgroup per workgroup. A subgroup owns a
 * TM×TN tile of C (TM = 32 rows, fewer for a short C; TN = 4 columns per lane); each lane
 * keeps its 4 columns of all TM rows in registers (128 accumulators) and, per 4-deep k step:
 * - loads its own 4×4 block of B (its 4 columns at k..k+3) as 4-vectors;
 * - loads a 1/subgroup share of the TM×4 block of A as 4-vectors (row `lane`, `lane+8`, ...
 *   along k, or 4 rows at one k when A is m-contiguous), and takes every value of the block
 *   from the lane that loaded it by a subgroup broadcast with a constant lane.
 *
 * Why: lavapipe runs 8 invocations as the 8 SIMD lanes of one thread; arithmetic costs what
 * it costs on the CPU, but every storage-buffer load with a per-invocation address becomes
 * a scalar loop over the lanes with a bounds check per component (Mesa's
 * lp_bld_nir_soa.c emit_load_mem), ~20 cycles per 4-vector lane-load, while a broadcast
 * from a constant lane is one register shuffle. So the template minimises lane-loads per
 * multiply-add: (TM/8 + 4) 4-vector loads per 128·TM/8 multiply-adds. Measured on lavapipe
 * (2 cores, per CPU-second, since the machine was shared; f32 1024³): plain 8×8 scalar
 * registers 4.6–5.9 GFLOP/s, 4-vector loads with 4×8 per invocation 5.3–6.4, subgroup
 * broadcast 8×32 tiles 12.3, 16×64 15.1, 32×32 17.7–21.7, 32×64 (256 accumulators,
 * spilled) 11.5–13.9. One subgroup per workgroup keeps the exchange correct without
 * assuming how an adapter forms subgroups; 2 or 4 per workgroup measured the same within noise.
 *
 * Addresses are hoisted out of the k-loop (operands with affine strides); out-of-range
 * rows and columns are clamped on load and masked on store, and the k tail (k mod 4) is a
 * last step unrolled at compile time, so the k-loop has no checks for any shape.
 */
function subgroupMatmul(spec: MatmulSpec, target: Target, sg: number, rows = 32): Kernel {
  const { m: M, n: N, k: K } = spec;
  const t = scalarType(spec);
  // A short C (a matrix-vector product) gets fewer rows per tile, not 32 rows of clamped copies.
  if (rows % sg) throw new Error(`matmul ${spec.name}: subgroup tiles need a multiple of ${sg} rows, got ${rows}`);
  const TM = Math.min(rows, Math.ceil(M / sg) * sg);
  const TN = 4 * sg;
  const tilesN = Math.ceil(N / TN), tilesM = Math.ceil(M / TM);
  const groups = spec.batch * tilesM * tilesN;
  const grid = gridFor(groups, target);

  // 4-vector access needs a unit-stride axis whose extent and every other stride (and each
  // batch's base) are multiples of 4, so no vector straddles a row, a matrix or the end.
  const a = spec.lhs.strides, bs = spec.rhs.strides;
  const four = (x: number) => x % 4 === 0;
  let aMode: "k4" | "m4" | "scalar" =
    a && a.col === 1 && four(a.row) && four(a.baseAlign) && four(K) ? "k4"
    : a && a.row === 1 && four(a.col) && four(a.baseAlign) && four(M) && TM % (4 * sg) === 0 ? "m4"
    : "scalar";
  let bMode: "n4" | "k4" | "scalar" =
    bs && bs.col === 1 && four(bs.row) && four(bs.baseAlign) && four(N) ? "n4"
    : bs && bs.row === 1 && four(bs.col) && four(bs.baseAlign) && four(K) ? "k4"
    : "scalar";
  // One buffer read as both operands is one binding: one element type for both.
  if (spec.lhs.name === spec.rhs.name && (aMode === "scalar") !== (bMode === "scalar")) aMode = bMode = "scalar";
  // (A spec whose `out` is not one of its bindings rewrites the scalar stores itself.)
  const vecOut = four(N) && spec.out !== spec.lhs.name && spec.out !== spec.rhs.name && spec.bindings.some((x) => x.name === spec.out);

  const b = new BodyBuilder();
  const wg = b.let("wg", linearGroupId(grid));
  if (grid[0] * grid[1] !== groups) b.if(bin("ge", wg, u32(groups)), (x) => x.return());
  const tileN = b.let("tile_n", irem(wg, u32(tilesN)));
  const tileM = b.let("tile_m", irem(idiv(wg, u32(tilesN)), u32(tilesM)));
  const bat = b.let("batch", idiv(wg, u32(tilesN * tilesM)));
  const lane = b.let("lane", id("subgroup_lane"));
  const m0 = b.let("m0", imul(tileM, u32(TM)));
  const col0 = b.let("col0", iadd(imul(tileN, u32(TN)), imul(lane, u32(4))));
  const clamp = (e: Expr, n: number) => (n === 1 ? u32(0) : bin("min", e, u32(n - 1)));

  // A: per k step, a function (i, u) -> A[m0 + i, k + u], the same value in every lane.
  type Step = (body: BodyBuilder, kq: Expr, k: Expr, us: readonly number[]) => (i: number, u: number) => Expr;
  let aStep: Step;
  if (aMode === "k4") {
    const base4 = b.let("a_base4", idiv(spec.lhs.addr(b, bat, u32(0), u32(0)), u32(4)));
    const rows = Array.from({ length: TM / sg }, (_, r) =>
      b.let(`a_row${r}`, iadd(base4, imul(clamp(iadd(m0, iadd(u32(r * sg), lane)), M), u32(a!.row / 4)))));
    aStep = (body, kq) => {
      const v = rows.map((r, i) => body.load4(`a${i}`, t, spec.lhs.name, iadd(r, kq)));
      return (i, u) => broadcast(v[Math.floor(i / sg)]![u]!, i % sg);
    };
  } else if (aMode === "m4") {
    const base4 = b.let("a_base4", idiv(spec.lhs.addr(b, bat, u32(0), u32(0)), u32(4)));
    const quads = Array.from({ length: TM / (4 * sg) }, (_, r) =>
      b.let(`a_quad${r}`, iadd(base4, clamp(iadd(idiv(m0, u32(4)), iadd(u32(r * sg), lane)), M / 4))));
    aStep = (body, _kq, k, us) => {
      const v = us.map((u) => quads.map((q, r) => body.load4(`a${u}_${r}`, t, spec.lhs.name, iadd(q, imul(iadd(k, u32(u)), u32(a!.col / 4))))));
      return (i, u) => broadcast(v[us.indexOf(u)]![Math.floor(i / (4 * sg))]![i % 4]!, Math.floor(i / 4) % sg);
    };
  } else {
    const rows = Array.from({ length: TM / sg }, (_, r) => b.let(`a_row${r}`, clamp(iadd(m0, iadd(u32(r * sg), lane)), M)));
    const bases = a ? rows.map((r, i) => b.let(`a_base${i}`, iadd(spec.lhs.addr(b, bat, u32(0), u32(0)), imul(r, u32(a.row))))) : [];
    aStep = (body, _kq, k, us) => {
      const v = rows.map((r, ri) => us.map((u) => {
        const kk = iadd(k, u32(u));
        return body.let(`a${ri}_${u}`, load(t, spec.lhs.name, a ? iadd(bases[ri]!, imul(kk, u32(a.col))) : spec.lhs.addr(body, bat, r, kk)));
      }));
      return (i, u) => broadcast(v[Math.floor(i / sg)]![us.indexOf(u)]!, i % sg);
    };
  }

  // B: per k step, a function (u, j) -> B[k + u, col0 + j], this lane's own values.
  let bStep: Step;
  if (bMode === "n4") {
    const base = b.let("b_col4", iadd(idiv(spec.rhs.addr(b, bat, u32(0), u32(0)), u32(4)), clamp(idiv(col0, u32(4)), N / 4)));
    bStep = (body, _kq, k, us) => {
      const v = us.map((u) => body.load4(`b${u}`, t, spec.rhs.name, iadd(base, imul(iadd(k, u32(u)), u32(bs!.row / 4)))));
      return (u, j) => v[us.indexOf(u)]![j]!;
    };
  } else if (bMode === "k4") {
    const base4 = b.let("b_base4", idiv(spec.rhs.addr(b, bat, u32(0), u32(0)), u32(4)));
    const cols = [0, 1, 2, 3].map((j) => b.let(`b_col${j}`, iadd(base4, imul(clamp(iadd(col0, u32(j)), N), u32(bs!.col / 4)))));
    bStep = (body, kq) => {
      const v = cols.map((c, j) => body.load4(`b${j}`, t, spec.rhs.name, iadd(c, kq)));
      return (u, j) => v[j]![u]!;
    };
  } else {
    const cols = [0, 1, 2, 3].map((j) => b.let(`b_col${j}`, clamp(iadd(col0, u32(j)), N)));
    const bases = bs ? cols.map((c, j) => b.let(`b_base${j}`, iadd(spec.rhs.addr(b, bat, u32(0), u32(0)), imul(c, u32(bs.col))))) : [];
    bStep = (body, _kq, k, us) => {
      const v = us.map((u) => cols.map((c, j) => {
        const kk = iadd(k, u32(u));
        return body.let(`b${u}_${j}`, load(t, spec.rhs.name, bs ? iadd(bases[j]!, imul(kk, u32(bs.row))) : spec.rhs.addr(body, bat, kk, c)));
      }));
      return (u, j) => v[us.indexOf(u)]![j]!;
    };
  }

  const acc = Array.from({ length: TM }, (_, i) => [0, 1, 2, 3].map((j) => b.var(`acc${i}_${j}`, lit(t, 0))));
  const step = (body: BodyBuilder, kq: Expr, k: Expr, us: readonly number[]) => {
    const bv = bStep(body, kq, k, us);
    const av = aStep(body, kq, k, us);
    for (const u of us)
      for (let i = 0; i < TM; i++) {
        const ai = body.let(`x${i}`, av(i, u));
        for (let j = 0; j < 4; j++) body.assign(acc[i]![j]!, madd(acc[i]![j]!, ai, bv(u, j)));
      }
  };
  const K4 = Math.floor(K / 4), tail = K % 4;
  if (K4 > 0) b.for("kq", u32(0), u32(K4), (kq, body) => step(body, kq, imul(kq, u32(4)), [0, 1, 2, 3]));
  if (tail) {
    b.comment(`k tail: k = ${4 * K4}..${K - 1}`);
    step(b, u32(K4), u32(4 * K4), [0, 1, 2].slice(0, tail));
  }

  const out = new OutputWriter(spec, b, bat);
  const colsIn = N % TN === 0;
  for (let i = 0; i < TM; i++) {
    const row = b.let(`row${i}`, iadd(m0, u32(i)));
    const emitRow = (x: BodyBuilder) => {
      if (vecOut) {
        const emit = (y: BodyBuilder) => {
          const vals = [0, 1, 2, 3].map((j) => out.value(y, acc[i]![j]!, row, j === 0 ? col0 : y.let("ep_col", iadd(col0, u32(j)))));
          y.store4(spec.out, iadd(imul(bat, u32((M * N) / 4)), iadd(imul(row, u32(N / 4)), idiv(col0, u32(4)))), vals as [Expr, Expr, Expr, Expr]);
        };
        if (colsIn) emit(x);
        else x.if(lt(col0, u32(N)), emit);
      } else {
        for (let j = 0; j < 4; j++) {
          const col = x.let(`col${i}_${j}`, iadd(col0, u32(j)));
          const emit = (y: BodyBuilder) => y.store(spec.out, out.linear(row, col), out.value(y, acc[i]![j]!, row, col));
          if (colsIn) emit(x);
          else x.if(lt(col, u32(N)), emit);
        }
      }
    };
    if (M % TM === 0) emitRow(b);
    else b.if(lt(row, u32(M)), emitRow);
  }

  const vec4 = new Set<string>();
  if (aMode !== "scalar") vec4.add(spec.lhs.name);
  if (bMode !== "scalar") vec4.add(spec.rhs.name);
  if (vecOut) vec4.add(spec.out);
  return {
    name: spec.name, source: spec.source, bindings: kernelBindings(spec, vec4),
    workgroupSize: [sg, 1, 1], grid, shared: [], body: b.stmts, subgroupSize: sg,
  };
}

// ---------------------------------------------------------------------------
// register template (CPU adapters without a fixed subgroup size)

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
  const t = scalarType(spec);
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
      bv.forEach((bj, j) => body.assign(acc[i]![j]!, madd(acc[i]![j]!, a, bj)));
    });
  });
  const out = new OutputWriter(spec, b, bat);
  for (let i = 0; i < rm; i++) {
    const row = b.let(`row${i}`, iadd(row0, u32(i)));
    b.if(lt(row, u32(M)), (x) => {
      for (let j = 0; j < rn; j++) {
        const col = x.let(`col${i}_${j}`, iadd(col0, u32(j)));
        x.if(lt(col, u32(N)), (y) => y.store(spec.out, out.linear(row, col), out.value(y, acc[i]![j]!, row, col)));
      }
    });
  }
  return {
    name: spec.name, source: spec.source, bindings: kernelBindings(spec),
    workgroupSize: [tx, ty, 1], grid, shared: [], body: b.stmts,
  };
}

// ---------------------------------------------------------------------------
// workgroup template (GPUs)

/**
 * A workgroup computes a BM×BN tile of C, staging BK-deep slices of A and B in workgroup
 * memory; each invocation keeps an RM×RN block of C in registers and reads RM + RN values
 * per k for RM·RN multiply-adds. An invocation's rows and columns are strided by the
 * workgroup's extent (row = ty + i·TY), so neighbouring invocations touch neighbouring
 * addresses in shared memory and in C. Edges are handled by bounds checks on every load and store.
 */
function workgroupMatmul(spec: MatmulSpec, target: Target, tile: MatmulTile): Kernel {
  const { bm, bn, bk, rm, rn } = tile;
  const tx = bn / rn, ty = bm / rm, nt = tx * ty;
  if (!Number.isInteger(tx) || !Number.isInteger(ty) || (bm * bk) % nt || (bk * bn) % nt)
    throw new Error(`matmul tile ${JSON.stringify(tile)} does not divide evenly among invocations`);
  const { m: M, n: N, k: K } = spec;
  const tilesN = Math.ceil(N / bn), tilesM = Math.ceil(M / bm);
  const groups = spec.batch * tilesM * tilesN;
  const grid = gridFor(groups, target);
  const t = scalarType(spec);
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
        for (let j = 0; j < rn; j++) inner.assign(acc[i]![j]!, madd(acc[i]![j]!, a[i]!, bv[j]!));
    });
    body.barrier();
  }, bk);

  const out = new OutputWriter(spec, b, bat);
  for (let i = 0; i < rm; i++) {
    const row = b.let(`row${i}`, iadd(m0, iadd(ly, u32(i * ty))));
    for (let j = 0; j < rn; j++) {
      const col = b.let(`col${j}_${i}`, iadd(n0, iadd(lx, u32(j * tx))));
      b.if(and(lt(row, u32(M)), lt(col, u32(N))), (x) =>
        x.store(spec.out, out.linear(row, col), out.value(x, acc[i]![j]!, row, col)));
    }
  }

  return {
    name: spec.name,
    source: spec.source,
    bindings: kernelBindings(spec),
    workgroupSize: [tx, ty, 1],
    grid,
    shared: [{ name: "As", t, size: bk * bm }, { name: "Bs", t, size: bk * bn }],
    body: b.stmts,
  };
}
