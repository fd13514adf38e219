/**
 * The GPU family's FlashAttention-2 forward (Dao 2023, §3.1) as two register-blocked
 * products per key tile, the way the GPU matmul (codegen/matmul-gpu.ts) blocks one: Q, K, V
 * and P sit in workgroup memory as 4-vectors, and each invocation owns a 4-row block of the
 * scores S = Q·Kᵀ (4 rows × `keys` keys) and of the output O += P·V (the same 4 rows ×
 * `cols` value columns). Every 128-bit shared load then feeds 8 or more multiply-adds, and
 * scores and accumulators are named registers: no per-invocation array is left for the
 * compiler to put on a stack.
 *
 * The `G` invocations that share a block of rows combine their rows' maxima (and, at the
 * end, their partial sums) through workgroup memory, so each keeps the same running max m;
 * the accumulator is rescaled once per tile and divided once at the end, and scores are in
 * log2 units (attention-spec.ts). Head widths whose tiles do not fit the target's
 * workgroup storage (d = 256 within 48 KiB) keep the one-row template (codegen/attention.ts).
 * Bias and mask are read per score, 32 bits at a time.
 */
import {
  MASKED, type FlashSpec, type RowLayout, clampTo, keyTiles, naturalLse, probability, quarterRows, queryRowTile, rowStart, rowsAligned4, scoreAt, scoreMax,
} from "./attention-spec.js";
import { type Expr, type Kernel, type SharedArray, BodyBuilder, bin, call, f32, iadd, id, idiv, imul, irem, load, lt, u32 } from "./kernel.js";
import type { Target } from "./target.js";

/** Query rows per invocation: P is stored key-major, so the four rows of one key are one 4-vector. */
const ROWS = 4;
/** The most value columns per invocation: 4 × 20 accumulators (dv = 80 over 4 invocations) stay in registers beside 4 × 8 scores. */
const MAX_COLS = 20;

/** The blocking of one workgroup: BQ query rows, key tiles of BK, G invocations per 4 rows. */
export interface AttentionBlocking {
  readonly BQ: number;
  readonly BK: number;
  readonly G: number;
  /** Keys of a tile per invocation (BK / G) and value columns per invocation (dv / G). */
  readonly keys: number;
  readonly cols: number;
}

const threadsOf = (t: AttentionBlocking) => (t.BQ / ROWS) * t.G;

/** Workgroup arrays, in 4-vectors: Q (each 4-row block padded by one 4-vector against bank conflicts), K, V, P, and the row partials. */
function sharedArrays(spec: FlashSpec, t: AttentionBlocking): SharedArray[] {
  const quads = (name: string, size: number): SharedArray => ({ name, t: "f32", size, width: 4 });
  return [
    quads("Qs", (t.BQ / ROWS) * (spec.d + 1)),
    quads("Ks", (t.BK * spec.d) / 4),
    quads("Vs", (t.BK * spec.dv) / 4),
    quads("Ps", (t.BK * t.BQ) / 4),
    quads("Rs", (t.G * t.BQ) / 4),
  ];
}

const sharedBytes = (spec: FlashSpec, t: AttentionBlocking) => sharedArrays(spec, t).reduce((n, a) => n + 16 * a.size, 0);

/**
 * Multiply-adds per 128-bit shared load over one key tile, per invocation: S takes 4 + keys
 * loads per 4 head dims, the row maxima G, and O 1 + cols/4 per key.
 */
function fmasPerLoad(spec: FlashSpec, t: AttentionBlocking): number {
  const fmas = ROWS * t.keys * spec.d + ROWS * t.cols * t.BK;
  return fmas / ((spec.d / 4) * (ROWS + t.keys) + t.G + t.BK * (1 + t.cols / 4));
}

/**
 * The blocking with the most multiply-adds per shared load (then the most query rows × keys
 * per tile) whose tiles fit the target's workgroup storage and invocation limit, or
 * undefined when the head widths are not multiples of 4 or none fits.
 */
export function attentionBlocking(spec: FlashSpec, target: Target): AttentionBlocking | undefined {
  return attentionBlockings(spec, target)[0];
}

/** Every blocking that fits, best first (attentionBlocking's order): what the autotuner may time. */
export function attentionBlockings(spec: FlashSpec, target: Target): AttentionBlocking[] {
  if (spec.d % 4 || spec.dv % 4) return [];
  const { maxComputeWorkgroupStorageSize: bytes, maxComputeInvocationsPerWorkgroup: invocations, maxComputeWorkgroupSizeX: width } = target.limits;
  const fits = (t: AttentionBlocking) =>
    t.cols % 4 === 0 && t.cols <= MAX_COLS && threadsOf(t) <= Math.min(invocations, width) && sharedBytes(spec, t) <= bytes;
  const candidates = [64, 32, 16].flatMap((BQ) => [64, 32, 16].flatMap((BK) => [8, 4].map((keys) => ({ BQ, BK, G: BK / keys, keys, cols: spec.dv / (BK / keys) }))));
  const rank = (t: AttentionBlocking) => [fmasPerLoad(spec, t), t.BQ * t.BK];
  // Stable: among equals the earlier candidate stays first, as the reduction it replaces kept it.
  return candidates.filter(fits).map((t, i) => ({ t, r: rank(t), i }))
    .sort((x, y) => y.r[0]! - x.r[0]! || y.r[1]! - x.r[1]! || x.i - y.i).map((x) => x.t);
}

/** Where an operand's rows are read from, 16 bytes at a time when they are aligned for it. */
interface Rows {
  readonly name: string;
  readonly layout: RowLayout;
  readonly vec4: boolean;
}

/**
 * Copies `count` rows of `width` floats of `src`, from row `first` of row group `group` (rows
 * past `length` read the last row), to a workgroup array of 4-vectors: row i's elements from
 * 4-vector `at(i)`. The workgroup strides over 4-vectors (or elements) from `tid`.
 */
function stage(
  x: BodyBuilder, src: Rows, shared: string, at: (i: Expr) => Expr,
  rows: { group: Expr; first: Expr; count: number; length: number; width: number }, tid: Expr, threads: number,
): void {
  const { group, first, count, length, width } = rows;
  const per = src.vec4 ? width / 4 : width;
  x.for("e", tid, u32(count * per), (e, y) => {
    const i = idiv(e, u32(per)), c = irem(e, u32(per));
    const row = clampTo(iadd(first, i), length);
    if (src.vec4) y.store4(shared, iadd(at(i), c), y.load4(`${src.name}4`, "f32", src.name, iadd(rowStart(quarterRows(src.layout), group, row), c)));
    else y.storeElement(shared, iadd(imul(at(i), u32(4)), c), load("f32", src.name, iadd(rowStart(src.layout, group, row), c)));
  }, threads);
}

const fma = (a: Expr, b: Expr, c: Expr) => call("fma", a, b, c);

/** The invocation's place: its 4-row block `rb` of the workgroup's rows and its share `part` (0..G) of keys and columns. */
interface Place {
  readonly g: Expr;
  readonly rb: Expr;
  readonly part: Expr;
  /** Its four rows, and the same clamped to the last row (for addresses). */
  readonly rows: readonly Expr[];
  readonly rowsC: readonly Expr[];
}

/** Key i of the invocation's share of a tile, counted in the tile: interleaved, so a warp's K and P accesses hit few rows. */
const keyOf = (t: AttentionBlocking, p: Place, i: number) => iadd(p.part, u32(t.G * i));

/** S = Q·Kᵀ for the invocation's 4 rows × `keys` keys: per 4-vector of the head dim, 4 + keys 128-bit loads feed 16 · keys FMAs. */
function scoreBlock(x: BodyBuilder, spec: FlashSpec, t: AttentionBlocking, p: Place): Expr[][] {
  const D4 = spec.d / 4;
  const dots = Array.from({ length: ROWS }, () => Array.from({ length: t.keys }, () => x.var("dot", f32(0))));
  const keyAt = Array.from({ length: t.keys }, (_, i) => x.let("k_at", imul(keyOf(t, p, i), u32(D4))));
  const qAt = x.let("q_at", imul(p.rb, u32(spec.d + 1)));
  x.for("d4", u32(0), u32(D4), (d4, y) => {
    const q = Array.from({ length: ROWS }, (_, r) => y.load4("q4", "f32", "Qs", iadd(qAt, iadd(u32(r * D4), d4))));
    keyAt.forEach((at, i) => {
      const k = y.load4("k4", "f32", "Ks", iadd(at, d4));
      dots.forEach((row, r) => y.assign(row[i]!, [0, 1, 2, 3].reduce<Expr>((acc, c) => fma(q[r]![c]!, k[c]!, acc), row[i]!)));
    });
  });
  return dots;
}

/**
 * The max of each row's scores over the tile, as all G invocations of its block see it:
 * each stores its 4 rows' maxima as a 4-vector, then reads the G vectors of its block.
 */
function tileMax(x: BodyBuilder, t: AttentionBlocking, p: Place, scores: readonly (readonly Expr[])[]): Expr[] {
  const own = scores.map((row) => row.reduce((m, s) => scoreMax(x, "mx", m, s)));
  return combine(x, t, p, own, (a, b) => scoreMax(x, "mx", a, b));
}

/**
 * Folds the G invocations' values of each of a block's 4 rows through the row-partials
 * array; the barriers that follow before its next use keep a fast invocation's next store
 * from overwriting what a slow one still reads.
 */
function combine(x: BodyBuilder, t: AttentionBlocking, p: Place, own: readonly Expr[], fold: (a: Expr, b: Expr) => Expr): Expr[] {
  const blocks = t.BQ / ROWS;
  x.store4("Rs", iadd(imul(p.part, u32(blocks)), p.rb), own as [Expr, Expr, Expr, Expr]);
  x.barrier();
  let all: Expr[] | undefined;
  for (let j = 0; j < t.G; j++) {
    const v = x.load4("r4", "f32", "Rs", iadd(u32(j * blocks), p.rb));
    all = all ? all.map((a, r) => fold(a, v[r]!)) : v.map((c) => x.let("r", c));
  }
  return all!;
}

/** O += P·V for the invocation's 4 rows × `cols` columns: per key, 1 + cols/4 128-bit loads feed 4 · cols FMAs. */
function valueBlock(x: BodyBuilder, spec: FlashSpec, t: AttentionBlocking, p: Place, acc: readonly (readonly Expr[])[]): void {
  const blocks = t.BQ / ROWS, Dv4 = spec.dv / 4;
  x.for("j", u32(0), u32(t.BK), (j, y) => {
    const pr = y.load4("p4", "f32", "Ps", iadd(imul(j, u32(blocks)), p.rb));
    const vAt = y.let("v_at", iadd(imul(j, u32(Dv4)), p.part));
    for (let q = 0; q < t.cols / 4; q++) {
      const v = y.load4("v4", "f32", "Vs", q === 0 ? vAt : iadd(vAt, u32(t.G * q)));
      acc.forEach((row, r) => v.forEach((vc, c) => y.assign(row[4 * q + c]!, fma(pr[r]!, vc, row[4 * q + c]!))));
    }
  });
}

/** One row's running max, sum and accumulator (per invocation: its share of the sum and of the columns). */
interface RowState {
  readonly m: readonly Expr[];
  readonly l: readonly Expr[];
  readonly acc: readonly (readonly Expr[])[];
}

/**
 * The online softmax over one tile (FlashAttention-2 §3.1): the rows' new max, the
 * accumulator and sum rescaled once by exp2(m − m_new), and the probabilities of the
 * invocation's scores, which it returns.
 */
function onlineSoftmax(x: BodyBuilder, t: AttentionBlocking, p: Place, scored: readonly (readonly { score: Expr; keep?: Expr }[])[], { m, l, acc }: RowState): Expr[][] {
  const mNew = tileMax(x, t, p, scored.map((row) => row.map((s) => s.score))).map((mt, r) => scoreMax(x, "m_new", m[r]!, mt));
  return scored.map((row, r) => {
    const alpha = x.let("alpha", call("exp2", bin("sub", m[r]!, mNew[r]!)));
    x.assign(m[r]!, mNew[r]!);
    acc[r]!.forEach((a) => x.assign(a, bin("mul", a, alpha)));
    const ps = row.map((s) => probability(x, s.score, mNew[r]!, s.keep));
    x.assign(l[r]!, ps.reduce((sum, pi) => bin("add", sum, pi), bin("mul", l[r]!, alpha)));
    return ps;
  });
}

/**
 * The tiled forward for a blocking that fits (attentionBlocking). Per key tile: stage K and
 * V; S for the invocation's block, with bias, mask and (on diagonal and tail tiles) bounds;
 * the rows' new max through workgroup memory; P stored key-major; the accumulator rescaled
 * once; O += P·V. `keyTiles` visits causal tiles up to the workgroup's last row only.
 */
export function tiledAttention(spec: FlashSpec, target: Target, t: AttentionBlocking): Kernel {
  const { sq, sk, d: D, dv: Dv, layout } = spec;
  const { b, grid, g, kvg, m0 } = queryRowTile(spec, target, t.BQ);
  const threads = threadsOf(t), blocks = t.BQ / ROWS;
  const tid = b.let("tid", id("local", 0));
  const rb = b.let("rb", irem(tid, u32(blocks)));
  const part = b.let("part", idiv(tid, u32(blocks)));
  const rows = Array.from({ length: ROWS }, (_, r) => b.let("row", iadd(m0, iadd(imul(rb, u32(ROWS)), u32(r)))));
  const p: Place = { g, rb, part, rows, rowsC: rows.map((r) => b.let("row_c", clampTo(r, sq))) };
  const vec = { q: rowsAligned4(layout.q), k: rowsAligned4(layout.k), v: rowsAligned4(layout.v), out: rowsAligned4(layout.out) };

  // Q once, each 4-row block's rows consecutive: row i at 4-vector (i/4)·(d+1) + (i%4)·d/4.
  const qAt = (i: Expr) => iadd(imul(idiv(i, u32(ROWS)), u32(D + 1)), imul(irem(i, u32(ROWS)), u32(D / 4)));
  stage(b, { name: "q", layout: layout.q, vec4: vec.q }, "Qs", qAt, { group: g, first: m0, count: t.BQ, length: sq, width: D }, tid, threads);
  const m = rows.map(() => b.var("m", f32(MASKED)));
  const l = rows.map(() => b.var("l", f32(0)));
  const acc = rows.map(() => Array.from({ length: t.cols }, () => b.var("acc", f32(0))));

  keyTiles(b, spec, m0, t.BQ, t.BK, (x, kb, bounds) => {
    const kv = { group: kvg, first: kb, count: t.BK, length: sk };
    stage(x, { name: "k", layout: layout.k, vec4: vec.k }, "Ks", (i) => imul(i, u32(D / 4)), { ...kv, width: D }, tid, threads);
    stage(x, { name: "v", layout: layout.v, vec4: vec.v }, "Vs", (i) => imul(i, u32(Dv / 4)), { ...kv, width: Dv }, tid, threads);
    x.barrier();
    const scored = scoreBlock(x, spec, t, p).map((row, r) =>
      row.map((dot, i) => scoreAt(x, spec, dot, g, p.rowsC[r]!, iadd(kb, keyOf(t, p, i)), bounds)));
    const probs = onlineSoftmax(x, t, p, scored, { m, l, acc });
    for (let i = 0; i < t.keys; i++)
      x.store4("Ps", iadd(imul(keyOf(t, p, i), u32(blocks)), rb), probs.map((row) => row[i]!) as [Expr, Expr, Expr, Expr]);
    x.barrier();
    valueBlock(x, spec, t, p, acc);
    x.barrier();
  });

  storeRows(b, spec, t, p, { m, l, acc }, vec.out);
  const vec4 = new Set(Object.entries(vec).filter(([, v]) => v).map(([name]) => name));
  return {
    name: spec.name, source: spec.source,
    bindings: spec.bindings.map((x) => (vec4.has(x.name) ? { ...x, width: 4 as const } : x)),
    workgroupSize: [threads, 1, 1], grid, shared: sharedArrays(spec, t), body: b.stmts,
  };
}

/** The row sums of the block's G invocations added, then each row's output divided once and its log-sum-exp stored. */
function storeRows(b: BodyBuilder, spec: FlashSpec, t: AttentionBlocking, p: Place, { m, l, acc }: RowState, outVec: boolean): void {
  const sums = combine(b, t, p, l, (a, c) => b.let("l_sum", bin("add", a, c)));
  p.rows.forEach((row, r) =>
    b.if(lt(row, u32(spec.sq)), (x) => {
      const inv = x.let("inv", bin("div", f32(1), sums[r]!));
      const base = x.let("out_base", rowStart(outVec ? quarterRows(spec.layout.out) : spec.layout.out, p.g, row));
      for (let q = 0; q < t.cols / 4; q++) {
        const at = iadd(p.part, u32(t.G * q));
        const values = [0, 1, 2, 3].map((c) => bin("mul", acc[r]![4 * q + c]!, inv)) as [Expr, Expr, Expr, Expr];
        if (outVec) x.store4("out", iadd(base, at), values);
        else values.forEach((v, c) => x.store("out", iadd(base, iadd(imul(at, u32(4)), u32(c))), v));
      }
      x.if(lt(p.part, u32(1)), (y) => y.store("lse", iadd(imul(p.g, u32(spec.sq)), row), naturalLse(m[r]!, sums[r]!)));
    }));
}
