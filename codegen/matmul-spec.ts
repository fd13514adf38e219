/**
 * The matmul templates' common ground: what a matmul is to them (MatmulSpec: sizes, operand
 * addressing, the result layout), the epilogue hook the fusion codegen plugs into, and the
 * pieces every template shares (accumulation, bindings, storing C through the epilogue).
 * The templates: codegen/matmul.ts (choice, GPU template), codegen/matmul-cpu.ts.
 */
import { type DType, stridesOf } from "../ir/dtype.js";
import { groupStride } from "../ir/view.js";
import { unravel } from "./indexing.js";
import {
  type Binding, type Expr, type Scalar, type Stmt, BodyBuilder,
  bin, call, iadd, idiv, imul, irem, load, mul, u32,
} from "./kernel.js";
import { renameLocals } from "./traverse.js";

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
  /**
   * The element's value where it is no load of one buffer (a concatenation or pad of
   * inputs, evaluated as an index expression): used instead of `addr`; such an operand
   * has no `strides`, so templates read it element by element.
   */
  readonly read?: (b: BodyBuilder, batch: Expr, row: Expr, col: Expr) => Expr;
}

/** An operand's element (batch, row, col): its `read`, or a load at its address. */
export function operandAt(t: Scalar, operand: MatmulOperand, b: BodyBuilder, batch: Expr, row: Expr, col: Expr): Expr {
  return operand.read ? operand.read(b, batch, row, col) : load(t, operand.name, operand.addr(b, batch, row, col));
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

/**
 * Where C goes when it is stored through a layout op (a transpose folded into the store):
 * element (batch, row, col) at base(batch) + row·row + col·col, every base a multiple of
 * `baseAlign` (0: every base is 0).
 */
export interface OutputLayout {
  readonly base: (b: BodyBuilder, batch: Expr) => Expr;
  readonly row: number;
  readonly col: number;
  readonly baseAlign: number;
}

/** Whether C may be stored as 4-vectors along its columns (n a multiple of 4 and, through a layout, unit column stride). */
export function vectorStorable(spec: MatmulSpec): boolean {
  const l = spec.outLayout;
  return spec.n % 4 === 0 && (!l || (l.col === 1 && l.row % 4 === 0 && l.baseAlign % 4 === 0));
}

/**
 * A grouped matmul (the experts of a mixture of experts; MegaBlocks' and vLLM fused_moe's
 * grouped GEMM): C's rows come in tiles of `tileRows`, each tile multiplying its own matrix
 * of B chosen on the device, so `batch` is 1 and the batch rhs.addr and the epilogue see is
 * the tile's. A's rows may be gathered and C's rows scattered through index buffers, so
 * the token permutation costs no copies.
 */
export interface GroupedRows {
  readonly tileRows: number;
  /** Emitted once per workgroup for tile `tile` (first row `m0`): its batch of B, and when the workgroup exits at once. */
  readonly tile: (b: BodyBuilder, tile: Expr, m0: Expr) => { readonly batch: Expr; readonly exit?: Expr };
  /** A's row for C's row `row` (a gather; `row` is in range). */
  readonly lhsRow?: (b: BodyBuilder, row: Expr) => Expr;
  /** The row of `out` that C's row `row` goes to, and whether it is stored (a scatter); the epilogue sees that row. */
  readonly outRow?: (b: BodyBuilder, row: Expr) => { readonly row: Expr; readonly store: Expr };
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
  /** C is written row-major as [batch, m, n], unless `outLayout` says where. */
  readonly out: string;
  readonly outLayout?: OutputLayout;
  readonly epilogue?: MatmulEpilogue;
  readonly grouped?: GroupedRows;
  /**
   * The part of k each batch sums over, where it is not all of [0, k) (a grouped matmul's
   * weight gradient: one expert's rows of a buffer sorted by expert): read on the device
   * once per workgroup, both ends multiples of `multiple` (which every template's k step
   * must divide). `k` stays the operands' extent along k.
   */
  readonly kRange?: KRange;
  /** The useful FLOPs where fewer than 2·batch·m·n·k (a grouped matmul's padding rows, k ranges): the kernel's `flops`. */
  readonly flops?: number;
}

export interface KRange {
  readonly multiple: number;
  readonly at: (b: BodyBuilder, batch: Expr) => { readonly start: Expr; readonly end: Expr };
}

/** The k loop's bounds for `batch`: [0, k) or the spec's range, checked against the template's k step. */
export function kBounds(spec: MatmulSpec, b: BodyBuilder, batch: Expr, step: number): { start: Expr; end: Expr } {
  if (!spec.kRange) return { start: u32(0), end: u32(spec.k) };
  if (spec.kRange.multiple % step) throw new Error(`matmul ${spec.name}: its k ranges are multiples of ${spec.kRange.multiple}, which the template's k step of ${step} does not divide`);
  const { start, end } = spec.kRange.at(b, batch);
  return { start: b.let("k_start", start), end: b.let("k_end", end) };
}

/**
 * The strides of an operand of `shape` whose rows (columns) are the row-major linear index
 * over `rowDims` (`colDims`): defined when each group's dims are adjacent in memory in that
 * order, as groupAddress merges them; undefined otherwise. The operand is laid out with
 * `st` from element `offset` (a strided view of its buffer; row-major from 0 by default).
 */
export function operandStrides(
  shape: readonly number[], batchDims: readonly number[], rowDims: readonly number[], colDims: readonly number[],
  st: readonly number[] = stridesOf(shape), offset = 0,
): OperandStrides | undefined {
  const group = (dims: readonly number[]) => groupStride(shape, st, dims);
  const row = group(rowDims), col = group(colDims);
  if (row === undefined || col === undefined) return undefined;
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  return { row, col, baseAlign: batchDims.filter((d) => shape[d] !== 1).reduce((g, d) => gcd(g, st[d]!), offset) };
}

/** A grouped matmul's tile: `bm` is a group's rows (a workgroup's rows share one batch of B), the invocations unchanged. */
export function groupedTile(spec: MatmulSpec, tile: MatmulTile): MatmulTile {
  const g = spec.grouped;
  if (!g) return tile;
  const ty = tile.bm / tile.rm;
  if (g.tileRows % ty) throw new Error(`matmul ${spec.name}: groups of ${g.tileRows} rows do not divide among ${ty} rows of invocations`);
  return { ...tile, bm: g.tileRows, rm: g.tileRows / ty };
}

/**
 * Where a workgroup's tile starts and what it multiplies: `batch` indexes A and C, `rhsBatch`
 * B and the epilogue (a grouped matmul's tile's group; the same otherwise). A grouped tile
 * with nothing to do has returned before anything else is emitted.
 */
export function tileOrigin(spec: MatmulSpec, b: BodyBuilder, wg: Expr, tilesM: number, tilesN: number, bm: number) {
  const tileN = b.let("tile_n", irem(wg, u32(tilesN)));
  const tileM = b.let("tile_m", irem(idiv(wg, u32(tilesN)), u32(tilesM)));
  const g = spec.grouped;
  const batch = g ? u32(0) : b.let("batch", idiv(wg, u32(tilesN * tilesM)));
  const m0 = b.let("m0", imul(tileM, u32(bm)));
  if (!g) return { tileN, tileM, batch, rhsBatch: batch, m0 };
  const t = g.tile(b, tileM, m0);
  if (t.exit) b.if(t.exit, (x) => x.return());
  return { tileN, tileM, batch, rhsBatch: b.let("group", t.batch), m0 };
}

export function scalarType(spec: MatmulSpec): Scalar {
  return spec.dtype === "bool" ? "u32" : spec.dtype;
}

/** acc + a·b, fused on f32 (one instruction on every target; lavapipe does not contract a·b + c itself). */
export function madd(acc: Expr, a: Expr, b: Expr): Expr {
  return acc.t === "f32" ? call("fma", a, b, acc) : bin("add", acc, mul(a, b));
}

/** The kernel's bindings: the spec's, 4-vector where a template asks, the epilogue's before `out`. */
export function kernelBindings(spec: MatmulSpec, vec4: ReadonlySet<string> = new Set()): Binding[] {
  const out: Binding[] = [];
  for (const b of spec.bindings) {
    if (b.name === spec.out) out.push(...(spec.epilogue?.bindings ?? []));
    out.push(vec4.has(b.name) ? { ...b, width: 4 } : b);
  }
  return out;
}

/** The values of C stored at one row: the accumulators, through the epilogue when there is one. */
export class OutputWriter {
  private readonly batchIndex: Expr[];
  /** Where (batch, 0, 0) is stored, and its index in the row-major C. */
  private readonly outBase: Expr;
  private readonly indexBase: Expr;

  /** `epilogueBatch`: the batch the epilogue sees when it is not C's (a grouped matmul's tile's batch of B). */
  constructor(
    private readonly spec: MatmulSpec,
    b: BodyBuilder,
    private readonly bat: Expr,
    epilogueBatch = bat,
  ) {
    const { m: M, n: N } = spec;
    this.indexBase = b.let("out_base", imul(bat, u32(M * N)));
    this.outBase = spec.outLayout ? b.let("out_at", spec.outLayout.base(b, bat)) : this.indexBase;
    this.batchIndex = spec.epilogue
      ? spec.batchShape && spec.batchShape.length > 1 ? unravel(b, epilogueBatch, spec.batchShape, "ep_b") : [epilogueBatch]
      : [];
  }

  /** Where (row, col) of C is stored in `out`. */
  linear(row: Expr, col: Expr): Expr {
    const l = this.spec.outLayout;
    if (!l) return this.index(row, col);
    return iadd(this.outBase, iadd(imul(row, u32(l.row)), l.col === 1 ? col : imul(col, u32(l.col))));
  }

  /** Index of (row, col) in the row-major C: what the epilogue's other results are stored at. */
  index(row: Expr, col: Expr): Expr {
    return iadd(this.indexBase, iadd(imul(row, u32(this.spec.n)), col));
  }

  /** The 4-vector index of (row, 0) in `out`, for vector stores (vectorStorable). */
  vectorRow(row: Expr): Expr {
    const l = this.spec.outLayout;
    if (!l) return iadd(imul(this.bat, u32((this.spec.m * this.spec.n) / 4)), imul(row, u32(this.spec.n / 4)));
    return iadd(idiv(this.outBase, u32(4)), imul(row, u32(l.row / 4)));
  }

  value(b: BodyBuilder, acc: Expr, row: Expr, col: Expr): Expr {
    const ep = this.spec.epilogue;
    if (!ep) return acc;
    const linear = b.let("ep_linear", this.index(row, col));
    const r = ep.apply(acc, { batch: this.batchIndex, row, col, linear });
    const { stmts, value } = renameLocals(r.stmts, r.value, (n) => b.fresh(n));
    b.push(...stmts);
    return b.let("ep_value", value);
  }
}
