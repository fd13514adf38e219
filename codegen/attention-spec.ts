/**
 * What both flash-attention templates share: the problem's sizes and buffer addressing
 * (flash_attention's canonical operands, ir/primitives.ts), the per-score mask and bias,
 * and the online-softmax constants. Scores are kept in log2 units (log2 e folded into the
 * scale, FlashAttention-2 §3.1) so every exponential is one exp2.
 */
import type { Node } from "../ir/graph.js";
import { gridFor, groupIndex } from "./indexing.js";
import {
  type Binding, type Expr, BodyBuilder,
  and, bin, call, f32, iadd, idiv, imul, irem, isConst, load, lt, select, u32,
} from "./kernel.js";
import type { Target } from "./target.js";

/** A masked score in log2 units: finite, since WGSL compilers may assume finite math. */
export const MASKED = -3.0e38;

/**
 * Where a [groups, rows, width] operand's rows are: row (g, i) starts at element
 * offset + g·group + i·row of its buffer, its elements consecutive. The contiguous layout
 * (group = rows·width, row = width) unless the fuse pass folded a head split (a slice of a
 * fused QKV projection, a transpose of heads) into the kernel's loads or a head merge into
 * its store.
 */
export interface RowLayout {
  readonly offset: number;
  readonly group: number;
  readonly row: number;
}

export const contiguousRows = (rows: number, width: number): RowLayout => ({ offset: 0, group: rows * width, row: width });

/** Element 0 of row `i` of group `g`. */
export function rowStart(l: RowLayout, g: Expr, i: Expr): Expr {
  const e = iadd(imul(g, u32(l.group)), imul(i, u32(l.row)));
  return l.offset ? iadd(u32(l.offset), e) : e;
}

/** The layout in units of 4-vectors (for a layout rowsAligned4 accepts). */
export const quarterRows = (l: RowLayout): RowLayout => ({ offset: l.offset / 4, group: l.group / 4, row: l.row / 4 });

/** Whether every row of a layout starts at a multiple of 4 (4-vector loads along rows of a width that is one too). */
export const rowsAligned4 = (l: RowLayout): boolean => l.offset % 4 === 0 && l.group % 4 === 0 && l.row % 4 === 0;

/** Row layouts of q, k, v, the output, and (read by the backward) the output's cotangent. */
export type FlashLayouts = { readonly q: RowLayout; readonly k: RowLayout; readonly v: RowLayout; readonly out: RowLayout; readonly dOut: RowLayout };

export interface FlashSpec {
  readonly name: string;
  readonly source: string;
  /** Query groups, query rows, head dim; key/value groups, keys, value head dim. */
  readonly g: number; readonly sq: number; readonly d: number;
  readonly gk: number; readonly sk: number; readonly dv: number;
  /** Scale times log2 e. */
  readonly scale2: number;
  readonly causal: boolean;
  /** Shapes [G | 1, Sq | 1, Sk | 1] of the bias and mask operands, when present. */
  readonly bias?: readonly number[];
  readonly mask?: readonly number[];
  readonly bindings: readonly Binding[];
  /** Where the rows of q, k, v and out are in their buffers. */
  readonly layout: FlashLayouts;
}

/**
 * FLOPs of `products` score-sized matrix products (q·kᵀ and p·v are one each; a backward
 * recomputes and adds more): 2·G·Sq·Sk per head-dim element, halved when causal, as
 * FlashAttention's benchmarks count them.
 */
export function flashFlops(spec: FlashSpec, products: { qk: number; pv: number }): number {
  return (2 * spec.g * spec.sq * spec.sk * (products.qk * spec.d + products.pv * spec.dv)) / (spec.causal ? 2 : 1);
}

export function flashSpec(node: Node<"flash_attention">, name: string, source: string, layout: Partial<FlashLayouts> = {}): FlashSpec {
  const [q, k, v] = node.inputs.map((x) => x.shape);
  const { scale, causal, bias, mask } = node.params;
  const bindings: Binding[] = [
    { name: "q", dtype: "f32", access: "read" },
    { name: "k", dtype: "f32", access: "read" },
    { name: "v", dtype: "f32", access: "read" },
  ];
  if (bias) bindings.push({ name: "bias", dtype: "f32", access: "read" });
  if (mask) bindings.push({ name: "mask", dtype: "bool", access: "read" });
  bindings.push({ name: "out", dtype: "f32", access: "read_write" }, { name: "lse", dtype: "f32", access: "read_write" });
  return {
    name, source, g: q![0]!, sq: q![1]!, d: q![2]!, gk: k![0]!, sk: k![1]!, dv: v![2]!,
    scale2: scale * Math.LOG2E, causal,
    ...(bias ? { bias: node.inputs[3]!.shape } : {}),
    ...(mask ? { mask: node.inputs[3 + Number(bias)]!.shape } : {}),
    bindings,
    layout: {
      q: layout.q ?? contiguousRows(q![1]!, q![2]!), k: layout.k ?? contiguousRows(k![1]!, k![2]!),
      v: layout.v ?? contiguousRows(v![1]!, v![2]!), out: layout.out ?? contiguousRows(q![1]!, v![2]!),
      dOut: layout.dOut ?? contiguousRows(q![1]!, v![2]!),
    },
  };
}

/** The key/value group a query group reads (grouped-query attention). */
export const kvGroup = (spec: FlashSpec, g: Expr): Expr => (spec.gk === spec.g ? g : bin("div", g, u32(spec.g / spec.gk)));

/**
 * The largest power of two, at most `cap`, of rows of `floatsPerRow` f32s that fit in the
 * target's workgroup storage: the size of a K/V or q/dO tile staged there.
 */
export function storageTile(target: Target, floatsPerRow: number, cap: number): number {
  const fit = Math.floor(target.limits.maxComputeWorkgroupStorageSize / (4 * floatsPerRow));
  let t = 1;
  while (t * 2 <= Math.min(fit, cap)) t *= 2;
  return t;
}

/** A [groups, rows, width] operand staged tile by tile: its name, the workgroup array, the row width, where its rows are. */
export interface StagedRows {
  readonly name: string;
  readonly shared: string;
  readonly width: number;
  readonly layout: RowLayout;
  /** The workgroup array holds 4-vectors (read 16 bytes at a time); elements are stored one by one. */
  readonly vec4?: boolean;
}

/**
 * Copies `count` rows of `src`, from row `first` of row group `group` (each group `rows`
 * long; rows past the end read the last row), into its workgroup array. The workgroup's
 * `threads` invocations stride over the elements from `tid`, so neighbours load neighbours.
 */
export function stageRows(x: BodyBuilder, src: StagedRows, group: Expr, first: Expr, rows: number, count: number, tid: Expr, threads: number): void {
  const { name, shared, width, layout } = src;
  x.for("e", tid, u32(count * width), (e, y) => {
    const row = clampTo(iadd(first, idiv(e, u32(width))), rows);
    const value = load("f32", name, iadd(rowStart(layout, group, row), irem(e, u32(width))));
    if (src.vec4) y.storeElement(shared, e, value);
    else y.store(shared, e, value, "workgroup");
  }, threads);
}

/**
 * A grid of workgroups each owning `rows` consecutive rows of one of `groups` groups of
 * `length` rows: in a new body, the group (named `names[0]`) and the tile's first row (`names[1]`).
 */
export function rowTiles(target: Target, groups: number, length: number, rows: number, names: [string, string]): { b: BodyBuilder; grid: [number, number, number]; group: Expr; first: Expr } {
  const tiles = Math.ceil(length / rows);
  const total = groups * tiles;
  const grid = gridFor(total, target);
  const b = new BodyBuilder();
  const wg = groupIndex(b, "wg", grid, total);
  const group = b.let(names[0], idiv(wg, u32(tiles)));
  const first = b.let(names[1], imul(irem(wg, u32(tiles)), u32(rows)));
  return { b, grid, group, first };
}

/**
 * The prologue of every kernel that gives a workgroup a tile of `rows` query rows of one
 * query group: the grid, and in a new body the tile's query group `g`, the key/value group
 * it reads and its first row `m0`.
 */
export function queryRowTile(spec: FlashSpec, target: Target, rows: number): { b: BodyBuilder; grid: [number, number, number]; g: Expr; kvg: Expr; m0: Expr } {
  const { b, grid, group: g, first: m0 } = rowTiles(target, spec.g, spec.sq, rows, ["g", "m0"]);
  return { b, grid, g, kvg: b.let("kvg", kvGroup(spec, g)), m0 };
}

/** Address of element (g, i, j) of a [G | 1, Sq | 1, Sk | 1] operand. */
function extraAddress(shape: readonly number[], g: Expr, i: Expr, j: Expr): Expr {
  const [bg, bq, bk] = shape as [number, number, number];
  return iadd(iadd(imul(bg > 1 ? g : u32(0), u32(bq * bk)), imul(bq > 1 ? i : u32(0), u32(bk))), bk > 1 ? j : u32(0));
}

/**
 * The score of query row `i`, key `j` in log2 units from the raw dot product, with the bias
 * added and, where `bounds` asks (diagonal and tail blocks), keys past Sk or above the causal
 * diagonal masked; the mask operand applies everywhere. Returns the score and, when anything
 * can mask it, the keep predicate (the exp of a masked score must be 0, not exp2(MASKED - m)).
 */
export function scoreAt(
  b: BodyBuilder, spec: FlashSpec, dot: Expr, g: Expr, i: Expr, j: Expr, bounds: boolean,
): { score: Expr; keep?: Expr } {
  let score = bin("mul", dot, f32(spec.scale2));
  if (spec.bias) score = bin("add", score, bin("mul", load("f32", "bias", extraAddress(spec.bias, g, i, j)), f32(Math.LOG2E)));
  const conds: Expr[] = [];
  if (bounds) conds.push(lt(j, u32(spec.sk)));
  if (bounds && spec.causal) conds.push(bin("le", j, i));
  if (spec.mask) conds.push(load("bool", "mask", extraAddress(spec.mask, g, i, j)));
  if (!conds.length) return { score: b.let("t", score) };
  const keep = b.let("keep", conds.reduce((x, y) => and(x, y)));
  return { score: b.let("t", select(keep, score, f32(MASKED))), keep };
}

/** exp2(t - m), zero where the score was masked. */
export function probability(b: BodyBuilder, t: Expr, m: Expr, keep?: Expr): Expr {
  const p = b.let("p", call("exp2", bin("sub", t, m)));
  return keep ? b.let("p", select(keep, p, f32(0))) : p;
}

/** The log-sum-exp in natural-log units from a running max (log2 units) and sum. */
export const naturalLse = (m: Expr, l: Expr): Expr =>
  bin("add", bin("mul", m, f32(Math.LN2)), call("log", l));

/**
 * The larger of two scores, named, for running and block maxima. A NaN score need not
 * propagate through the max (its exp2 carries it to the output), so this is a compare and
 * select rather than WGSL's NaN-propagating max (codegen/rewrite.ts, minMaxNaN), which
 * costs a dozen operations per max in the loop lavapipe compiles and runs.
 */
export function scoreMax(b: BodyBuilder, hint: string, x: Expr, y: Expr): Expr {
  const xs = b.let(`${hint}_a`, x), ys = b.let(`${hint}_b`, y);
  return b.let(hint, select(bin("gt", ys, xs), ys, xs));
}

export const clampTo = (e: Expr, n: number): Expr => (n <= 1 ? u32(0) : bin("min", e, u32(n - 1)));

/**
 * Runs `tile` over the key tiles a workgroup of BQ query rows from m0 needs: first those every
 * row sees whole (no bounds), then those crossing the causal diagonal or the end of the keys.
 */
export function keyTiles(b: BodyBuilder, spec: FlashSpec, m0: Expr, BQ: number, BK: number, tile: (x: BodyBuilder, kb: Expr, bounds: boolean) => void): void {
  const { sq, sk } = spec;
  const last = b.let("last_row", bin("min", iadd(m0, u32(BQ - 1)), u32(sq - 1)));
  const end = spec.causal ? b.let("key_end", bin("min", iadd(last, u32(1)), u32(sk))) : u32(sk);
  const full = spec.causal
    ? b.let("full_end", imul(bin("min", idiv(iadd(m0, u32(1)), u32(BK)), u32(Math.floor(sk / BK))), u32(BK)))
    : u32(Math.floor(sk / BK) * BK);
  // (A loop that is empty at compile time is left out: nvcc warns on `kb < 0u`.)
  if (!isConst(full, 0)) b.for("kb", u32(0), full, (kb, x) => tile(x, kb, false), BK);
  if (!(isConst(full) && isConst(end) && (full as { v: number }).v >= (end as { v: number }).v)) b.for("kb", full, end, (kb, x) => tile(x, kb, true), BK);
}
