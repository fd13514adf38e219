/**
 * The matmul templates' common ground: what a matmul is to them (MatmulSpec: sizes, operand
 * addressing, the result layout), the epilogue hook the fusion codegen plugs into, and the
 * pieces every template shares (accumulation, bindings, storing C through the epilogue).
 * The templates: codegen/matmul.ts (choice, GPU template), codegen/matmul-cpu.ts.
 */
import { type DType, stridesOf } from "../ir/dtype.js";
import { unravel } from "./indexing.js";
import {
  type Binding, type Expr, type Scalar, type Stmt, BodyBuilder,
  bin, call, iadd, idiv, imul, irem, mul, u32,
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
  /** C is written row-major as [batch, m, n]. */
  readonly out: string;
  readonly epilogue?: MatmulEpilogue;
  readonly grouped?: GroupedRows;
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
  private readonly rowBase: Expr;

  /** `epilogueBatch`: the batch the epilogue sees when it is not C's (a grouped matmul's tile's batch of B). */
  constructor(
    private readonly spec: MatmulSpec,
    b: BodyBuilder,
    bat: Expr,
    epilogueBatch = bat,
  ) {
    const { m: M, n: N } = spec;
    this.rowBase = b.let("out_base", imul(bat, u32(M * N)));
    this.batchIndex = spec.epilogue
      ? spec.batchShape && spec.batchShape.length > 1 ? unravel(b, epilogueBatch, spec.batchShape, "ep_b") : [epilogueBatch]
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
