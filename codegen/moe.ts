/**
 * Routed lowering of moe_ffn: six kernels that send each token to its k experts only, with
 * no read-back to the host (vLLM's fused_moe layout, ranks by scan as in MLC-LLM):
 *   logits    x·gate through the target's matmul template
 *   route     one token per invocation: top k of its logits (value descending, lower
 *             index first on ties, as top_k), softmax of the k values → ids, weights [T·k]
 *   align     one workgroup: per-expert counts, an exclusive scan of the counts padded to
 *             the tile (offsets, the padded count kept in `plan[0]`), then each expert's
 *             slots in slot order (its rank is a running count: no atomics, deterministic)
 *             into `sorted`, static size T·k + E·(tile − 1), padded with a sentinel; the
 *             expert of each tile in `plan[1 + tile]`. With a capacity, the choices in
 *             (choice, token) order, an expert's past the capacity marked dropped in `kept`
 *   expert1   grouped matmul (the target's matmul template with GroupedRows): tiles of
 *             sorted slots, one expert each; A rows gathered through `sorted` in its loads;
 *             b1 and the activation (the body's elementwise chain) in the epilogue
 *   expert2   grouped matmul of the hidden rows with w2; b2 and the gate weight in the
 *             epilogue, each row scattered to its (token, k) slot
 *   combine   out[t] = Σ_j slot (t, j), j in order (a dropped choice adds 0)
 * Workgroups of the grouped matmuls past the padded count exit at once.
 */
import type { AbstractValue } from "../ir/dtype.js";
import { type StridedView, contiguous } from "../ir/view.js";
import type { Graph, Node, Value } from "../ir/graph.js";
import { moeExpertValues, moeOperandNames } from "../ir/primitives.js";
import { Index } from "./elementwise.js";
import { BodyEval, site, templateOperands } from "./fused-body.js";
import { gridFor, groupIndex } from "./indexing.js";
import {
  type Binding, type Expr, type Kernel, BodyBuilder,
  bin, call, eq, f32, ge, iadd, id, idiv, imul, irem, load, lt, select, u32,
} from "./kernel.js";
import { type Arg, type LowerContext, type LoweredKernel, LoweringError } from "./lower.js";
import { type MatmulSpec, matmulKernel, matmulStrategy, operandStrides } from "./matmul.js";
import type { Target } from "./target.js";
import { renameLocals } from "./traverse.js";

const WIDTH = 64;
/** Marks a padding row of `sorted` and a tile past the padded count in `plan`. */
export const SENTINEL = 0xffffffff;

export interface MoeShape {
  readonly T: number; readonly d: number; readonly E: number; readonly h: number; readonly k: number;
  /** Sorted slots per grouped-matmul tile (rows sharing one expert). */
  readonly tile: number;
  /** Static bound of the sorted slots: T·k + E·(tile − 1), rounded up to whole tiles. */
  readonly rows: number;
  readonly tiles: number;
  /** At most how many of the sorted rows are tokens' choices (T·k; fewer with a capacity): a grouped matmul's useful rows. */
  readonly used: number;
}

/**
 * Tiles are the matmul template's rows per workgroup (32 on CPU adapters, where that
 * measured best for dense matmul), fewer when the average expert gets fewer slots (decode:
 * a tile of 32 rows for one token is 32× the arithmetic), never below a subgroup.
 */
export function moeShape(node: Pick<Node<"moe_ffn">, "inputs" | "params">, target: Target): MoeShape {
  const [T, d] = node.inputs[0]!.shape as [number, number];
  const [E, , h] = node.inputs[2]!.shape as [number, number, number];
  const k = node.params.k;
  const step = matmulStrategy(target) === "subgroup" ? target.subgroupSize! : 16;
  const tile = Math.min(32, Math.max(step, Math.ceil((T * k) / E / step) * step));
  const tiles = Math.ceil((T * k + E * (tile - 1)) / tile);
  const capacity = node.params.capacity;
  return { T, d, E, h, k, tile, rows: tiles * tile, tiles, used: capacity ? Math.min(T * k, E * capacity) : T * k };
}

/** The body values the expert kernels compute through (ir/primitives.ts: moeExpertValues), as a lowering error when missing. */
function expertValues(body: Graph, params: Node<"moe_ffn">["params"]): { pre: Value; up?: Value; hidden: Value } {
  try {
    return moeExpertValues(body, params);
  } catch (e) {
    throw new LoweringError((e as Error).message);
  }
}

/** Device temporaries of the forward, in the order they are allocated; `up` (x·w3) only for gated experts, `kept` only with a capacity. */
const TEMP_NAMES = ["logits", "ids", "weights", "sorted", "plan", "hidden", "slots", "up", "kept"] as const;
type Temp = (typeof TEMP_NAMES)[number];

export function kernelOf(name: string, source: string, bindings: Binding[], grid: [number, number, number], b: BodyBuilder,
  shared: Kernel["shared"] = [], width = WIDTH): Kernel {
  return { name, source, bindings, workgroupSize: [width, 1, 1], grid, shared, body: b.stmts };
}

/** A binding of a routed kernel: its name, where its buffer comes from (an operand, a result, a temporary), its index there, and whether it is written. */
export type MoeBinding = [string, "in" | "out" | "temp", number, boolean];

/**
 * The kernels of one routed node under construction: its operands by name, its device
 * temporaries (allocated in the order given), and the bindings and arguments of each kernel.
 */
export class MoeKernels {
  readonly kernels: LoweredKernel[] = [];
  readonly temps: AbstractValue[];
  private readonly tempNames: string[];
  private readonly names: string[];
  constructor(
    readonly node: Node<"moe_ffn" | "moe_ffn_bwd">,
    readonly ctx: LowerContext,
    temps: readonly (readonly [string, AbstractValue])[],
  ) {
    this.tempNames = temps.map(([n]) => n);
    this.temps = temps.map(([, t]) => t);
    this.names = moeOperandNames(node.params);
  }
  tmp(name: string, write = false): MoeBinding {
    const i = this.tempNames.indexOf(name);
    if (i < 0) throw new LoweringError(`moe kernels of ${this.ctx.name}: no temporary '${name}'`);
    return [name, "temp", i, write];
  }
  has(name: string): boolean {
    return this.tempNames.includes(name);
  }
  /** The forward operand `name` (x, gate, w1, ...); `index` overrides where it is (the backward's cotangent). */
  inp(name: string, index = this.names.indexOf(name)): MoeBinding {
    return [name, "in", index, false];
  }
  out(name: string, index: number): MoeBinding {
    return [name, "out", index, true];
  }
  bind(list: readonly MoeBinding[]): { bindings: Binding[]; args: Arg[] } {
    return {
      bindings: list.map(([name, kind, index, write]): Binding => ({
        name, dtype: kind === "in" ? this.node.inputs[index]!.dtype : kind === "out" ? "f32" : this.temps[index]!.dtype, access: write ? "read_write" : "read",
      })),
      args: list.map(([, kind, index]): Arg => ({ kind, index })),
    };
  }
  push(kernel: Kernel, args: Arg[]): void {
    this.kernels.push(this.kernels.length ? { kernel, args } : { kernel, args, temps: this.temps });
  }
}

/** Where moe_ffn's x, gate, w1 and w2 are read from: strided views the fuse pass folded (row-major by default). */
export type MoeViews = Partial<Record<"x" | "gate" | "w1" | "w2", StridedView>>;

/** A matrix operand (batch, row, col) = offset + batch·s_b + row·s_r + col·s_c, with its strides for the templates. */
export function viewOperand(view: StridedView, batched: boolean) {
  const [sb, sr, sc] = batched ? view.strides : [0, ...view.strides];
  const dims = batched ? [[0], [1], [2]] : [[], [0], [1]];
  const at = (base: Expr, row: Expr, col: Expr) => iadd(base, iadd(imul(row, u32(sr!)), sc === 1 ? col : imul(col, u32(sc!))));
  return {
    contiguous: sc === 1,
    strides: operandStrides(view.shape, dims[0]!, dims[1]!, dims[2]!, view.strides, view.offset),
    addr: (batch: Expr, row: Expr, col: Expr) => at(iadd(u32(view.offset), imul(batch, u32(sb!))), row, col),
  };
}

/** A fusion of kind "moe" (passes/fuse-emit.ts): one moe_ffn reading x, gate, w1 and w2 through strided views of the fusion's inputs. */
export function lowerMoeFusion(node: Node<"fusion">, ctx: LowerContext): LoweredKernel[] {
  const body = node.params.body;
  const moe = body.nodes.find((n): n is Node<"moe_ffn"> => n.prim === "moe_ffn");
  if (!moe) throw new LoweringError(`moe fusion @${body.name} holds no moe_ffn`);
  const { reads, remap } = templateOperands(body, moe);
  const names = moeOperandNames(moe.params);
  const named = { x: 0, gate: 1, w1: 2, w2: names.indexOf("w2") } as const;
  const views: MoeViews = Object.fromEntries(Object.entries(named).map(([k, i]) => [k, reads[i]!.view]));
  reads.forEach((r, i) => {
    if (r.chain.length && !Object.values(named).includes(i as 0)) throw new LoweringError(`moe fusion @${body.name}: operand ${i} of moe_ffn is read whole, not through views`);
  });
  return remap(lowerMoe(moe, ctx, views), moe.outputs.map((v) => body.outputs.indexOf(v)));
}

/** The logits x·gate [T, E] through the target's matmul template, x and gate read through their views. */
export function logitsKernel(ks: MoeKernels, views: MoeViews = {}): void {
  const { T, d, E } = moeShape(ks.node, ks.ctx.target);
  const { bindings, args } = ks.bind([ks.inp("x"), ks.inp("gate"), ks.tmp("logits", true)]);
  const xv = viewOperand(views.x ?? contiguous([T, d]), false), gv = viewOperand(views.gate ?? contiguous([d, E]), false);
  const spec: MatmulSpec = {
    name: `${ks.ctx.name}_logits`, source: ks.ctx.source, dtype: "f32", batch: 1, m: T, n: E, k: d, bindings, out: "logits",
    lhs: { name: "x", kContiguous: xv.contiguous, addr: (_b, _e, t, c) => xv.addr(u32(0), t, c), strides: xv.strides },
    rhs: { name: "gate", nContiguous: gv.contiguous, addr: (_b, _e, c, e) => gv.addr(u32(0), c, e), strides: gv.strides },
  };
  ks.push(matmulKernel(spec, ks.ctx.target), args);
}

/**
 * route: one token per invocation: the top k of its logits (value descending, lower index
 * first on ties, as top_k) as the router says (a softmax over all experts first, or over the
 * k values after) → ids, weights [T·k].
 */
export function routeKernel(ks: MoeKernels): void {
  const { bindings, args } = ks.bind([ks.tmp("logits"), ks.tmp("ids", true), ks.tmp("weights", true)]);
  const { T, E, k } = moeShape(ks.node, ks.ctx.target);
  const router = ks.node.params.router;
  const grid = gridFor(Math.ceil(T / WIDTH), ks.ctx.target);
  const b = new BodyBuilder(new Map(bindings.map((x) => [x.name, 1])));
  const t = b.let("token", iadd(imul(groupIndex(b, "wg", grid, Math.ceil(T / WIDTH)), u32(WIDTH)), id("local", 0)));
  if (T % WIDTH) b.if(ge(t, u32(T)), (x) => x.return());
  const logits = b.array("logits_t", "f32", E);
  b.for("e", u32(0), u32(E), (e, x) => x.store(logits, e, load("f32", "logits", iadd(imul(t, u32(E)), e)), "private"));
  if (router !== "topk_softmax") {
    // softmax over all E experts first (as the body: exp(l − max) / Σ); top k of the probabilities.
    const mx = b.var("l_max", load("f32", logits, u32(0), "private"));
    b.for("e", u32(1), u32(E), (e, x) => x.assign(mx, bin("max", mx, load("f32", logits, e, "private"))));
    const total = b.var("l_sum", f32(0));
    b.for("e", u32(0), u32(E), (e, x) => {
      const p = x.let("p", call("exp", bin("sub", load("f32", logits, e, "private"), mx)));
      x.store(logits, e, p, "private");
      x.assign(total, bin("add", total, p));
    });
    b.for("e", u32(0), u32(E), (e, x) => x.store(logits, e, bin("div", load("f32", logits, e, "private"), total), "private"));
  }
  const vals = b.array("top", "f32", k);
  const pv = b.var("prev_v", f32(0)), pi = b.var("prev_i", u32(0));
  b.for("j", u32(0), u32(k), (j, x) => {
    const have = x.var("have", u32(0)), bv = x.var("best_v", f32(0)), bi = x.var("best_i", u32(0));
    x.for("e", u32(0), u32(E), (e, y) => {
      const le = y.let("l_e", load("f32", logits, e, "private"));
      // Below the previous pick in top_k's order: value descending, lower index first on ties.
      const after = bin("or", eq(j, u32(0)), bin("or", lt(le, pv), bin("and", eq(le, pv), bin("gt", e, pi))));
      const better = bin("or", eq(have, u32(0)), bin("gt", le, bv));
      y.if(bin("and", after, better), (z) => {
        z.assign(have, u32(1)), z.assign(bv, le), z.assign(bi, e);
      });
    });
    x.store(vals, j, bv, "private");
    x.store("ids", iadd(imul(t, u32(k)), j), bi);
    x.assign(pv, bv), x.assign(pi, bi);
  });
  const weight = (j: Expr) => iadd(imul(t, u32(k)), j);
  if (router === "softmax_topk") {
    b.for("j", u32(0), u32(k), (j, x) => x.store("weights", weight(j), load("f32", vals, j, "private")));
  } else if (router === "softmax_topk_norm") {
    const sum = b.var("sum", f32(0));
    b.for("j", u32(0), u32(k), (j, x) => x.assign(sum, bin("add", sum, load("f32", vals, j, "private"))));
    b.for("j", u32(0), u32(k), (j, x) => x.store("weights", weight(j), bin("div", load("f32", vals, j, "private"), sum)));
  } else {
    // softmax over the k values; the first is the largest.
    const top = b.let("top_max", load("f32", vals, u32(0), "private"));
    const sum = b.var("sum", f32(0));
    b.for("j", u32(0), u32(k), (j, x) => {
      const p = x.let("p", call("exp", bin("sub", load("f32", vals, j, "private"), top)));
      x.store(vals, j, p, "private");
      x.assign(sum, bin("add", sum, p));
    });
    b.for("j", u32(0), u32(k), (j, x) => x.store("weights", weight(j), bin("div", load("f32", vals, j, "private"), sum)));
  }
  ks.push(kernelOf(`${ks.ctx.name}_route`, ks.ctx.source, bindings, grid, b), args);
}

/**
 * align: one workgroup: per-expert counts, an exclusive scan of the counts padded to the
 * tile (offsets; the padded count in `plan[0]`, and with a `segments` temporary each
 * expert's first row and the total), each expert's slots in order into `sorted`, the expert
 * of each tile in `plan`, the choices past a capacity marked in `kept`.
 */
export function alignKernel(ks: MoeKernels): void {
  const { T, E, k, tile, rows, tiles } = moeShape(ks.node, ks.ctx.target);
  const capacity = ks.node.params.capacity;
  const segments = ks.has("segments");
  const { bindings, args } = ks.bind([ks.tmp("ids"), ks.tmp("sorted", true), ks.tmp("plan", true), ...(capacity ? [ks.tmp("kept", true)] : []), ...(segments ? [ks.tmp("segments", true)] : [])]);
  const b = new BodyBuilder(new Map(bindings.map((x) => [x.name, 1])));
  const tid = b.let("tid", id("local", 0));
  const padded = (c: Expr) => imul(idiv(iadd(c, u32(tile - 1)), u32(tile)), u32(tile));
  // With a capacity an expert takes at most `capacity` choices, in (choice, token) order.
  const taken = (c: Expr) => (capacity ? bin("min", c, u32(capacity)) : c);
  b.comment(capacity ? `per-expert counts, at most the capacity (${capacity})` : "per-expert counts");
  b.for("e", tid, u32(E), (e, x) => {
    const c = x.var("count", u32(0));
    x.for("s", u32(0), u32(T * k), (sl, y) => y.if(eq(load("u32", "ids", sl), e), (z) => z.assign(c, iadd(c, u32(1)))));
    x.store("counts", e, taken(c), "workgroup");
  }, WIDTH);
  b.barrier();
  b.comment("exclusive scan of the padded counts: each expert's first row; the total stays on the device");
  b.if(eq(tid, u32(0)), (x) => {
    const acc = x.var("offset", u32(0));
    x.for("e", u32(0), u32(E), (e, y) => {
      y.store("offsets", e, acc, "workgroup");
      if (segments) y.store("segments", e, acc);
      y.assign(acc, iadd(acc, padded(load("u32", "counts", e, "workgroup"))));
    });
    x.store("total", u32(0), acc, "workgroup");
    x.store("plan", u32(0), acc);
    if (segments) x.store("segments", u32(E), acc);
  });
  b.barrier();
  b.comment(capacity
    ? "each expert's choices in (choice, token) order (rank = running count; past the capacity: dropped), its padding, its tiles"
    : "each expert's slots in slot order (rank = running count), its padding, its tiles");
  b.for("e", tid, u32(E), (e, x) => {
    const base = x.let("base", load("u32", "offsets", e, "workgroup"));
    const r = x.var("rank", u32(0));
    const place = (sl: Expr, y: BodyBuilder) => y.if(eq(load("u32", "ids", sl), e), (z) => {
      if (capacity) {
        const fits = z.let("fits", lt(r, u32(capacity)));
        z.if(fits, (w) => w.store("sorted", iadd(base, r), sl));
        z.store("kept", sl, select(fits, u32(1), u32(0)));
      } else z.store("sorted", iadd(base, r), sl);
      z.assign(r, iadd(r, u32(1)));
    });
    if (capacity) x.for("j", u32(0), u32(k), (j, y) => y.for("t", u32(0), u32(T), (t, z) => place(iadd(imul(t, u32(k)), j), z)));
    else x.for("s", u32(0), u32(T * k), (sl, y) => place(sl, y));
    const end = x.let("end", iadd(base, padded(taken(r))));
    x.for("p", iadd(base, taken(r)), end, (p, y) => y.store("sorted", p, u32(SENTINEL)));
    x.for("tile", idiv(base, u32(tile)), idiv(end, u32(tile)), (tl, y) => y.store("plan", iadd(tl, u32(1)), e));
  }, WIDTH);
  const total = b.let("total_rows", load("u32", "total", u32(0), "workgroup"));
  b.for("p", iadd(total, tid), u32(rows), (p, x) => x.store("sorted", p, u32(SENTINEL)), WIDTH);
  b.for("tile", iadd(idiv(total, u32(tile)), tid), u32(tiles), (tl, x) => x.store("plan", iadd(tl, u32(1)), u32(SENTINEL)), WIDTH);
  const shared = [{ name: "counts", t: "u32" as const, size: E }, { name: "offsets", t: "u32" as const, size: E }, { name: "total", t: "u32" as const, size: 1 }];
  ks.push(kernelOf(`${ks.ctx.name}_align`, ks.ctx.source, bindings, [1, 1, 1], b, shared), args);
}

/**
 * The grouped-rows part of a grouped matmul over the sorted slots: each tile's expert from
 * `plan`, tiles past the padded count exit at once; A's rows gathered as the slot's token
 * (`gather`, padding rows read token 0), C's rows scattered to the slot (`scatter`, padding
 * rows not stored).
 */
export function sortedRows(ks: MoeKernels, how: { gather?: boolean; scatter?: boolean }): MatmulSpec["grouped"] {
  const { k, tile } = moeShape(ks.node, ks.ctx.target);
  const slotOf = (b: BodyBuilder, row: Expr) => b.let("slot", load("u32", "sorted", row));
  return {
    tileRows: tile,
    tile: (_b, t, m0) => ({ batch: load("u32", "plan", iadd(t, u32(1))), exit: ge(m0, load("u32", "plan", u32(0))) }),
    ...(how.gather ? { lhsRow: (b: BodyBuilder, row: Expr) => { const sl = slotOf(b, row); return select(eq(sl, u32(SENTINEL)), u32(0), idiv(sl, u32(k))); } } : {}),
    ...(how.scatter ? { outRow: (b: BodyBuilder, row: Expr) => { const sl = slotOf(b, row); return { row: sl, store: bin("ne", sl, u32(SENTINEL)) }; } } : {}),
  };
}

export function lowerMoe(node: Node<"moe_ffn">, ctx: LowerContext, views: MoeViews = {}): LoweredKernel[] {
  const { T, d, E, h, k, rows, tiles, used } = moeShape(node, ctx.target);
  if (T * d === 0) return [];
  const { b1, b2, gated, capacity } = node.params;
  const tempType: Record<Temp, AbstractValue> = {
    logits: { dtype: "f32", shape: [T, E] }, ids: { dtype: "u32", shape: [T * k] }, weights: { dtype: "f32", shape: [T * k] },
    sorted: { dtype: "u32", shape: [rows] }, plan: { dtype: "u32", shape: [1 + tiles] }, hidden: { dtype: "f32", shape: [rows, h] },
    slots: { dtype: "f32", shape: [T * k, d] }, up: { dtype: "f32", shape: [rows, h] }, kept: { dtype: "u32", shape: [T * k] },
  };
  const present = TEMP_NAMES.filter((t) => (t !== "up" || gated) && (t !== "kept" || capacity > 0));
  const ks = new MoeKernels(node, ctx, present.map((t) => [t, tempType[t]] as const));
  const tmp = (name: Temp, write = false) => ks.tmp(name, write);
  const inp = (name: string) => ks.inp(name);
  const src = ctx.source;
  logitsKernel(ks, views);
  routeKernel(ks);
  alignKernel(ks);

  const { pre, up, hidden } = expertValues(node.params.body, node.params);
  const bodyEval = new BodyEval(node.params.body, node.params.body.inputs.map((_, i) => `in${i}`));

  /**
   * A grouped matmul through the target's matmul template: C's rows are the sorted slots,
   * tile by tile (one expert each, from `plan`), contracting `kDim` into `n` columns.
   * expert1 gathers token rows of x in its A loads (padding rows read token 0) and applies
   * b1 and the activation (the body's elementwise chain) in its epilogue; expert2 reads the
   * hidden rows in slot order and scatters each to its (token, k) slot, b2 and the gate
   * weight in its epilogue. A gated expert first runs "up", x·w3 gathered the same way
   * into `up`, which expert1's epilogue reads at its own row and column.
   */
  const grouped = (which: "up" | 1 | 2): void => {
    const first = which !== 2;
    const [n, kDim] = first ? [h, d] : [d, h];
    const list: MoeBinding[] = which === "up"
      ? [inp("x"), inp("w3"), tmp("sorted"), tmp("plan"), tmp("up", true)]
      : which === 1
      ? [inp("x"), inp("w1"), ...(b1 ? [inp("b1")] : []), ...(gated ? [tmp("up")] : []), tmp("sorted"), tmp("plan"), tmp("hidden", true)]
      : [tmp("hidden"), inp("w2"), ...(b2 ? [inp("b2")] : []), tmp("sorted"), tmp("plan"), tmp("weights"), tmp("slots", true)];
    const [aName, bName, outName] = which === "up" ? ["x", "w3", "up"] : which === 1 ? ["x", "w1", "hidden"] : ["hidden", "w2", "slots"];
    const { bindings, args } = ks.bind(list);
    let calls = 0;
    // expert1's A is x (through its view); expert2's is the hidden rows, written here row-major.
    const av = viewOperand((first ? views.x : undefined) ?? contiguous([rows, kDim]), false);
    const bv = viewOperand((which === "up" ? undefined : which === 1 ? views.w1 : views.w2) ?? contiguous([E, kDim, n]), true);
    const spec: MatmulSpec = {
      name: `${ctx.name}_expert${which === "up" ? "1_up" : which}`, source: src, dtype: "f32", batch: 1, m: rows, n, k: kDim, bindings, out: outName,
      flops: 2 * used * n * kDim,
      lhs: { name: aName, kContiguous: av.contiguous, addr: (_b, _e, row, c) => av.addr(u32(0), row, c), strides: av.strides },
      rhs: { name: bName, nContiguous: bv.contiguous, addr: (_b, e, c, col) => bv.addr(e, c, col), strides: bv.strides },
      grouped: sortedRows(ks, first ? { gather: true } : { scatter: true }),
      ...(which === "up" ? {} : { epilogue: {
        bindings: [],
        apply: (acc: Expr, at: { batch: Expr[]; row: Expr; col: Expr }) => {
          const call = calls++;
          const y = new BodyBuilder();
          const e = at.batch[0]!;
          const bias = which === 1 ? b1 : b2;
          let v = bias ? bin("add", acc, load("f32", which === 1 ? "b1" : "b2", iadd(imul(e, u32(n)), at.col))) : acc;
          if (which === 1) {
            const p = y.let("pre", v);
            const g = up ? y.let("up", load("f32", "up", iadd(imul(at.row, u32(h)), at.col))) : undefined;
            const idx = new Index(y, hidden.shape, { idx: [e, u32(0), at.col] });
            v = bodyEval.eval(hidden, y, idx, site(idx, (u) => (u === pre ? p : u === up ? g : undefined)));
          } else v = bin("mul", v, load("f32", "weights", at.row));
          return renameLocals(y.stmts, v, (name) => `${name}_e${call}`);
        },
      } }),
    };
    ks.push(matmulKernel(spec, ctx.target), args);
  };
  if (gated) grouped("up");
  grouped(1);
  grouped(2);

  // combine
  {
    const { bindings, args } = ks.bind([tmp("slots"), ...(capacity ? [tmp("kept")] : []), ks.out("out", 0)]);
    const n = T * d;
    const grid = gridFor(Math.ceil(n / 256), ctx.target);
    const b = new BodyBuilder(new Map(bindings.map((x) => [x.name, 1])));
    const gid = b.let("gid", iadd(imul(groupIndex(b, "wg", grid, Math.ceil(n / 256)), u32(256)), id("local", 0)));
    if (n % 256) b.if(ge(gid, u32(n)), (x) => x.return());
    const t = b.let("token", idiv(gid, u32(d))), c = b.let("c", irem(gid, u32(d)));
    // A dropped choice (past its expert's capacity) has no slot row: it adds 0.
    const slot = (j: Expr) => {
      const v = load("f32", "slots", iadd(imul(iadd(imul(t, u32(k)), j), u32(d)), c));
      return capacity ? select(bin("ne", load("u32", "kept", iadd(imul(t, u32(k)), j)), u32(0)), v, f32(0)) : v;
    };
    const acc = b.var("acc", slot(u32(0)));
    b.for("j", u32(1), u32(k), (j, x) => x.assign(acc, bin("add", acc, slot(j))));
    b.store("out", gid, acc);
    ks.push(kernelOf(`${ctx.name}_combine`, src, bindings, grid, b, [], 256), args);
  }
  return ks.kernels;
}
