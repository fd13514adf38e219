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
import { type Expr, type Kernel, type Scalar, BodyBuilder, and, bin, iadd, id, idiv, imul, irem, lit, lt, u32 } from "./kernel.js";
import { type MatmulOperand, type MatmulSpec, OutputWriter, kernelBindings, madd, operandAt, scalarType, tileOrigin } from "./matmul-spec.js";
import type { Target } from "./target.js";

/** A block: rows and columns of C per workgroup and per invocation (multiples of 4), and the staged depth. */
export interface GpuTile {
  readonly bm: number;
  readonly bn: number;
  readonly bk: number;
  readonly rm: number;
  readonly rn: number;
}

/** The dense block: 128×128 per workgroup of 256 invocations, 8×8 each. */
export const GPU_TILE: GpuTile = { bm: 128, bn: 128, bk: 8, rm: 8, rn: 8 };

/**
 * A grouped matmul's block (the experts of a mixture of experts): its rows are one group's
 * tile (16 or 32 rows sharing an expert), 4 per invocation, so each k still reads one
 * 4-vector of A and two of B for 32 multiply-adds.
 */
export function groupedGpuTile(tileRows: number): GpuTile {
  return { bm: tileRows, bn: 128, bk: 8, rm: 4, rn: 8 };
}

const threadsOf = (t: GpuTile) => (t.bm / t.rm) * (t.bn / t.rn);

/** The GPU template's block for `spec`, or undefined where it does not apply (small matmuls, a device too small). */
export function gpuTile(spec: MatmulSpec, target: Target): GpuTile | undefined {
  const g = spec.grouped;
  const tile = g ? (g.tileRows % 4 === 0 && g.tileRows >= 8 ? groupedGpuTile(g.tileRows) : undefined) : spec.m >= 64 ? GPU_TILE : undefined;
  if (!tile || spec.n < 64) return undefined;
  const threads = threadsOf(tile);
  const fits =
    threads <= target.limits.maxComputeInvocationsPerWorkgroup &&
    threads <= target.limits.maxComputeWorkgroupSizeX &&
    (tile.bm + tile.bn) * tile.bk * 4 <= target.limits.maxComputeWorkgroupStorageSize;
  return fits ? tile : undefined;
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
  /** Its strides along `along` and along k, and its batch bases' alignment, where it has strides. */
  readonly strides?: { readonly along: number; readonly k: number; readonly baseAlign: number };
}

function readMode(s: Omit<Side, "mode">): ReadMode {
  const four = (x: number) => x % 4 === 0;
  const st = s.strides;
  if (!st || !four(st.baseAlign)) return "scalar";
  if (st.along === 1 && four(st.k) && four(s.extent)) return "along4";
  if (st.k === 1 && four(st.along) && four(s.k)) return "k4";
  return "scalar";
}

export function gpuMatmul(spec: MatmulSpec, target: Target, tile: GpuTile): Kernel {
  const { bm, bn, bk, rm, rn } = tile;
  const threads = threadsOf(tile);
  const { m: M, n: N, k: K } = spec;
  const t = scalarType(spec);
  const zero = lit(t, 0);
  const tilesN = Math.ceil(N / bn), tilesM = Math.ceil(M / bm);
  const groups = spec.batch * tilesM * tilesN;
  const grid = gridFor(groups, target);

  const a = spec.lhs.strides, bs = spec.rhs.strides;
  const sideA: Omit<Side, "mode"> = {
    operand: spec.lhs, shared: "As", along: bm, extent: M, k: K, at: (m, k) => [m, k],
    ...(a ? { strides: { along: a.row, k: a.col, baseAlign: a.baseAlign } } : {}),
  };
  const sideB: Omit<Side, "mode"> = {
    operand: spec.rhs, shared: "Bs", along: bn, extent: N, k: K, at: (n, k) => [k, n],
    ...(bs ? { strides: { along: bs.col, k: bs.row, baseAlign: bs.baseAlign } } : {}),
  };
  const lhsRow = spec.grouped?.lhsRow;
  // A gathered row is one row: its 4-vectors can run along k, not across rows.
  let modeA = readMode(sideA), modeB = readMode(sideB);
  if (lhsRow && modeA === "along4") modeA = "scalar";
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
  // Invocation (ty, tx) owns rows ty·rm .. ty·rm+rm-1 and columns tx·rn .. tx·rn+rn-1 of the block.
  const tx = b.let("tx", irem(tid, u32(bn / rn)));
  const ty = b.let("ty", idiv(tid, u32(bn / rn)));

  const stagers = [stager(b, A, m0, batch, t, tile, threads, lhsRow), stager(b, B, n0, rhsBatch, t, tile, threads)];
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
      const quarters = (n: number) => Array.from({ length: n / 4 }, (_, h) => h);
      const av = quarters(rm).flatMap((h) => body.load4(`a${kk}_${h}`, t, "As", u32Add(imul(ty, u32(rm / 4)), kk * (bm / 4) + h)));
      const bv = quarters(rn).flatMap((h) => body.load4(`b${kk}_${h}`, t, "Bs", u32Add(imul(tx, u32(rn / 4)), kk * (bn / 4) + h)));
      for (let i = 0; i < rm; i++) for (let j = 0; j < rn; j++) body.assign(acc[i]![j]!, madd(acc[i]![j]!, av[i]!, bv[j]!));
    }
    body.barrier();
    for (const s of stagers) s.store(body);
    body.barrier();
  }, bk);

  const out = new OutputWriter(spec, b, batch, rhsBatch);
  const outRow = spec.grouped?.outRow;
  for (let i = 0; i < rm; i++) {
    const row = b.let(`row${i}`, iadd(m0, u32Add(imul(ty, u32(rm)), i)));
    b.if(lt(row, u32(M)), (r) => {
      // A scattered row is stored where the map says, if it is stored at all.
      const to = outRow ? outRow(r, row) : undefined;
      const storeRow = (w: BodyBuilder, at: Expr) => {
        for (let j = 0; j < rn; j++) {
          const col = w.let(`col${i}_${j}`, iadd(n0, u32Add(imul(tx, u32(rn)), j)));
          w.if(lt(col, u32(N)), (x) => x.store(spec.out, out.linear(at, col), out.value(x, acc[i]![j]!, at, col)));
        }
      };
      if (to) r.if(to.store, (w) => storeRow(w, to.row));
      else storeRow(r, row);
    });
  }

  return {
    name: spec.name,
    source: spec.source,
    bindings: kernelBindings(spec, vec4),
    workgroupSize: [threads, 1, 1],
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
 * registers (four per quad an invocation moves, zero past the edges), `store` writes them
 * to workgroup memory. The tile's along × bk elements are quads spread over the invocations.
 */
function stager(
  b: BodyBuilder, s: Side, origin: Expr, batch: Expr, t: Scalar, tile: GpuTile, threads: number,
  gather?: (b: BodyBuilder, row: Expr) => Expr,
) {
  const zero = lit(t, 0);
  const tid = id("local", 0);
  const q4 = s.along / 4, kq = tile.bk / 4;
  const quads = (s.along * tile.bk) / 4;
  const name = s.operand.name;
  const base = s.mode === "scalar" ? undefined : b.let(`${s.shared}_base4`, idiv(s.operand.addr(b, batch, u32(0), u32(0)), u32(4)));
  const parts = Array.from({ length: Math.ceil(quads / threads) }, (_, l) => {
    const q = l === 0 ? tid : b.let(`${s.shared}_q${l}`, iadd(tid, u32(l * threads)));
    // Where this quad sits in the tile: (along, k) of its first element.
    let along: Expr, kOff: Expr;
    if (s.mode === "k4") {
      // Neighbouring invocations read one row's k values (32 contiguous bytes for bk = 8).
      along = b.let(`${s.shared}_along${l}`, idiv(q, u32(kq)));
      kOff = b.let(`${s.shared}_k${l}`, imul(irem(q, u32(kq)), u32(4)));
    } else {
      // Consecutive invocations read consecutive 4-vectors along m / n.
      along = b.let(`${s.shared}_along${l}`, imul(irem(q, u32(q4)), u32(4)));
      kOff = b.let(`${s.shared}_k${l}`, idiv(q, u32(q4)));
    }
    const gAlong = b.let(`${s.shared}_g${l}`, iadd(origin, along));
    // A gathered operand's rows, looked up once, not per k slice (clamped: only rows inside are read).
    const rows = gather
      ? (s.mode === "k4" ? [0] : [0, 1, 2, 3]).map((c) => b.let(`${s.shared}_row${l}_${c}`, gather(b, bin("min", u32Add(gAlong, c), u32(s.extent - 1)))))
      : undefined;
    return {
      // A part past the tile (fewer quads than invocations) moves nothing.
      live: (l + 1) * threads > quads ? lt(q, u32(quads)) : undefined,
      along, kOff, gAlong,
      /** The operand's row for element c of the quad (along m): gathered, or its own. */
      row: (c: number) => (rows ? rows[c]! : u32Add(gAlong, c)),
      rowBase4: s.mode === "k4" ? b.let(`${s.shared}_at${l}`, iadd(base!, imul(rows ? rows[0]! : gAlong, u32(s.strides!.along / 4)))) : undefined,
      regs: [0, 1, 2, 3].map((c) => b.var(`${s.shared}_r${l}_${c}`, zero)),
    };
  });

  const fetch = (body: BodyBuilder, k0: Expr) => {
    for (const [l, p] of parts.entries()) {
      const gk = body.let(`${s.shared}_gk${l}`, iadd(k0, p.kOff));
      for (const r of p.regs) body.assign(r, zero);
      const inTile = (x: Expr) => (p.live ? and(p.live, x) : x);
      if (s.mode === "scalar") {
        for (let c = 0; c < 4; c++) {
          const al = u32Add(p.gAlong, c);
          body.if(inTile(and(lt(al, u32(s.extent)), lt(gk, u32(s.k)))), (x) => {
            const [r, col] = s.at(p.row(c), gk);
            x.assign(p.regs[c]!, operandAt(t, s.operand, x, batch, r, col));
          });
        }
        continue;
      }
      // A whole 4-vector is inside or outside: its axis' extent is a multiple of 4.
      body.if(inTile(and(lt(p.gAlong, u32(s.extent)), lt(gk, u32(s.k)))), (x) => {
        const index = s.mode === "along4"
          ? iadd(base!, iadd(imul(gk, u32(s.strides!.k / 4)), idiv(p.gAlong, u32(4))))
          : iadd(p.rowBase4!, idiv(gk, u32(4)));
        const v = x.load4(`${s.shared}_v${l}`, t, name, index);
        p.regs.forEach((r, c) => x.assign(r, v[c]!));
      });
    }
  };

  const store = (body: BodyBuilder) => {
    for (const p of parts) {
      const put = (x: BodyBuilder) => {
        if (s.mode === "k4") {
          // Four k values of one row or column: one element in each of four k rows of the tile.
          for (let c = 0; c < 4; c++) x.storeElement(s.shared, iadd(imul(u32Add(p.kOff, c), u32(s.along)), p.along), p.regs[c]!);
        } else x.store4(s.shared, iadd(imul(p.kOff, u32(q4)), idiv(p.along, u32(4))), p.regs as [Expr, Expr, Expr, Expr]);
      };
      if (p.live) body.if(p.live, put);
      else put(body);
    }
  };
  return { fetch, store };
}
