/**
 * The matmul templates behind dot_general: C[b, m, n] = Σ_k A[b, m, k] · B[b, k, n], with an
 * optional epilogue applied to each element of C before it is stored (bias, activation,
 * residual: the fusion codegen's hook, see MatmulEpilogue).
 *
 * Three templates, chosen by what the device is (matmulStrategy):
 * - workgroup (GPUs): two-level blocking through workgroup memory (Volkov & Demmel 2008;
 *   the CUTLASS / "SGEMM in CUDA" scheme): codegen/matmul-gpu.ts's 128×128 blocks with 8×8
 *   per invocation, 128-bit loads and a prefetched next slice wherever a matmul fills them
 *   (grouped ones: a group's 16 or 32 rows × 128); the 64×64 one below for small ones.
 * - subgroup (CPU adapters with a fixed subgroup size, i.e. lavapipe): register blocking
 *   with operands exchanged across the subgroup instead of loaded per invocation; see
 *   subgroupMatmul for why and the measurements.
 * - registers (CPU adapters without subgroups): plain register blocking, no barriers.
 * The CPU templates live in codegen/matmul-cpu.ts; the spec, the epilogue hook and what the
 * templates share in codegen/matmul-spec.ts (re-exported here).
 *
 * Every template handles any shape by bounds (clamped loads, masked stores), never by
 * padding copies; batches and tiles share one linear workgroup id, so a grid past the
 * per-dimension limit splits across x and y like every other kernel. Shapes are static, so
 * each "is this a multiple of the block" question is answered at compile time and the
 * aligned case carries no check in its k-loop.
 */
import { gridFor, groupIndex } from "./indexing.js";
import { type Expr, type Kernel, type KernelCandidate, BodyBuilder, and, id, idiv, iadd, imul, irem, lit, load, lt, u32 } from "./kernel.js";
import { REGISTER_TILE, registerMatmul, subgroupMatmul } from "./matmul-cpu.js";
import { type GpuTile, gpuMatmul, gpuTile } from "./matmul-gpu.js";
import { type MatmulOperand, type MatmulSpec, type MatmulTile, DEFAULT_TILE, OutputWriter, kBounds, operandAt, groupedTile, kernelBindings, madd, scalarType, tileOrigin } from "./matmul-spec.js";
import type { Target } from "./target.js";

export * from "./matmul-spec.js";
export { REGISTER_TILE } from "./matmul-cpu.js";

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
 * Below this many FLOPs a matmul takes the subgroup template's smallest tile (one row per
 * lane: a quarter of the accumulators). LLVM (lavapipe) compiles the 32-row tile's 128 live
 * accumulators three to four times slower, about 1.1–1.8 s a kernel, while up to this size
 * the small tile runs as fast (issue 13; lavapipe, kernels timed alone, cold): W7's 8-expert
 * router (8 MFLOP) 1.9 → 0.39 s to compile; W8's q·kᵀ and p·v (12 heads of 256² × 64,
 * 101 MFLOP each) 1.8 and 1.1 → 0.40 and 0.48 s, 18.5 and 10.6 → 14.9 and 14.0 ms steady.
 * W8's output projection (302 MFLOP) ran 45% slower with it, so the line is drawn below that.
 */
export const SMALL_MATMUL_FLOPS = 2 ** 27;

/** Rows of the subgroup template's tile for `spec` (its default of 32, or one subgroup for a small product). */
function subgroupRows(spec: MatmulSpec, sg: number): number | undefined {
  return 2 * spec.batch * spec.m * spec.n * spec.k < SMALL_MATMUL_FLOPS ? sg : undefined;
}

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

/**
 * The matmul kernel for `spec` on `target`. With `target.autotune` (and no tile forced) it
 * carries the candidate tilings an autotuner times (Kernel.candidates), itself first.
 */
export function matmulKernel(spec: MatmulSpec, target: Target, tile?: MatmulTile, strategy = matmulStrategy(target)): Kernel {
  const flops = spec.flops ?? 2 * spec.batch * spec.m * spec.n * spec.k;
  const kernel = { ...oneMatmulKernel(spec, target, tile, strategy), flops };
  if (!target.autotune || tile) return kernel;
  const tilings = matmulTilings(spec, target, strategy);
  if (tilings.length < 2) return kernel;
  const candidates: KernelCandidate[] = tilings.map((t, i) => ({ label: t.label, kernel: i === 0 ? kernel : { ...t.make(), flops } }));
  return { ...kernel, candidates };
}

/** A tiling the autotuner may time: its name in listings, and how to build its kernel. */
interface Tiling {
  readonly label: string;
  readonly make: () => Kernel;
}

/**
 * The tilings worth timing for `spec`, the default first (the caller uses the kernel it
 * already built for it), deduplicated by what they compile to: tiles the shape clamps to one
 * size count once.
 * - subgroup (lavapipe): 32, 16 and 8 rows per subgroup tile. More rows share each loaded
 *   column of B among more accumulators; fewer compile faster and spill less.
 * - workgroup (GPUs): the 128×128 block with 8×8 per invocation, 64×128 with 4×8 (twice
 *   the workgroups for a short or narrow C), and the 64×64 block of the small-matmul template.
 * - registers: 8×8 and 4×4 per invocation.
 */
function matmulTilings(spec: MatmulSpec, target: Target, strategy: MatmulStrategy): Tiling[] {
  const seen = new Set<string>();
  const out: Tiling[] = [];
  const add = (label: string, key: string, make: () => Kernel) => {
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ label, make });
  };
  if (strategy === "subgroup") {
    const sg = target.subgroupSize!;
    if (spec.grouped) return [];
    const rowsOf = (rows: number) => Math.min(rows, Math.ceil(spec.m / sg) * sg);
    const first = rowsOf(subgroupRows(spec, sg) ?? 32);
    for (const rows of [first, 32, 16, 8].filter((r) => r % sg === 0)) {
      const r = rowsOf(rows);
      add(`${r}×${4 * sg} subgroup tile`, `${r}`, () => subgroupMatmul(spec, target, sg, r));
    }
  } else if (strategy === "registers") {
    for (const t of [REGISTER_TILE, { bm: 32, bn: 32, bk: 1, rm: 4, rn: 4 }])
      add(`${t.rm}×${t.rn} per invocation`, `${t.rm}`, () => registerMatmul(spec, target, t));
  } else {
    const gpu = gpuTile(spec, target);
    if (!gpu || spec.grouped) return [];
    const half: GpuTile = { ...gpu, bm: 64, rm: 4 };
    const small = chooseTile(spec.m, spec.n, target);
    add(`${gpu.bm}×${gpu.bn} block, ${gpu.rm}×${gpu.rn} each`, "gpu", () => gpuMatmul(spec, target, gpu));
    add(`${half.bm}×${half.bn} block, ${half.rm}×${half.rn} each`, "half", () => gpuMatmul(spec, target, half));
    add(`${small.bm}×${small.bn} block, ${small.rm}×${small.rn} each`, "small", () => workgroupMatmul(spec, target, small));
  }
  return out;
}

function oneMatmulKernel(spec: MatmulSpec, target: Target, tile: MatmulTile | undefined, strategy: MatmulStrategy): Kernel {
  for (const e of spec.epilogue?.bindings ?? [])
    if ([spec.lhs.name, spec.rhs.name, spec.out].includes(e.name))
      throw new Error(`matmul ${spec.name}: epilogue binding '${e.name}' reuses the name of an operand; bind the buffer twice under another name`);
  if (strategy === "subgroup") {
    if (!target.subgroupSize || !SUBGROUP_SIZES.has(target.subgroupSize))
      throw new Error(`matmul ${spec.name}: the subgroup template needs a fixed subgroup size of 4, 8, 16 or 32 (target has ${target.subgroupSize ?? "none"})`);
    return subgroupMatmul(spec, target, target.subgroupSize, tile?.bm ?? subgroupRows(spec, target.subgroupSize));
  }
  if (strategy === "registers") return registerMatmul(spec, target, tile ?? REGISTER_TILE);
  const gpu = tile ? undefined : gpuTile(spec, target);
  if (gpu) return gpuMatmul(spec, target, gpu);
  return workgroupMatmul(spec, target, tile ?? chooseTile(spec.m, spec.n, target));
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
/** How one operand's tile is copied into workgroup memory by all invocations together. */
interface TileStaging {
  /** Elements each invocation copies. */
  readonly count: number;
  readonly tid: Expr;
  readonly threads: number;
  readonly operand: MatmulOperand;
  readonly shared: string;
  readonly value: string;
  readonly names: readonly [string, string];
  /** The tile position (row, col) of the e-th element copied. */
  readonly split: (e: Expr) => [Expr, Expr];
  readonly origin: readonly [Expr, Expr];
  readonly extent: readonly [number, number];
  readonly slot: (row: Expr, col: Expr) => Expr;
  readonly batch: Expr;
  readonly zero: Expr;
  /** The operand's row for a tile row (a grouped matmul's gather). */
  readonly row?: (b: BodyBuilder, row: Expr) => Expr;
}

/** Copies a tile of an operand to workgroup memory, zero past the operand's edges. */
function stageTile(body: BodyBuilder, s: TileStaging): void {
  for (let l = 0; l < s.count; l++) {
    const [row, col] = s.split(iadd(s.tid, u32(l * s.threads)));
    const gr = body.let(s.names[0], iadd(s.origin[0], row));
    const gc = body.let(s.names[1], iadd(s.origin[1], col));
    const v = body.var(s.value, s.zero);
    body.if(and(lt(gr, u32(s.extent[0])), lt(gc, u32(s.extent[1]))), (x) =>
      x.assign(v, operandAt(v.t, s.operand, x, s.batch, s.row ? s.row(x, gr) : gr, gc)));
    body.store(s.shared, s.slot(row, col), v, "workgroup");
  }
}

function workgroupMatmul(spec: MatmulSpec, target: Target, tile: MatmulTile): Kernel {
  const { bm, bn, bk, rm, rn } = tile = groupedTile(spec, tile);
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
  const wg = groupIndex(b, "wg", grid, groups);
  const { tileN, batch: bat, rhsBatch, m0 } = tileOrigin(spec, b, wg, tilesM, tilesN, bm);
  const lx = b.let("tx", id("local", 0));
  const ly = b.let("ty", id("local", 1));
  const tid = b.let("tid", iadd(imul(ly, u32(tx)), lx));
  const n0 = b.let("n0", imul(tileN, u32(bn)));
  const acc: Expr[][] = [];
  for (let i = 0; i < rm; i++) {
    acc.push([]);
    for (let j = 0; j < rn; j++) acc[i]!.push(b.var(`acc_${i}_${j}`, zero));
  }

  const { start: kStart, end: kEnd } = kBounds(spec, b, bat, bk);
  b.for("k0", kStart, kEnd, (k0, body) => {
    // Stage A[m0.., k0..] as As[kk*bm + row] and B[k0.., n0..] as Bs[kk*bn + col]; consecutive
    // invocations walk the operand's contiguous axis so global reads coalesce.
    stageTile(body, {
      count: (bm * bk) / nt, tid, threads: nt, operand: spec.lhs, shared: "As", value: "a", names: ["a_row", "a_col"],
      // (row, col) of the tile: A's rows are m, its columns k; As is k-major.
      split: (e) => (spec.lhs.kContiguous ? [idiv(e, u32(bk)), irem(e, u32(bk))] : [irem(e, u32(bm)), idiv(e, u32(bm))]),
      origin: [m0, k0], extent: [M, K], slot: (row, col) => iadd(imul(col, u32(bm)), row), batch: bat, zero,
      ...(spec.grouped?.lhsRow ? { row: spec.grouped.lhsRow } : {}),
    });
    stageTile(body, {
      count: (bk * bn) / nt, tid, threads: nt, operand: spec.rhs, shared: "Bs", value: "b", names: ["b_row", "b_col"],
      split: (e) => (spec.rhs.nContiguous ? [idiv(e, u32(bn)), irem(e, u32(bn))] : [irem(e, u32(bk)), idiv(e, u32(bk))]),
      origin: [k0, n0], extent: [K, N], slot: (row, col) => iadd(imul(row, u32(bn)), col), batch: rhsBatch, zero,
    });
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

  const out = new OutputWriter(spec, b, bat, rhsBatch);
  const outRow = spec.grouped?.outRow;
  for (let i = 0; i < rm; i++) {
    const row = b.let(`row${i}`, iadd(m0, iadd(ly, u32(i * ty))));
    if (outRow) {
      // A scattered row: stored where the map says, if it does.
      b.if(lt(row, u32(M)), (w) => {
        const to = outRow(w, row);
        w.if(to.store, (x) => {
          for (let j = 0; j < rn; j++) {
            const col = x.let(`col${j}_${i}`, iadd(n0, iadd(lx, u32(j * tx))));
            x.if(lt(col, u32(N)), (y) => y.store(spec.out, out.linear(to.row, col), out.value(y, acc[i]![j]!, to.row, col)));
          }
        });
      });
      continue;
    }
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
