/**
 * The GPU matmul template: a 128×128 block of C per workgroup of 256 invocations, 8×8 of it
 * per invocation, k staged 8 deep through workgroup memory. It is the upper part of the
 * well-known SGEMM ladder (Volkov & Demmel 2008; the CUTLASS scheme; Boehm's "How to
 * optimize a CUDA matmul kernel" worklog, kernels 5–6 and 9): each invocation keeps 64
 * accumulators in registers and, per k, reads its 8 values of A and 8 of B as two 16-byte
 * vectors each from workgroup memory, so every shared-memory load feeds 16 multiply-adds.
 *
 * - Both tiles are stored k-major as 4-vectors along m (A, stored transposed) and along n
 *   (B): As4[k][m/4], Bs4[k][n/4]. An invocation's 8 rows and 8 columns are consecutive, so
 *   its reads are 128-bit and the 32 lanes of a warp read 16 distinct vectors of B and 2 of
 *   A (broadcast) per k.
 * - Global reads are 16-byte vectors where the operand's layout allows (a unit-stride axis
 *   whose extent, other strides and batch bases are multiples of 4): along k (A row-major,
 *   B transposed: the vector is scattered into four components of the tile), or along m / n
 *   (stored as one vector). Other operands (odd sizes, per-element reads of pads and
 *   concatenations) load four scalars into the same places.
 * - The next k slice is prefetched into registers while the current one is multiplied
 *   (register double buffering: its global loads are in flight during 512 multiply-adds),
 *   then stored after a barrier; one buffer of 8 KiB workgroup memory.
 * - Edges: loads past M, N or K read zero, stores past M or N are masked, so any shape is
 *   exact; the epilogue (the fusion hook) runs on each stored element.
 */
import { gridFor, groupIndex } from "./indexing.js";
import { type Expr, type Kernel, BodyBuilder, and, iadd, id, idiv, imul, irem, lit, lt, u32 } from "./kernel.js";
import { type MatmulOperand, type MatmulSpec, OutputWriter, kernelBindings, madd, operandAt, scalarType, tileOrigin } from "./matmul-spec.js";
import type { Target } from "./target.js";

/** The block: rows and columns of C per workgroup, per invocation, and the staged depth. */
export const GPU_TILE = { bm: 128, bn: 128, bk: 8, rm: 8, rn: 8 } as const;
const THREADS = (GPU_TILE.bm / GPU_TILE.rm) * (GPU_TILE.bn / GPU_TILE.rn);
/** Workgroup memory: both k slices as f32 4-vectors. */
const SHARED_BYTES = (GPU_TILE.bm + GPU_TILE.bn) * GPU_TILE.bk * 4;

/** Whether the GPU template applies: a plain (not grouped) matmul big enough to fill its blocks, on a device that fits one. */
export function gpuTemplateFits(spec: MatmulSpec, target: Target): boolean {
  return (
    !spec.grouped &&
    spec.m >= 64 && spec.n >= 64 &&
    THREADS <= target.limits.maxComputeInvocationsPerWorkgroup &&
    THREADS <= target.limits.maxComputeWorkgroupSizeX &&
    SHARED_BYTES <= target.limits.maxComputeWorkgroupStorageSize
  );
}

/**
 * How an operand's tile is read from memory. Its tile is `along` × bk (A: m × k, B: n × k);
 * "along4": 4-vectors along m / n; "k4": 4-vectors along k; "scalar": element by element.
 */
type ReadMode = "along4" | "k4" | "scalar";

/** One operand as the template sees it: `along` is its axis that is not k. */
interface Side {
  readonly operand: MatmulOperand;
  readonly shared: string;
  readonly mode: ReadMode;
  readonly along: number;
  /** Extent of the along axis (M or N) and of k. */
  readonly extent: number;
  readonly k: number;
  /** The operand's (row, col) for (along, k): A is (m, k), B is (k, n). */
  readonly at: (along: Expr, k: Expr) => [Expr, Expr];
  /** Its strides along `along` and along k, where it has strides. */
  readonly strideAlong?: number;
  readonly strideK?: number;
  readonly baseAlign?: number;
}

function readMode(s: Omit<Side, "mode">): ReadMode {
  const four = (x: number) => x % 4 === 0;
  if (s.strideAlong === undefined || s.strideK === undefined || !four(s.baseAlign!)) return "scalar";
  if (s.strideAlong === 1 && four(s.strideK) && four(s.extent)) return "along4";
  if (s.strideK === 1 && four(s.strideAlong) && four(s.k)) return "k4";
  return "scalar";
}

export function gpuMatmul(spec: MatmulSpec, target: Target): Kernel {
  const { bm, bn, bk, rm, rn } = GPU_TILE;
  const { m: M, n: N, k: K } = spec;
  const t = scalarType(spec);
  const zero = lit(t, 0);
  const tilesN = Math.ceil(N / bn), tilesM = Math.ceil(M / bm);
  const groups = spec.batch * tilesM * tilesN;
  const grid = gridFor(groups, target);

  const a = spec.lhs.strides, bs = spec.rhs.strides;
  const sideA: Omit<Side, "mode"> = {
    operand: spec.lhs, shared: "As", along: bm, extent: M, k: K, at: (m, k) => [m, k],
    ...(a ? { strideAlong: a.row, strideK: a.col, baseAlign: a.baseAlign } : {}),
  };
  const sideB: Omit<Side, "mode"> = {
    operand: spec.rhs, shared: "Bs", along: bn, extent: N, k: K, at: (n, k) => [k, n],
    ...(bs ? { strideAlong: bs.col, strideK: bs.row, baseAlign: bs.baseAlign } : {}),
  };
  let modeA = readMode(sideA), modeB = readMode(sideB);
  // One buffer read as both operands is one binding: one element type for both.
  if (spec.lhs.name === spec.rhs.name && (modeA === "scalar") !== (modeB === "scalar")) modeA = modeB = "scalar";
  const A: Side = { ...sideA, mode: modeA }, B: Side = { ...sideB, mode: modeB };
  const vec4 = new Set<string>();
  if (A.mode !== "scalar") vec4.add(spec.lhs.name);
  if (B.mode !== "scalar") vec4.add(spec.rhs.name);

  const b = new BodyBuilder();
  const wg = groupIndex(b, "wg", grid, groups);
  const { tileN, batch, rhsBatch, m0 } = tileOrigin(spec, b, wg, tilesM, tilesN, bm);
  const n0 = b.let("n0", imul(tileN, u32(bn)));
  const tid = b.let("tid", id("local", 0));
  // Invocation (ty, tx) owns rows ty·8 .. ty·8+7 and columns tx·8 .. tx·8+7 of the block.
  const tx = b.let("tx", irem(tid, u32(bn / rn)));
  const ty = b.let("ty", idiv(tid, u32(bn / rn)));

  const stagers = [stager(b, A, m0, batch, t), stager(b, B, n0, rhsBatch, t)];
  // The first slice: loaded, stored, visible to all.
  for (const s of stagers) s.fetch(b, u32(0));
  for (const s of stagers) s.store(b);
  b.barrier();

  const acc: Expr[][] = Array.from({ length: rm }, (_, i) => Array.from({ length: rn }, (_, j) => b.var(`acc_${i}_${j}`, zero)));
  b.for("k0", u32(0), u32(K), (k0, body) => {
    // The next slice's global loads are issued before this slice's arithmetic.
    const next = body.let("k_next", iadd(k0, u32(bk)));
    for (const s of stagers) s.fetch(body, next);
    for (let kk = 0; kk < bk; kk++) {
      const av = [0, 1].flatMap((h) => body.load4(`a${kk}_${h}`, t, "As", u32Add(imul(ty, u32(rm / 4)), kk * (bm / 4) + h)));
      const bv = [0, 1].flatMap((h) => body.load4(`b${kk}_${h}`, t, "Bs", u32Add(imul(tx, u32(rn / 4)), kk * (bn / 4) + h)));
      for (let i = 0; i < rm; i++) for (let j = 0; j < rn; j++) body.assign(acc[i]![j]!, madd(acc[i]![j]!, av[i]!, bv[j]!));
    }
    body.barrier();
    for (const s of stagers) s.store(body);
    body.barrier();
  }, bk);

  const out = new OutputWriter(spec, b, batch, rhsBatch);
  for (let i = 0; i < rm; i++) {
    const row = b.let(`row${i}`, iadd(m0, u32Add(imul(ty, u32(rm)), i)));
    b.if(lt(row, u32(M)), (r) => {
      for (let j = 0; j < rn; j++) {
        const col = r.let(`col${i}_${j}`, iadd(n0, u32Add(imul(tx, u32(rn)), j)));
        r.if(lt(col, u32(N)), (x) => x.store(spec.out, out.linear(row, col), out.value(x, acc[i]![j]!, row, col)));
      }
    });
  }

  return {
    name: spec.name,
    source: spec.source,
    bindings: kernelBindings(spec, vec4),
    workgroupSize: [THREADS, 1, 1],
    grid,
    shared: [
      { name: "As", t, size: (bk * bm) / 4, width: 4 },
      { name: "Bs", t, size: (bk * bn) / 4, width: 4 },
    ],
    body: b.stmts,
  };
}

const u32Add = (e: Expr, c: number): Expr => (c === 0 ? e : iadd(e, u32(c)));

/**
 * Copies one operand's k slices into its tile: `fetch` loads the slice starting at k0 into
 * four registers per invocation (zero past the edges), `store` writes them to workgroup
 * memory. Each of the 256 invocations moves one quad: 4 × 256 = 128 × 8 elements.
 */
function stager(b: BodyBuilder, s: Side, origin: Expr, batch: Expr, t: "f32" | "i32" | "u32" | "bool") {
  const zero = lit(t, 0);
  const tid = id("local", 0);
  const q4 = s.along / 4;
  const regs = [0, 1, 2, 3].map((c) => b.var(`${s.shared}_r${c}`, zero));
  const name = s.operand.name;
  // Where this invocation's quad sits in the tile: (along, k) of its first element, and the step between its elements.
  let along: Expr, kOff: Expr;
  if (s.mode === "k4") {
    // Pairs of invocations read one row's 8 k values (32 contiguous bytes).
    along = b.let(`${s.shared}_along`, idiv(tid, u32(2)));
    kOff = b.let(`${s.shared}_k`, imul(irem(tid, u32(2)), u32(4)));
  } else {
    // Consecutive invocations read consecutive 4-vectors along m / n.
    along = b.let(`${s.shared}_along`, imul(irem(tid, u32(q4)), u32(4)));
    kOff = b.let(`${s.shared}_k`, idiv(tid, u32(q4)));
  }
  const gAlong = b.let(`${s.shared}_g`, iadd(origin, along));
  const base = s.mode === "scalar" ? undefined : b.let(`${s.shared}_base4`, idiv(s.operand.addr(b, batch, u32(0), u32(0)), u32(4)));

  const fetch = (body: BodyBuilder, k0: Expr) => {
    const gk = body.let(`${s.shared}_gk`, iadd(k0, kOff));
    if (s.mode === "scalar") {
      for (let c = 0; c < 4; c++) {
        const [al, kk] = [u32Add(gAlong, c), gk];
        body.assign(regs[c]!, zero);
        body.if(and(lt(al, u32(s.extent)), lt(kk, u32(s.k))), (x) => {
          const [row, col] = s.at(al, kk);
          x.assign(regs[c]!, operandAt(t, s.operand, x, batch, row, col));
        });
      }
      return;
    }
    // A whole 4-vector is inside or outside: its axis' extent is a multiple of 4.
    const index = s.mode === "along4"
      ? iadd(base!, iadd(imul(gk, u32(s.strideK! / 4)), idiv(gAlong, u32(4))))
      : iadd(base!, iadd(imul(gAlong, u32(s.strideAlong! / 4)), idiv(gk, u32(4))));
    for (const r of regs) body.assign(r, zero);
    body.if(and(lt(gAlong, u32(s.extent)), lt(gk, u32(s.k))), (x) => {
      const v = x.load4(`${s.shared}_v`, t, name, index);
      regs.forEach((r, c) => x.assign(r, v[c]!));
    });
  };

  const store = (body: BodyBuilder) => {
    if (s.mode === "k4") {
      // Four k values of one row or column: one component in each of four k rows of the tile.
      for (let c = 0; c < 4; c++) body.storeElement(s.shared, iadd(imul(u32Add(kOff, c), u32(s.along)), along), regs[c]!);
      return;
    }
    body.store4(s.shared, iadd(imul(kOff, u32(q4)), idiv(along, u32(4))), regs as [Expr, Expr, Expr, Expr]);
  };
  return { fetch, store };
}
