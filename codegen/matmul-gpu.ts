/**
 * The GPU matmul template: a 128×128 block of C per workgroup of 256 invocations, 8×8 of it
 * per invocation, k staged 8 deep through workgroup memory. It is the upper part of the
 * well-known SGEMM ladder (Volkov & Demmel 2008; the CUTLASS scheme; Boehm's "How to
 * optimize a CUDA matmul kernel" worklog, kernels 5–6 and 9): each invocation keeps 64
 * accumulators in registers and, per k, reads its 8 values of A and 8 of B as two 16-byte
 * vectors each from workgroup memory, so every shared-memory load feeds 16 multiply-adds.
 *
 * - Tiles are stored k-major as 4-vectors along m (A, stored transposed) and along n (B):
 *   As4[k][m/4], Bs4[k][n/4]. An invocation's 8 rows and 8 columns are consecutive, so its
 *   reads are 128-bit and the 32 lanes of a warp read 16 distinct vectors of B and 2 of A
 *   (broadcast) per k.
 * - Global reads are 16-byte vectors where the operand's layout allows (a unit-stride axis
 *   whose extent, other strides and batch bases are multiples of 4): along k (A row-major,
 *   B transposed) or along m / n. Other operands (odd sizes, per-element reads of pads and
 *   concatenations) are read element by element.
 * - One buffer (WGSL; CUDA before sm_80): the next k slice is prefetched into registers
 *   while the current one is multiplied (its global loads are in flight during 512
 *   multiply-adds), then stored after a barrier; a vector read along k is scattered into
 *   four k rows of the tile. 8 KiB of workgroup memory.
 * - Two buffers (targets with `asyncCopy`: CUDA sm_80+, cp.async): the next slice is copied
 *   straight from global memory into the other buffer while this one is multiplied, and a
 *   wait and one barrier end each slice, so no buffer is overwritten while it is read.
 *   16 KiB for the dense block. A 16-byte copy cannot scatter, so an operand read along k
 *   keeps its tile as 4-vectors along k (As4[m][k/4], see TileLayout) and the multiply reads
 *   one vector per row for four k: still 16 multiply-adds per 128-bit shared load. Operands
 *   read element by element copy 4 bytes at a time; operands that are no load of one buffer
 *   (pads, concatenations: computed values) cannot be copied, so they go through registers
 *   as above, stored into the other buffer after the multiply.
 * - Edges: loads past M, N or K read zero, stores past M or N are masked, so any shape is
 *   exact; the epilogue (the fusion hook) runs on each stored element.
 */
import { gridFor, groupIndex } from "./indexing.js";
import { type Expr, type Kernel, type Scalar, BodyBuilder, and, bin, iadd, id, idiv, imul, irem, isub, lit, lt, u32 } from "./kernel.js";
import { type MatmulOperand, type MatmulSpec, OutputWriter, kBounds, kernelBindings, madd, operandAt, scalarType, tileOrigin } from "./matmul-spec.js";
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

/**
 * Where one stage of a tile sits in its shared array of 4-vectors (`entries` of them).
 * "along": [k][along/4], the vectors run along m / n. "k": [along][k/4], the vectors run
 * along k, and the r rows (columns) one invocation reads form a block of `block` entries:
 * r·bk/4 and, for B, one unused entry. The lanes of a quarter warp (one 128-bit shared-load
 * phase) read B columns r apart, 256 bytes apart without the pad, all in the same banks; they
 * share their rows of A (a broadcast), so A needs none.
 */
type TileLayout =
  | { readonly kind: "along"; readonly entries: number }
  | { readonly kind: "k"; readonly entries: number; readonly block: number };

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
  /** An invocation's rows (columns) of the block: its register block along this side. */
  readonly r: number;
  readonly layout: TileLayout;
  /** How a slice reaches the tile: cp.async copies, or loads into registers stored later. */
  readonly copy: "async" | "registers";
}

type Operand = Omit<Side, "mode" | "r" | "layout" | "copy">;

function readMode(s: Operand): ReadMode {
  const four = (x: number) => x % 4 === 0;
  const st = s.strides;
  if (!st || !four(st.baseAlign)) return "scalar";
  if (st.along === 1 && four(st.k) && four(s.extent)) return "along4";
  if (st.k === 1 && four(st.along) && four(s.k)) return "k4";
  return "scalar";
}

/** A and B as the template reads them, for tiles of one buffer or two (`stages`). */
function operandSides(spec: MatmulSpec, tile: GpuTile, stages: 1 | 2): [Side, Side] {
  const a = spec.lhs.strides, bs = spec.rhs.strides;
  const sideA: Operand = {
    operand: spec.lhs, shared: "As", along: tile.bm, extent: spec.m, k: spec.k, at: (m, k) => [m, k],
    ...(a ? { strides: { along: a.row, k: a.col, baseAlign: a.baseAlign } } : {}),
  };
  const sideB: Operand = {
    operand: spec.rhs, shared: "Bs", along: tile.bn, extent: spec.n, k: spec.k, at: (n, k) => [k, n],
    ...(bs ? { strides: { along: bs.col, k: bs.row, baseAlign: bs.baseAlign } } : {}),
  };
  // A gathered row is one row: its 4-vectors can run along k, not across rows.
  let modeA = readMode(sideA), modeB = readMode(sideB);
  if (spec.grouped?.lhsRow && modeA === "along4") modeA = "scalar";
  // One buffer read as both operands is one binding: one element type for both.
  if (spec.lhs.name === spec.rhs.name && (modeA === "scalar") !== (modeB === "scalar")) modeA = modeB = "scalar";
  const side = (s: Operand, mode: ReadMode, r: number, pad: number): Side => {
    const block = (r * tile.bk) / 4 + pad;
    const layout: TileLayout = stages === 2 && mode === "k4"
      ? { kind: "k", block, entries: (s.along / r) * block }
      : { kind: "along", entries: (s.along * tile.bk) / 4 };
    return { ...s, mode, r, layout, copy: stages === 2 && !s.operand.read ? "async" : "registers" };
  };
  return [side(sideA, modeA, tile.rm, 0), side(sideB, modeB, tile.rn, 1)];
}

/** Two stages where the target copies asynchronously and both fit in its workgroup memory. */
function stagesFor(spec: MatmulSpec, target: Target, tile: GpuTile): 1 | 2 {
  if (!target.features.asyncCopy) return 1;
  const bytes = 2 * 16 * operandSides(spec, tile, 2).reduce((n, s) => n + s.layout.entries, 0);
  return bytes <= target.limits.maxComputeWorkgroupStorageSize ? 2 : 1;
}

export function gpuMatmul(spec: MatmulSpec, target: Target, tile: GpuTile): Kernel {
  const { bm, bn, bk, rm, rn } = tile;
  const threads = threadsOf(tile);
  const t = scalarType(spec);
  const zero = lit(t, 0);
  const tilesN = Math.ceil(spec.n / bn), tilesM = Math.ceil(spec.m / bm);
  const groups = spec.batch * tilesM * tilesN;
  const grid = gridFor(groups, target);
  const stages = stagesFor(spec, target, tile);
  const [A, B] = operandSides(spec, tile, stages);
  const vec4 = new Set<string>();
  if (A.mode !== "scalar") vec4.add(spec.lhs.name);
  if (B.mode !== "scalar") vec4.add(spec.rhs.name);
  const async = A.copy === "async" || B.copy === "async";

  const b = new BodyBuilder();
  const wg = groupIndex(b, "wg", grid, groups);
  const { tileN, batch, rhsBatch, m0 } = tileOrigin(spec, b, wg, tilesM, tilesN, bm);
  const n0 = b.let("n0", imul(tileN, u32(bn)));
  const tid = b.let("tid", id("local", 0));
  // Invocation (ty, tx) owns rows ty·rm .. ty·rm+rm-1 and columns tx·rn .. tx·rn+rn-1 of the block.
  const tx = b.let("tx", irem(tid, u32(bn / rn)));
  const ty = b.let("ty", idiv(tid, u32(bn / rn)));

  const stagers = [stager(b, A, m0, batch, t, tile, threads, spec.grouped?.lhsRow), stager(b, B, n0, rhsBatch, t, tile, threads)];
  const { start: kStart, end: kEnd } = kBounds(spec, b, batch, bk);
  // The first slice: copied into stage 0, visible to all.
  for (const s of stagers) s.begin(b, kStart, u32(0));
  for (const s of stagers) s.end(b, u32(0));
  if (async) {
    b.copyCommit();
    b.copyWait(0);
  }
  b.barrier();

  const acc: Expr[][] = Array.from({ length: rm }, (_, i) => Array.from({ length: rn }, (_, j) => b.var(`acc_${i}_${j}`, zero)));
  // The stage slice k0 sits in, flipped per slice. (Derived from k0 instead, it cost the one
  // register by which W5's GELU matmul spilled under the 128-register cap below.)
  const stage = stages === 2 ? b.var("stage", u32(0)) : u32(0);
  b.for("k0", kStart, kEnd, (k0, body) => {
    // The next slice is on its way (global loads or copies issued) before this slice's arithmetic.
    const next = body.let("k_next", iadd(k0, u32(bk)));
    const nextStage = stages === 2 ? body.let("stage_next", isub(u32(1), stage)) : u32(0);
    for (const s of stagers) s.begin(body, next, nextStage);
    if (async) body.copyCommit();
    multiplySlice(body, A, B, stage, ty, tx, acc, t, bk);
    // With one buffer, every invocation is done reading it before it is overwritten.
    if (stages === 1) body.barrier();
    for (const s of stagers) s.end(body, nextStage);
    if (async) body.copyWait(0);
    body.barrier();
    if (stages === 2) body.assign(stage, nextStage);
  }, bk);

  storeBlock(b, spec, new OutputWriter(spec, b, batch, rhsBatch), acc, m0, n0, ty, tx);

  return {
    name: spec.name,
    source: spec.source,
    bindings: kernelBindings(spec, vec4),
    workgroupSize: [threads, 1, 1],
    grid,
    // Two blocks per SM, so that one multiplies while the other waits at its barrier: ptxas
    // would otherwise take a few registers past half the file (up to 145 for W5's second matmul).
    minResidentWorkgroups: 2,
    shared: [
      { name: "As", t, size: stages * A.layout.entries, width: 4 },
      { name: "Bs", t, size: stages * B.layout.entries, width: 4 },
    ],
    body: b.stmts,
  };
}

const u32Add = (e: Expr, c: number): Expr => (c === 0 ? e : iadd(e, u32(c)));

/** Stores the invocation's block of C (rows from m0 + ty·rm, columns from n0 + tx·rn) through the epilogue, masked at the edges. */
function storeBlock(b: BodyBuilder, spec: MatmulSpec, out: OutputWriter, acc: Expr[][], m0: Expr, n0: Expr, ty: Expr, tx: Expr): void {
  const rm = acc.length, rn = acc[0]!.length;
  const outRow = spec.grouped?.outRow;
  for (let i = 0; i < rm; i++) {
    const row = b.let(`row${i}`, iadd(m0, u32Add(imul(ty, u32(rm)), i)));
    b.if(lt(row, u32(spec.m)), (r) => {
      // A scattered row is stored where the map says, if it is stored at all.
      const to = outRow ? outRow(r, row) : undefined;
      const storeRow = (w: BodyBuilder, at: Expr) => {
        for (let j = 0; j < rn; j++) {
          const col = w.let(`col${i}_${j}`, iadd(n0, u32Add(imul(tx, u32(rn)), j)));
          w.if(lt(col, u32(spec.n)), (x) => x.store(spec.out, out.linear(at, col), out.value(x, acc[i]![j]!, at, col)));
        }
      };
      if (to) r.if(to.store, (w) => storeRow(w, to.row));
      else storeRow(r, row);
    });
  }
}

/** acc += the invocation's part of the slice in `stage`: per k, its rm values of A times its rn values of B. */
function multiplySlice(body: BodyBuilder, A: Side, B: Side, stage: Expr, ty: Expr, tx: Expr, acc: Expr[][], t: Scalar, bk: number): void {
  const a = ownValues(body, A, stage, ty, t, bk, "a"), b = ownValues(body, B, stage, tx, t, bk, "b");
  for (let kq = 0; kq < bk / 4; kq++) {
    const aq = a(kq), bq = b(kq);
    for (let kk = 0; kk < 4; kk++) {
      const av = aq(kk), bv = bq(kk);
      for (let i = 0; i < A.r; i++) for (let j = 0; j < B.r; j++) body.assign(acc[i]![j]!, madd(acc[i]![j]!, av[i]!, bv[j]!));
    }
  }
}

/**
 * An invocation's r values of one operand, read from the tile in `stage` (`own` is ty or
 * tx), as kq ↦ kk ↦ its values at k = 4·kq + kk. Vectors along k hold four k each, so their
 * r loads are issued once per kq; vectors along m / n hold four rows (columns), so r/4 loads
 * are issued per k, when it is reached.
 */
function ownValues(body: BodyBuilder, s: Side, stage: Expr, own: Expr, t: Scalar, bk: number, hint: string) {
  const { r, layout } = s;
  const at = iadd(imul(stage, u32(layout.entries)), imul(own, u32(layout.kind === "k" ? layout.block : r / 4)));
  const from = body.let(`${hint}_from`, at);
  return (kq: number) => {
    if (layout.kind === "k") {
      const rows = Array.from({ length: r }, (_, i) => body.load4(`${hint}${kq}_r${i}`, t, s.shared, u32Add(from, i * (bk / 4) + kq)));
      return (kk: number) => rows.map((v) => v[kk]!);
    }
    return (kk: number) => {
      const k = 4 * kq + kk;
      return Array.from({ length: r / 4 }, (_, h) => h).flatMap((h) => body.load4(`${hint}${k}_${h}`, t, s.shared, u32Add(from, k * (s.along / 4) + h)));
    };
  };
}

/**
 * Moves one operand's k slices into its tile; the tile's along × bk elements are quads spread
 * over the invocations. `begin` starts moving the slice at k0 into `stage` (async copies, or
 * loads into four registers per quad, zero past the edges), `end` finishes it (stores those
 * registers; nothing for copies, which the caller waits for).
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
  const layout = s.layout;
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
    // The quad's 4-vector in one stage of the tile (none for a quad along k scattered into an "along" tile).
    const slot = layout.kind === "k"
      ? iadd(iadd(imul(idiv(along, u32(s.r)), u32(layout.block)), imul(irem(along, u32(s.r)), u32(kq))), idiv(kOff, u32(4)))
      : s.mode === "k4" ? undefined : iadd(imul(kOff, u32(q4)), idiv(along, u32(4)));
    return {
      // A part past the tile (fewer quads than invocations) moves nothing.
      live: (l + 1) * threads > quads ? lt(q, u32(quads)) : undefined,
      along, kOff, gAlong,
      slot: slot && b.let(`${s.shared}_slot${l}`, slot),
      /** The operand's row for element c of the quad (along m): gathered, or its own. */
      row: (c: number) => (rows ? rows[c]! : u32Add(gAlong, c)),
      rowBase4: s.mode === "k4" ? b.let(`${s.shared}_at${l}`, iadd(base!, imul(rows ? rows[0]! : gAlong, u32(s.strides!.along / 4)))) : undefined,
      regs: s.copy === "registers" ? [0, 1, 2, 3].map((c) => b.var(`${s.shared}_r${l}_${c}`, zero)) : [],
    };
  });
  type Part = (typeof parts)[number];

  /** Whether element c of the quad (or, with c undefined, the whole 4-vector) lies inside the operand at k = gk. */
  const inside = (p: Part, gk: Expr, c = 0) => and(lt(u32Add(p.gAlong, c), u32(s.extent)), lt(gk, u32(s.k)));
  /** The quad's 4-vector in the operand's vector binding, at k = gk. */
  const vectorAt = (p: Part, gk: Expr) => s.mode === "along4"
    ? iadd(base!, iadd(imul(gk, u32(s.strides!.k / 4)), idiv(p.gAlong, u32(4))))
    : iadd(p.rowBase4!, idiv(gk, u32(4)));
  const forLive = (body: BodyBuilder, p: Part, f: (x: BodyBuilder) => void) => (p.live ? body.if(p.live, f) : f(body));

  const fetch = (body: BodyBuilder, k0: Expr) => {
    for (const [l, p] of parts.entries()) {
      const gk = body.let(`${s.shared}_gk${l}`, iadd(k0, p.kOff));
      for (const r of p.regs) body.assign(r, zero);
      const inTile = (x: Expr) => (p.live ? and(p.live, x) : x);
      if (s.mode === "scalar") {
        for (let c = 0; c < 4; c++) {
          body.if(inTile(inside(p, gk, c)), (x) => {
            const [r, col] = s.at(p.row(c), gk);
            x.assign(p.regs[c]!, operandAt(t, s.operand, x, batch, r, col));
          });
        }
        continue;
      }
      // A whole 4-vector is inside or outside: its axis' extent is a multiple of 4.
      body.if(inTile(inside(p, gk)), (x) => {
        const v = x.load4(`${s.shared}_v${l}`, t, name, vectorAt(p, gk));
        p.regs.forEach((r, c) => x.assign(r, v[c]!));
      });
    }
  };

  const store = (body: BodyBuilder, stage: Expr) => {
    const at = imul(stage, u32(layout.entries));
    for (const p of parts) {
      forLive(body, p, (x) => {
        if (s.mode === "k4" && layout.kind === "along") {
          // Four k values of one row or column: one element in each of four k rows of the tile.
          for (let c = 0; c < 4; c++) x.storeElement(s.shared, iadd(imul(at, u32(4)), iadd(imul(u32Add(p.kOff, c), u32(s.along)), p.along)), p.regs[c]!);
        } else x.store4(s.shared, iadd(at, p.slot!), p.regs as [Expr, Expr, Expr, Expr]);
      });
    }
  };

  /** Copies the slice at k0 into `stage` without registers: one 16-byte copy per quad, or four of 4 bytes. */
  const copy = (body: BodyBuilder, k0: Expr, stage: Expr) => {
    const at = body.let(`${s.shared}_stage_at`, imul(stage, u32(layout.entries)));
    for (const [l, p] of parts.entries()) {
      const gk = body.let(`${s.shared}_gk${l}`, iadd(k0, p.kOff));
      const to = iadd(at, p.slot!);
      // A part past the tile must not copy at all: a zero-filling copy still writes its slot.
      forLive(body, p, (x) => {
        if (s.mode !== "scalar") return x.copyAsync(t, 16, s.shared, to, name, vectorAt(p, gk), inside(p, gk));
        for (let c = 0; c < 4; c++) {
          const [r, col] = s.at(p.row(c), gk);
          x.copyAsync(t, 4, s.shared, u32Add(imul(to, u32(4)), c), name, s.operand.addr(x, batch, r, col), inside(p, gk, c));
        }
      });
    }
  };

  return {
    begin: (body: BodyBuilder, k0: Expr, stage: Expr) => (s.copy === "async" ? copy(body, k0, stage) : fetch(body, k0)),
    end: (body: BodyBuilder, stage: Expr) => (s.copy === "async" ? undefined : store(body, stage)),
  };
}
