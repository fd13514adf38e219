/**
 * Lowering of flash_attention: a FlashAttention-2 forward kernel (Dao 2023, §3.1) that never
 * materialises the Sq×Sk scores, writing the output and each row's log-sum-exp. The
 * template family follows the matmul's (matmulStrategy): the subgroup template for CPU
 * adapters with a fixed subgroup size (codegen/attention-cpu.ts), and otherwise the tiled
 * template (codegen/attention-gpu.ts: 4 query rows per invocation, S and O as register-blocked
 * products) or, where its tiles do not fit the target's workgroup storage (head dims past 128
 * within CUDA's static 48 KiB, past 80 within lavapipe's 32 KiB, past 64 within WebGPU's
 * default 16 KiB) or a head width is no multiple of 4, the one-row template below. Decode shapes (a few query rows, many keys) split the keys across
 * workgroups instead (codegen/attention-decode.ts).
 */
import type { Node, Value } from "../ir/graph.js";
import type { StridedView } from "../ir/view.js";
import { templateOperands } from "./fused-body.js";
import { flashRowOperands } from "../ir/primitives.js";
import { lowerFlashAttentionBwd } from "./attention-bwd.js";
import { cpuRows, subgroupAttention } from "./attention-cpu.js";
import { decodeKernels, isDecode } from "./attention-decode.js";
import { attentionBlocking, attentionBlockings, tiledAttention } from "./attention-gpu.js";
import {
  MASKED, type FlashLayouts, type FlashSpec, type RowLayout, clampTo, flashFlops, flashSpec, keyTiles, naturalLse, probability, queryRowTile, rowStart, scoreAt, scoreMax, stageRows, storageTile,
} from "./attention-spec.js";
import { type Expr, type Kernel, BodyBuilder, bin, call, f32, iadd, id, idiv, imul, load, lt, u32 } from "./kernel.js";
import { type LowerContext, type LoweredKernel, LoweringError } from "./lower.js";
import { matmulStrategy } from "./matmul.js";
import type { Target } from "./target.js";

/** The kernels of a flash_attention node; `layout` where the fuse pass folded views of its operands or result. */
export function lowerFlashAttention(node: Node<"flash_attention">, ctx: LowerContext, layout: Partial<FlashLayouts> = {}): LoweredKernel[] {
  const spec = flashSpec(node, ctx.name, ctx.source, layout);
  if (spec.g * spec.sq === 0) return [];
  if (isDecode(spec)) return decodeKernels(spec, ctx.target, node.inputs.length);
  const kernel = flashAttentionKernel(spec, ctx.target);
  const args = [
    ...node.inputs.map((_, index) => ({ kind: "in" as const, index })),
    { kind: "out" as const, index: 0 }, { kind: "out" as const, index: 1 },
  ];
  return [{ kernel, args }];
}

/**
 * A fusion of kind "attention" (passes/fuse.ts): one flash_attention whose q, k, v are
 * strided views of the fusion's inputs with contiguous rows, and whose output may be stored
 * through transposes and reshapes. The kernels are flash_attention's with those row
 * layouts; two operands viewing one buffer bind it twice (read-only).
 */
export function lowerAttentionFusion(node: Node<"fusion">, ctx: LowerContext): LoweredKernel[] {
  const body = node.params.body;
  const flash = body.nodes.find((n): n is Node<"flash_attention" | "flash_attention_bwd"> => n.prim === "flash_attention" || n.prim === "flash_attention_bwd");
  if (!flash) throw new LoweringError(`attention fusion @${body.name} holds no flash_attention`);
  const rows = flashRowOperands(flash.prim, flash.params);
  const { ev, reads, remap } = templateOperands(body, flash);
  const layout: { -readonly [K in keyof FlashLayouts]?: FlashLayouts[K] } = {};
  reads.forEach((read, i) => {
    const role = rows.get(i);
    if (role) layout[role] = rowLayout(read.view, `@${body.name} operand ${i}`);
    else if (read.chain.length) throw new LoweringError(`attention fusion @${body.name}: operand ${i} of ${flash.prim} is read whole, not through views`);
  });
  const outputOf = flash.outputs.map((v, i) => {
    const at = body.outputs.findIndex((o) => o === v || (i === 0 && ev.storedThrough(o)?.value === v));
    if (at < 0) throw new LoweringError(`attention fusion @${body.name} does not return result ${i} of ${flash.prim}`);
    const through = i === 0 && body.outputs[at] !== v ? ev.storedThrough(body.outputs[at]!) : undefined;
    if (through) layout.out = rowLayout(through.view, `@${body.name} result`);
    return at;
  });
  const kernels = flash.prim === "flash_attention"
    ? lowerFlashAttention(flash as Node<"flash_attention">, ctx, layout)
    : lowerFlashAttentionBwd(flash as Node<"flash_attention_bwd">, ctx, layout);
  return remap(kernels, outputOf);
}

/** A [G, S, W] view as rows: unit stride along W. */
function rowLayout(view: StridedView, what: string): RowLayout {
  const [group, row, col] = view.strides as [number, number, number];
  if (view.shape[2]! > 1 && col !== 1) throw new LoweringError(`attention fusion ${what}: rows are not contiguous (stride ${col})`);
  return { offset: view.offset, group: view.shape[0] === 1 ? 0 : group, row: view.shape[1] === 1 ? 0 : row };
}

export function flashAttentionKernel(spec: FlashSpec, target: Target, strategy = matmulStrategy(target)): Kernel {
  const flops = flashFlops(spec, { qk: 1, pv: 1 });
  const kernel = { ...oneAttentionKernel(spec, target, strategy), flops };
  if (!target.autotune) return kernel;
  const tilings = attentionTilings(spec, target, strategy);
  if (tilings.length < 2) return kernel;
  return { ...kernel, candidates: tilings.map((t, i) => ({ label: t.label, kernel: i === 0 ? kernel : { ...t.make(), flops } })) };
}

function oneAttentionKernel(spec: FlashSpec, target: Target, strategy: ReturnType<typeof matmulStrategy>): Kernel {
  if (strategy === "subgroup" && target.subgroupSize) return subgroupAttention(spec, target, target.subgroupSize);
  const blocking = attentionBlocking(spec, target);
  return blocking ? tiledAttention(spec, target, blocking) : workgroupAttention(spec, target);
}

/**
 * The forms of the forward an autotuner may time, the default first: query rows per subgroup
 * (32, 16, 8, 4) on CPU adapters, the three best-ranked blockings of the tiled template on GPUs.
 */
function attentionTilings(spec: FlashSpec, target: Target, strategy: ReturnType<typeof matmulStrategy>): { label: string; make: () => Kernel }[] {
  const sg = target.subgroupSize;
  if (strategy === "subgroup" && sg) {
    const first = cpuRows(spec, sg);
    return [first, ...[32, 16, 8, 4].filter((r) => r !== first)].map((rows) => ({
      label: `${rows} query rows per subgroup`, make: () => subgroupAttention(spec, target, sg, rows),
    }));
  }
  return attentionBlockings(spec, target).slice(0, 3).map((t) => ({
    label: `${t.BQ} rows × ${t.BK} keys, ${t.keys} keys per invocation`, make: () => tiledAttention(spec, target, t),
  }));
}

/**
 * Keys per K/V tile from the workgroup storage the target grants: both tiles must fit
 * (16 KiB, WebGPU's default, holds 32 keys at head dim 64 and 8 at 256).
 */
export const keyTile = (spec: FlashSpec, target: Target): number => storageTile(target, spec.d + spec.dv, 64);

/**
 * The prologue of the workgroup templates (the forward and the backward's dQ): BQ query rows
 * per workgroup, one per invocation (`row`, clamped to the last row as `rowC`), K/V tiles of BK keys.
 */
export function workgroupRows(spec: FlashSpec, target: Target) {
  const BQ = Math.min(64, target.limits.maxComputeInvocationsPerWorkgroup);
  const BK = keyTile(spec, target);
  const { b, grid, g, kvg, m0 } = queryRowTile(spec, target, BQ);
  const tid = b.let("tid", id("local", 0));
  const row = b.let("row", iadd(m0, tid));
  const rowC = b.let("row_c", clampTo(row, spec.sq));
  return { b, grid, g, kvg, m0, BQ, BK, tid, row, rowC };
}

/** Head widths (q's plus v's) up to which a row's q and accumulator live in registers. */
const MAX_REGISTER_ROW = 128;

/** How an invocation holds its query row and accumulator, and reads the staged K and V tiles. */
interface QueryRow {
  /** K and V tiles as 4-vectors. */
  readonly vec4: boolean;
  /** q · K[j], key j of the staged tile. */
  dot(y: BodyBuilder, j: Expr): Expr;
  /** acc ·= alpha. */
  rescale(x: BodyBuilder, alpha: Expr): void;
  /** acc += p · V[j]. */
  addValue(y: BodyBuilder, j: Expr, p: Expr): void;
  /** out[base + c] = acc[c] · inv. */
  store(x: BodyBuilder, base: Expr, inv: Expr): void;
}

/**
 * q and the accumulator as registers (head widths that fit, multiples of 4): nothing goes to
 * local memory, and each 128-bit read of a K or V tile feeds four multiply-adds.
 */
function registerRow(b: BodyBuilder, D: number, Dv: number, qBase: Expr): QueryRow {
  const q = Array.from({ length: D }, (_, d) => b.let(`q${d}`, load("f32", "q", iadd(qBase, u32(d)))));
  const acc = Array.from({ length: Dv }, (_, c) => b.var(`acc${c}`, f32(0)));
  /** The 4-vectors of row j of a tile of rows `width` wide. */
  const quads = (y: BodyBuilder, tile: string, j: Expr, width: number) => {
    const at = y.let(`${tile}_at`, imul(j, u32(width / 4)));
    return Array.from({ length: width / 4 }, (_, i) => y.load4(`${tile}${i}`, "f32", tile, i === 0 ? at : iadd(at, u32(i))));
  };
  return {
    vec4: true,
    dot: (y, j) => {
      let dot: Expr = f32(0);
      quads(y, "Ks", j, D).forEach((k4, d4) => {
        for (let c = 0; c < 4; c++) dot = call("fma", q[4 * d4 + c]!, k4[c]!, dot);
        dot = y.let("dot", dot);
      });
      return dot;
    },
    rescale: (x, alpha) => acc.forEach((a) => x.assign(a, bin("mul", a, alpha))),
    addValue: (y, j, p) =>
      quads(y, "Vs", j, Dv).forEach((v4, c4) => {
        for (let c = 0; c < 4; c++) y.assign(acc[4 * c4 + c]!, call("fma", p, v4[c]!, acc[4 * c4 + c]!));
      }),
    store: (x, base, inv) => acc.forEach((a, c) => x.store("out", iadd(base, u32(c)), bin("mul", a, inv))),
  };
}

/** q and the accumulator as per-invocation arrays, walked in loops (any head width). */
function arrayRow(b: BodyBuilder, D: number, Dv: number, qBase: Expr): QueryRow {
  const q = b.array("q_row", "f32", D);
  b.for("d", u32(0), u32(D), (d, x) => x.store(q, d, load("f32", "q", iadd(qBase, d)), "private"));
  const acc = b.array("acc", "f32", Dv);
  b.for("c", u32(0), u32(Dv), (c, x) => x.store(acc, c, f32(0), "private"));
  const accAt = (c: Expr) => load("f32", acc, c, "private");
  return {
    vec4: false,
    dot: (y, j) => {
      const dot = y.var("dot", f32(0));
      y.for("d", u32(0), u32(D), (d, z) =>
        z.assign(dot, call("fma", load("f32", q, d, "private"), load("f32", "Ks", iadd(imul(j, u32(D)), d), "workgroup"), dot)));
      return dot;
    },
    rescale: (x, alpha) => x.for("c", u32(0), u32(Dv), (c, y) => y.store(acc, c, bin("mul", accAt(c), alpha), "private")),
    addValue: (y, j, p) =>
      y.for("c", u32(0), u32(Dv), (c, z) =>
        z.store(acc, c, call("fma", p, load("f32", "Vs", iadd(imul(j, u32(Dv)), c), "workgroup"), accAt(c)), "private")),
    store: (x, base, inv) => x.for("c", u32(0), u32(Dv), (c, y) => y.store("out", iadd(base, c), bin("mul", accAt(c), inv))),
  };
}

/**
 * The one-row template (the tiled one's fallback): a workgroup of BQ invocations owns BQ
 * query rows (one each, its q row and its accumulator in registers where the head width
 * allows, otherwise in per-invocation arrays, which ptxas puts on a stack); K and V tiles
 * of BK keys are staged in workgroup memory by all invocations together. Per tile each row
 * computes its BK scores, takes their max once, rescales its accumulator once and adds p·v;
 * the sum is divided once at the end. Causal tiles past the workgroup's last row are never
 * loaded, and only tiles crossing the diagonal or the end of the keys test bounds.
 */
function workgroupAttention(spec: FlashSpec, target: Target): Kernel {
  const { sq, d: D, sk, dv: Dv } = spec;
  const { b, grid, g, kvg, m0, BQ, BK, tid, row, rowC } = workgroupRows(spec, target);

  const qBase = b.let("q_base", rowStart(spec.layout.q, g, rowC));
  const inRegisters = D % 4 === 0 && Dv % 4 === 0 && D + Dv <= MAX_REGISTER_ROW;
  const qr = (inRegisters ? registerRow : arrayRow)(b, D, Dv, qBase);
  const m = b.var("m", f32(MASKED));
  const l = b.var("l", f32(0));
  const s = b.array("s", "f32", BK);

  const tile = (x: BodyBuilder, kb: Expr, bounds: boolean) => {
    // Stage K[kb .. kb+BK) and V likewise; keys past Sk read as zeros.
    stageRows(x, { name: "k", shared: "Ks", width: D, layout: spec.layout.k, vec4: qr.vec4 }, kvg, kb, sk, BK, tid, BQ);
    stageRows(x, { name: "v", shared: "Vs", width: Dv, layout: spec.layout.v, vec4: qr.vec4 }, kvg, kb, sk, BK, tid, BQ);
    x.barrier();
    const tMax = x.var("t_max", f32(MASKED));
    x.for("j", u32(0), u32(BK), (j, y) => {
      const { score } = scoreAt(y, spec, qr.dot(y, j), g, rowC, iadd(kb, j), bounds);
      y.store(s, j, score, "private");
      y.assign(tMax, scoreMax(y, "mx", tMax, score));
    });
    const mNew = scoreMax(x, "m_new", m, tMax);
    const alpha = x.let("alpha", call("exp2", bin("sub", m, mNew)));
    x.assign(m, mNew);
    x.assign(l, bin("mul", l, alpha));
    qr.rescale(x, alpha);
    x.for("j", u32(0), u32(BK), (j, y) => {
      const t = y.let("t_j", load("f32", s, j, "private"));
      const keep = bounds || spec.mask ? y.let("kept", bin("gt", t, f32(MASKED))) : undefined;
      const p = probability(y, t, mNew, keep);
      y.assign(l, bin("add", l, p));
      qr.addValue(y, j, p);
    });
    x.barrier();
  };
  keyTiles(b, spec, m0, BQ, BK, tile);

  b.if(lt(row, u32(sq)), (x) => {
    const inv = x.let("inv", bin("div", f32(1), l));
    qr.store(x, x.let("out_base", rowStart(spec.layout.out, g, row)), inv);
    x.store("lse", iadd(imul(g, u32(sq)), row), naturalLse(m, l));
  });
  const width = qr.vec4 ? 4 : 1;
  return {
    name: spec.name, source: spec.source, bindings: spec.bindings,
    workgroupSize: [BQ, 1, 1], grid,
    shared: [
      { name: "Ks", t: "f32", size: (BK * D) / width, width },
      { name: "Vs", t: "f32", size: (BK * Dv) / width, width },
    ],
    body: b.stmts,
  };
}
