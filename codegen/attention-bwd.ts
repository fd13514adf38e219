/**
 * Lowering of flash_attention_bwd: FlashAttention-2's backward (Dao 2023, Algorithm 2) as two
 * kernels that recompute P = exp(scale·q·kᵀ − lse) tile by tile and never hold the Sq×Sk
 * scores. With dO the output cotangent and Δᵢ = dOᵢ·Oᵢ − (lse cotangent)ᵢ,
 *   dS = P ⊙ (dO·vᵀ − Δ),  dV = Pᵀ·dO,  dK = scale·dSᵀ·q,  dQ = scale·dS·k.
 * - the key kernel: a workgroup owns a block of keys (one per invocation, its k and v rows
 *   and its dK, dV accumulators in registers) and walks the query rows of every query group
 *   that reads it (grouped-query attention sums them here), staging q, dO, lse and Δ tiles in
 *   workgroup memory; causal query tiles above the block's first key are never visited;
 * - the query kernel: the forward's shape (a block of query rows per workgroup, K/V tiles in
 *   workgroup memory), accumulating dQ.
 * Each output has one writer, so there are no atomics (WGSL has no float atomics) and the
 * result is deterministic. Δ is recomputed where it is needed (Dv multiply-adds per row and
 * tile) rather than written by a third kernel.
 */
import type { Node } from "../ir/graph.js";
import { type FlashLayouts, type FlashSpec, clampTo, flashFlops, flashSpec, rowStart, probability, rowTiles, scoreAt, stageRows, storageTile } from "./attention-spec.js";
import { workgroupRows } from "./attention.js";
import { type Binding, type Expr, type Kernel, BodyBuilder, and, bin, call, f32, iadd, id, idiv, imul, load, lt, select, u32 } from "./kernel.js";
import type { LowerContext, LoweredKernel } from "./lower.js";
import type { Target } from "./target.js";

/** The kernels of a flash_attention_bwd node; `layout` where the fuse pass folded views of its operands. */
export function lowerFlashAttentionBwd(node: Node<"flash_attention_bwd">, ctx: LowerContext, layout: Partial<FlashLayouts> = {}): LoweredKernel[] {
  const spec = flashSpec(node as unknown as Node<"flash_attention">, ctx.name, ctx.source, layout);
  const ins = inputBindings(spec);
  const inArgs = node.inputs.map((_, index) => ({ kind: "in" as const, index }));
  const out = (name: string): Binding => ({ name, dtype: "f32", access: "read_write" });
  const kernels: LoweredKernel[] = [];
  if (spec.gk * spec.sk > 0)
    kernels.push({
      // Recomputes q·kᵀ and dO·vᵀ, then dV = Pᵀ·dO and dK = dSᵀ·q.
      kernel: { ...keyKernel({ ...spec, name: `${ctx.name}_dkdv`, bindings: [...ins, out("dk"), out("dv")] }, ctx.target), flops: flashFlops(spec, { qk: 2, pv: 2 }) },
      args: [...inArgs, { kind: "out", index: 1 }, { kind: "out", index: 2 }],
    });
  if (spec.g * spec.sq > 0)
    kernels.push({
      // Recomputes q·kᵀ and dO·vᵀ, then dQ = dS·k.
      kernel: { ...queryKernel({ ...spec, name: `${ctx.name}_dq`, bindings: [...ins, out("dq")] }, ctx.target), flops: flashFlops(spec, { qk: 2, pv: 1 }) },
      args: [...inArgs, { kind: "out", index: 0 }],
    });
  return kernels;
}

function inputBindings(spec: FlashSpec): Binding[] {
  const read = (name: string, dtype: Binding["dtype"] = "f32"): Binding => ({ name, dtype, access: "read" });
  return [
    read("q"), read("k"), read("v"),
    ...(spec.bias ? [read("bias")] : []), ...(spec.mask ? [read("mask", "bool")] : []),
    read("out"), read("lse"), read("d_out"), read("d_lse"),
  ];
}

/** Δ of query row `row` (clamped) of group `g`: dO·O minus the lse cotangent. */
function delta(b: BodyBuilder, spec: FlashSpec, g: Expr, row: Expr): Expr {
  const oBase = b.let("o_base", rowStart(spec.layout.out, g, row));
  const doBase = b.let("do_base", rowStart(spec.layout.dOut, g, row));
  const acc = b.var("delta", f32(0));
  b.for("c", u32(0), u32(spec.dv), (c, x) =>
    x.assign(acc, call("fma", load("f32", "d_out", iadd(doBase, c)), load("f32", "out", iadd(oBase, c)), acc)));
  return bin("sub", acc, load("f32", "d_lse", iadd(imul(g, u32(spec.sq)), row)));
}

/** A row of a [groups, rows, width] buffer into a private array. */
function loadRow(b: BodyBuilder, hint: string, buffer: string, rowBase: Expr, width: number): string {
  const arr = b.array(hint, "f32", width);
  b.for("e", u32(0), u32(width), (e, x) => x.store(arr, e, load("f32", buffer, iadd(rowBase, e)), "private"));
  return arr;
}

/** Dot product of a private array with `width` consecutive workgroup-memory values. */
function dotShared(b: BodyBuilder, hint: string, priv: string, shared: string, base: Expr, width: number): Expr {
  const acc = b.var(hint, f32(0));
  b.for("e", u32(0), u32(width), (e, x) =>
    x.assign(acc, call("fma", load("f32", priv, e, "private"), load("f32", shared, iadd(base, e), "workgroup"), acc)));
  return acc;
}

/** acc[e] += by · shared[base + e]. */
function axpyShared(b: BodyBuilder, acc: string, by: Expr, shared: string, base: Expr, width: number): void {
  b.for("e", u32(0), u32(width), (e, x) =>
    x.store(acc, e, call("fma", by, load("f32", shared, iadd(base, e), "workgroup"), load("f32", acc, e, "private")), "private"));
}

/** P at (row, key) from the score's dot product, zero outside [0, Sq) × [0, Sk) and where masked. */
function recomputeP(b: BodyBuilder, spec: FlashSpec, dot: Expr, g: Expr, row: Expr, key: Expr, lse2: Expr): Expr {
  const { score, keep } = scoreAt(b, spec, dot, g, clampTo(row, spec.sq), clampTo(key, spec.sk), spec.causal);
  const inside = b.let("inside", and(lt(row, u32(spec.sq)), lt(key, u32(spec.sk))));
  return b.let("p_in", select(inside, probability(b, score, lse2, keep), f32(0)));
}

/** Query rows per staged tile of the key kernel: q, dO, lse and Δ of each row fit the storage. */
const queryTile = (spec: FlashSpec, target: Target): number => storageTile(target, spec.d + spec.dv + 2, 32);

/** dK and dV: a workgroup of BK invocations owns BK keys. */
function keyKernel(spec: FlashSpec, target: Target): Kernel {
  const { sq, d: D, sk, dv: Dv } = spec;
  const BK = Math.min(64, target.limits.maxComputeInvocationsPerWorkgroup);
  const BQ = queryTile(spec, target);
  const rep = spec.g / spec.gk;
  const { b, grid, group: kvg, first: k0 } = rowTiles(target, spec.gk, sk, BK, ["kvg", "k0"]);
  const tid = b.let("tid", id("local", 0));
  const key = b.let("key", iadd(k0, tid));
  const kBase = b.let("k_base", iadd(imul(kvg, u32(sk)), clampTo(key, sk)));
  const kRow = loadRow(b, "k_row", "k", rowStart(spec.layout.k, kvg, clampTo(key, sk)), D);
  const vRow = loadRow(b, "v_row", "v", rowStart(spec.layout.v, kvg, clampTo(key, sk)), Dv);
  const dk = b.array("dk_acc", "f32", D), dv = b.array("dv_acc", "f32", Dv);
  b.for("e", u32(0), u32(D), (e, x) => x.store(dk, e, f32(0), "private"));
  b.for("e", u32(0), u32(Dv), (e, x) => x.store(dv, e, f32(0), "private"));
  // Causal: rows before the block's first key see none of its keys.
  const firstTile = spec.causal ? b.let("q_start", imul(idiv(bin("min", k0, u32(sq)), u32(BQ)), u32(BQ))) : u32(0);

  b.for("r", u32(0), u32(rep), (r, x) => {
    const g = x.let("g", iadd(imul(kvg, u32(rep)), r));
    x.for("qb", firstTile, u32(sq), (qb, y) => {
      // Stage q and dO rows, lse in log2 units and Δ of the tile's rows (clamped past Sq).
      stageRows(y, { name: "q", shared: "Qs", width: D, layout: spec.layout.q }, g, qb, sq, BQ, tid, BK);
      stageRows(y, { name: "d_out", shared: "dOs", width: Dv, layout: spec.layout.dOut }, g, qb, sq, BQ, tid, BK);
      y.for("e", tid, u32(BQ), (e, z) => {
        const row = z.let("st_row", clampTo(iadd(qb, e), sq));
        z.store("Ls", e, bin("mul", load("f32", "lse", iadd(imul(g, u32(sq)), row)), f32(Math.LOG2E)), "workgroup");
        z.store("Ds", e, delta(z, spec, g, row), "workgroup");
      }, BK);
      y.barrier();
      y.for("i", u32(0), u32(BQ), (i, z) => {
        const dot = dotShared(z, "s_dot", kRow, "Qs", imul(i, u32(D)), D);
        const p = recomputeP(z, spec, dot, g, iadd(qb, i), key, load("f32", "Ls", i, "workgroup"));
        axpyShared(z, dv, p, "dOs", imul(i, u32(Dv)), Dv);
        const dp = dotShared(z, "dp", vRow, "dOs", imul(i, u32(Dv)), Dv);
        const ds = z.let("ds", bin("mul", p, bin("sub", dp, load("f32", "Ds", i, "workgroup"))));
        axpyShared(z, dk, ds, "Qs", imul(i, u32(D)), D);
      });
      y.barrier();
    }, BQ);
  });

  b.if(lt(key, u32(sk)), (x) => {
    x.for("e", u32(0), u32(D), (e, y) => y.store("dk", iadd(imul(kBase, u32(D)), e), bin("mul", load("f32", dk, e, "private"), f32(scaleOf(spec)))));
    x.for("e", u32(0), u32(Dv), (e, y) => y.store("dv", iadd(imul(kBase, u32(Dv)), e), load("f32", dv, e, "private")));
  });
  return {
    name: spec.name, source: spec.source, bindings: spec.bindings, workgroupSize: [BK, 1, 1], grid,
    shared: [
      { name: "Qs", t: "f32", size: BQ * D }, { name: "dOs", t: "f32", size: BQ * Dv },
      { name: "Ls", t: "f32", size: BQ }, { name: "Ds", t: "f32", size: BQ },
    ],
    body: b.stmts,
  };
}

/** dQ: a workgroup of BQ invocations owns BQ query rows; K/V tiles as in the forward. */
function queryKernel(spec: FlashSpec, target: Target): Kernel {
  const { sq, d: D, sk, dv: Dv } = spec;
  const { b, grid, g, kvg, m0, BQ, BK, tid, row, rowC } = workgroupRows(spec, target);
  const rowId = b.let("row_id", iadd(imul(g, u32(sq)), rowC));
  const qRow = loadRow(b, "q_row", "q", rowStart(spec.layout.q, g, rowC), D);
  const doRow = loadRow(b, "do_row", "d_out", rowStart(spec.layout.dOut, g, rowC), Dv);
  const lse2 = b.let("lse2", bin("mul", load("f32", "lse", rowId), f32(Math.LOG2E)));
  const dl = b.let("delta_row", delta(b, spec, g, rowC));
  const dq = b.array("dq_acc", "f32", D);
  b.for("e", u32(0), u32(D), (e, x) => x.store(dq, e, f32(0), "private"));

  const last = b.let("last_row", bin("min", iadd(m0, u32(BQ - 1)), u32(sq - 1)));
  const end = spec.causal ? b.let("key_end", bin("min", iadd(last, u32(1)), u32(sk))) : u32(sk);
  b.for("kb", u32(0), end, (kb, x) => {
    stageRows(x, { name: "k", shared: "Ks", width: D, layout: spec.layout.k }, kvg, kb, sk, BK, tid, BQ);
    stageRows(x, { name: "v", shared: "Vs", width: Dv, layout: spec.layout.v }, kvg, kb, sk, BK, tid, BQ);
    x.barrier();
    x.for("j", u32(0), u32(BK), (j, y) => {
      const dot = dotShared(y, "s_dot", qRow, "Ks", imul(j, u32(D)), D);
      const p = recomputeP(y, spec, dot, g, row, iadd(kb, j), lse2);
      const dp = dotShared(y, "dp", doRow, "Vs", imul(j, u32(Dv)), Dv);
      const ds = y.let("ds", bin("mul", p, bin("sub", dp, dl)));
      axpyShared(y, dq, ds, "Ks", imul(j, u32(D)), D);
    });
    x.barrier();
  }, BK);

  b.if(lt(row, u32(sq)), (x) =>
    x.for("e", u32(0), u32(D), (e, y) => y.store("dq", iadd(imul(rowId, u32(D)), e), bin("mul", load("f32", dq, e, "private"), f32(scaleOf(spec))))));
  return {
    name: spec.name, source: spec.source, bindings: spec.bindings, workgroupSize: [BQ, 1, 1], grid,
    shared: [{ name: "Ks", t: "f32", size: BK * D }, { name: "Vs", t: "f32", size: BK * Dv }],
    body: b.stmts,
  };
}

const scaleOf = (spec: FlashSpec) => spec.scale2 / Math.LOG2E;
