/**
 * Routed lowering of moe_ffn_bwd: the gradients of a top-k mixture of experts with each
 * token's rows going to its k experts only, as the forward (codegen/moe.ts) does, and no
 * read-back to the host. With dO the output's cotangent, for each chosen (token t, expert e)
 * slot s of weight w:
 *   pre_s = x_t·w1_e + b1_e, up_s = x_t·w3_e, hid_s = act(pre_s[, up_s])   (recomputed)
 *   g_s = dO_t·w2_eᵀ;  d hid_s = w·g_s;  (d pre_s, d up_s) = act'(pre_s, up_s)·d hid_s
 *   d w_s = hid_s·g_s + b2_e·dO_t                (the slot's weight's cotangent)
 *   dW2_e = Σ_s hid_sᵀ·(w·dO_t),  db2_e = Σ_s w·dO_t
 *   dW1_e = Σ_s x_tᵀ·d pre_s,  db1_e = Σ_s d pre_s,  dW3_e = Σ_s x_tᵀ·d up_s
 *   dx_t = Σ_j d pre_s·w1_eᵀ [+ d up_s·w3_eᵀ] (j in order) + d logits_t·gateᵀ
 *   d logits: the router's derivative of the slot weights, d gate = xᵀ·d logits.
 * Kernels: logits, route, align (the forward's, align also writing where each expert's rows
 * start); pre [up] g (grouped matmuls: the forward's template, w2 read transposed for g); act
 * (one workgroup per sorted row: the activation and its derivative, evaluated from the body's
 * activation graphs, w·hid stored, d w summed in a fixed tree, x's and dO's rows copied in
 * sorted order, zeros on padding rows); dw2 dw1 [dw3] (the matmul template with a k range per
 * batch: expert e's range of the sorted rows); db2 db1 (column sums over the same ranges);
 * dx_slots [dx_slots_up] (grouped matmuls reading w1 and w3 transposed, scattered to the
 * slots); router (one token per invocation); dgate and dx (the matmul template; dx adds the
 * token's slots in order in its epilogue). Every result has one writer and every sum a fixed
 * order: no atomics, and the same bits on every run.
 *
 * The activation: the backward's body (frontend/moe-rules.ts) calls the forward activation
 * graph (pre[, up]) -> hid and its derivative (pre[, up], d hid) -> (d pre[, d up]); both are
 * elementwise and evaluated at each element through the fusion code (BodyEval).
 */
import type { AbstractValue } from "../ir/dtype.js";
import type { Graph, Node } from "../ir/graph.js";
import { type StridedView, contiguous } from "../ir/view.js";
import { moeActivationCalls, moeOperandNames } from "../ir/primitives.js";
import { Index } from "./elementwise.js";
import { BodyEval, site } from "./fused-body.js";
import { gridFor, groupIndex } from "./indexing.js";
import { type Expr, BodyBuilder, bin, call, eq, f32, ge, iadd, id, idiv, imul, irem, load, lt, select, u32 } from "./kernel.js";
import { type LowerContext, type LoweredKernel, LoweringError } from "./lower.js";
import { type MatmulSpec, matmulKernel } from "./matmul.js";
import {
  type MoeBinding, MoeKernels, SENTINEL, alignKernel, kernelOf, logitsKernel, moeShape, routeKernel, sortedRows, viewOperand,
} from "./moe.js";
import { treeReduce } from "./reduce.js";
import { renameLocals } from "./traverse.js";

const WIDTH = 64;

/** The activation graphs the backward's body calls: forward (pre[, up]) -> hid, derivative (pre[, up], d hid) -> (d pre[, d up]). */
function activationGraphs(node: Node<"moe_ffn_bwd">): { act: Graph; dact: Graph } {
  const calls = moeActivationCalls(node.params.body, node.params.gated);
  // The inline pass runs a body without them as a call of itself (passes/inline.ts).
  if (!calls) throw new LoweringError(`moe_ffn_bwd: @${node.params.body.name} calls no activation graph and derivative (frontend/moe-rules.ts makes the activation a call before differentiating)`);
  return calls;
}

export function lowerMoeBwd(node: Node<"moe_ffn_bwd">, ctx: LowerContext): LoweredKernel[] {
  const { T, d, E, h, k, tile, rows, tiles, used } = moeShape(node, ctx.target);
  const { b1, b2, gated, capacity, router } = node.params;
  const names = moeOperandNames(node.params);
  const cotangent = names.length;
  const S = T * k;
  const f32s = (...shape: number[]): AbstractValue => ({ dtype: "f32", shape });
  const u32s = (...shape: number[]): AbstractValue => ({ dtype: "u32", shape });
  const temps: [string, AbstractValue][] = [
    ["logits", f32s(T, E)], ["ids", u32s(S)], ["weights", f32s(S)], ["sorted", u32s(rows)], ["plan", u32s(1 + tiles)],
    ...(capacity ? [["kept", u32s(S)] as [string, AbstractValue]] : []),
    ["segments", u32s(E + 1)], ["pre", f32s(rows, h)], ...(gated ? [["up", f32s(rows, h)] as [string, AbstractValue]] : []),
    ["g", f32s(rows, h)], ["hidw", f32s(rows, h)], ["xs", f32s(rows, d)], ["dos", f32s(rows, d)], ["dpre", f32s(rows, h)], ...(gated ? [["dup", f32s(rows, h)] as [string, AbstractValue]] : []),
    ["dws", f32s(S)], ["dlogits", f32s(T, E)], ["dxs", f32s(S, d)], ...(gated ? [["dxs_up", f32s(S, d)] as [string, AbstractValue]] : []),
  ];
  const ks = new MoeKernels(node as unknown as Node<"moe_ffn">, ctx, temps);
  const src = ctx.source;
  const result = (name: string): MoeBinding => ks.out(`d_${name}`, names.indexOf(name));
  const dOut = ks.inp("d_out", cotangent);
  if (T === 0) {
    // No token: every cotangent is zero.
    for (const name of names) fillZero(ks, result(name), node.outputs[names.indexOf(name)]!.shape.reduce((a, b) => a * b, 1));
    return ks.kernels;
  }
  logitsKernel(ks);
  routeKernel(ks);
  alignKernel(ks);

  /** A grouped matmul over the sorted rows into [rows, h] or scattered to the slots, B read through `view` (batched by expert). */
  const grouped = (name: string, list: MoeBinding[], a: { name: string; gather: boolean; cols: number }, bName: string, view: StridedView,
    out: string, scatter: boolean, epilogue?: MatmulSpec["epilogue"]) => {
    const { bindings, args } = ks.bind(list);
    const n = view.shape[2]!, kDim = view.shape[1]!;
    const av = viewOperand(contiguous([rows, a.cols]), false), bv = viewOperand(view, true);
    const spec: MatmulSpec = {
      name: `${ctx.name}_${name}`, source: src, dtype: "f32", batch: 1, m: rows, n, k: kDim, bindings, out, flops: 2 * used * n * kDim,
      lhs: { name: a.name, kContiguous: true, addr: (_b, _e, row, c) => av.addr(u32(0), row, c), strides: av.strides },
      rhs: { name: bName, nContiguous: bv.contiguous, addr: (_b, e, c, col) => bv.addr(e, c, col), strides: bv.strides },
      grouped: sortedRows(ks, { gather: a.gather, scatter }),
      ...(epilogue ? { epilogue } : {}),
    };
    ks.push(matmulKernel(spec, ctx.target), args);
  };
  const transposed = (w: [number, number, number]): StridedView => ({ shape: [w[0], w[2], w[1]], offset: 0, strides: [w[1] * w[2], 1, w[2]] });
  let calls = 0;
  const addBias = (bias: string): MatmulSpec["epilogue"] => ({
    bindings: [],
    apply: (acc, at) => ({ stmts: [], value: bin("add", acc, load("f32", bias, iadd(imul(at.batch[0]!, u32(h)), at.col))) }),
  });

  // pre (+ b1), up: the forward's first layer, recomputed; g = dO_t·w2ᵀ.
  grouped("pre", [ks.inp("x"), ks.inp("w1"), ...(b1 ? [ks.inp("b1")] : []), ks.tmp("sorted"), ks.tmp("plan"), ks.tmp("pre", true)],
    { name: "x", gather: true, cols: d }, "w1", contiguous([E, d, h]), "pre", false, b1 ? addBias("b1") : undefined);
  if (gated)
    grouped("up", [ks.inp("x"), ks.inp("w3"), ks.tmp("sorted"), ks.tmp("plan"), ks.tmp("up", true)],
      { name: "x", gather: true, cols: d }, "w3", contiguous([E, d, h]), "up", false);
  grouped("g", [dOut, ks.inp("w2"), ks.tmp("sorted"), ks.tmp("plan"), ks.tmp("g", true)],
    { name: "d_out", gather: true, cols: d }, "w2", transposed([E, h, d]), "g", false);

  activationKernel(ks, node, dOut);

  // Per expert: its rows' sums, in order. The weights' gradients are matmuls over the
  // expert's range of sorted rows (the matmul template with a k range per batch).
  const segment = (name: string, out: MoeBinding, [a, aw]: [string, number], [bb, bw]: [string, number], m: number, n: number) => {
    const { bindings, args } = ks.bind([ks.tmp(a), ks.tmp(bb), ks.tmp("segments"), out]);
    ks.push(matmulKernel({
      name: `${ctx.name}_${name}`, source: src, dtype: "f32", batch: E, m, n, k: rows, bindings, out: out[0], flops: 2 * m * n * used,
      // A[i, r] = a[r, i]: m-contiguous; B[r, j] = b[r, j].
      lhs: { name: a, kContiguous: false, addr: (_b, _e, i, r) => iadd(imul(r, u32(aw)), i), strides: { row: 1, col: aw, baseAlign: 0 } },
      rhs: { name: bb, nContiguous: true, addr: (_b, _e, r, j) => iadd(imul(r, u32(bw)), j), strides: { row: bw, col: 1, baseAlign: 0 } },
      kRange: { multiple: tile, at: (_b, e) => ({ start: load("u32", "segments", e), end: load("u32", "segments", iadd(e, u32(1))) }) },
    }, ctx.target), args);
  };
  segment("dw2", result("w2"), ["hidw", h], ["dos", d], h, d);
  segment("dw1", result("w1"), ["xs", d], ["dpre", h], d, h);
  if (gated) segment("dw3", result("w3"), ["xs", d], ["dup", h], d, h);
  if (b2) biasKernel(ks, "db2", result("b2"), d, { bindings: [ks.tmp("dos"), ks.tmp("sorted"), ks.tmp("weights")], buffer: "dos", width: d, scale: (b, r) => sortedSlot(b, r).weight });
  if (b1) biasKernel(ks, "db1", result("b1"), h, { bindings: [ks.tmp("dpre")], buffer: "dpre", width: h });

  // Each slot's share of dx: d pre·w1ᵀ (+ d up·w3ᵀ), scattered to the slot.
  grouped("dx_slots", [ks.tmp("dpre"), ks.inp("w1"), ks.tmp("sorted"), ks.tmp("plan"), ks.tmp("dxs", true)],
    { name: "dpre", gather: false, cols: h }, "w1", transposed([E, d, h]), "dxs", true);
  if (gated)
    grouped("dx_slots_up", [ks.tmp("dup"), ks.inp("w3"), ks.tmp("sorted"), ks.tmp("plan"), ks.tmp("dxs_up", true)],
      { name: "dup", gather: false, cols: h }, "w3", transposed([E, d, h]), "dxs_up", true);

  routerKernel(ks, router);

  // d gate = xᵀ·d logits; dx = d logits·gateᵀ + the token's slots (j in order; a dropped choice adds 0).
  {
    const { bindings, args } = ks.bind([ks.inp("x"), ks.tmp("dlogits"), result("gate")]);
    const xv = viewOperand({ shape: [d, T], offset: 0, strides: [1, d] }, false), lv = viewOperand(contiguous([T, E]), false);
    ks.push(matmulKernel({
      name: `${ctx.name}_dgate`, source: src, dtype: "f32", batch: 1, m: d, n: E, k: T, bindings, out: "d_gate",
      lhs: { name: "x", kContiguous: false, addr: (_b, _e, r, c) => xv.addr(u32(0), r, c), strides: xv.strides },
      rhs: { name: "dlogits", nContiguous: true, addr: (_b, _e, c, col) => lv.addr(u32(0), c, col), strides: lv.strides },
    }, ctx.target), args);
  }
  {
    const { bindings, args } = ks.bind([ks.tmp("dlogits"), ks.inp("gate"), ks.tmp("dxs"), ...(gated ? [ks.tmp("dxs_up")] : []), ...(capacity ? [ks.tmp("kept")] : []), result("x")]);
    const lv = viewOperand(contiguous([T, E]), false), gv = viewOperand({ shape: [E, d], offset: 0, strides: [1, E] }, false);
    ks.push(matmulKernel({
      name: `${ctx.name}_dx`, source: src, dtype: "f32", batch: 1, m: T, n: d, k: E, bindings, out: "d_x",
      lhs: { name: "dlogits", kContiguous: true, addr: (_b, _e, r, c) => lv.addr(u32(0), r, c), strides: lv.strides },
      rhs: { name: "gate", nContiguous: false, addr: (_b, _e, c, col) => gv.addr(u32(0), c, col), strides: gv.strides },
      epilogue: {
        bindings: [],
        apply: (acc, at) => {
          const call_ = calls++;
          const y = new BodyBuilder();
          const v = y.var("dx", acc);
          for (let j = 0; j < k; j++) {
            const slot = iadd(imul(at.row, u32(k)), u32(j));
            const at_ = iadd(imul(slot, u32(d)), at.col);
            const share = gated ? bin("add", load("f32", "dxs", at_), load("f32", "dxs_up", at_)) : load("f32", "dxs", at_);
            y.assign(v, bin("add", v, capacity ? select(bin("ne", load("u32", "kept", slot), u32(0)), share, f32(0)) : share));
          }
          return renameLocals(y.stmts, v, (name) => `${name}_e${call_}`);
        },
      },
    }, ctx.target), args);
  }
  return ks.kernels;
}

/** Sorted row `row`'s slot, whether it is one (not padding), and its gate weight (0 for padding). */
function sortedSlot(b: BodyBuilder, row: Expr): { slot: Expr; live: Expr; weight: Expr } {
  const slot = b.let("slot", load("u32", "sorted", row));
  const live = b.let("live", bin("ne", slot, u32(SENTINEL)));
  return { slot, live, weight: b.let("w", select(live, load("f32", "weights", select(live, slot, u32(0))), f32(0))) };
}

/** One output filled with zeros. */
function fillZero(ks: MoeKernels, out: MoeBinding, size: number): void {
  if (size === 0) return;
  const { bindings, args } = ks.bind([out]);
  const groups = Math.ceil(size / WIDTH);
  const grid = gridFor(groups, ks.ctx.target);
  const b = new BodyBuilder(new Map(bindings.map((x) => [x.name, 1])));
  const i = b.let("i", iadd(imul(groupIndex(b, "wg", grid, groups), u32(WIDTH)), id("local", 0)));
  b.if(lt(i, u32(size)), (x) => x.store(out[0], i, f32(0)));
  ks.push(kernelOf(`${ks.ctx.name}_zero_${out[0]}`, ks.ctx.source, bindings, grid, b), args);
}

/**
 * act: one workgroup per sorted row. Each invocation takes columns of the row: the hidden
 * value act(pre[, up]) and, with d hid = w·g, the activation's derivative (d pre[, d up]);
 * padding rows store zeros, so the segment sums may run over them. d w of the row's slot is
 * hid·g (+ b2·dO_t) summed over the workgroup in a fixed tree.
 */
function activationKernel(ks: MoeKernels, node: Node<"moe_ffn_bwd">, dOut: MoeBinding): void {
  const { d, h, k, tile, rows } = moeShape(ks.node, ks.ctx.target);
  const { b2, gated } = node.params;
  const { act, dact } = activationGraphs(node);
  const { bindings, args } = ks.bind([
    ks.tmp("sorted"), ks.tmp("plan"), ks.tmp("weights"), ks.tmp("pre"), ...(gated ? [ks.tmp("up")] : []), ks.tmp("g"),
    ks.inp("x"), dOut, ...(b2 ? [ks.inp("b2")] : []),
    ks.tmp("hidw", true), ks.tmp("xs", true), ks.tmp("dos", true), ks.tmp("dpre", true), ...(gated ? [ks.tmp("dup", true)] : []), ks.tmp("dws", true),
  ]);
  const grid = gridFor(rows, ks.ctx.target);
  const b = new BodyBuilder(new Map(bindings.map((x) => [x.name, 1])));
  const row = groupIndex(b, "row", grid, rows);
  const tid = b.let("tid", id("local", 0));
  const { slot, live, weight: w } = sortedSlot(b, row);
  const part = b.var("part", f32(0));
  const actEval = new BodyEval(act, act.inputs.map((_, i) => `act_in${i}`));
  const dactEval = new BodyEval(dact, dact.inputs.map((_, i) => `dact_in${i}`));
  b.for("col", tid, u32(h), (col, x) => {
    const at = x.let("at", iadd(imul(row, u32(h)), col));
    const p = x.let("p", load("f32", "pre", at));
    const u = gated ? x.let("u", load("f32", "up", at)) : undefined;
    const gv = x.let("gv", load("f32", "g", at));
    const c = x.let("c", bin("mul", w, gv));
    // The activation graphs are elementwise over the dense [E, T, h]: any (expert, token) of column col.
    const point = (g: Graph) => new Index(x, g.outputs[0]!.shape, { idx: [u32(0), u32(0), col] });
    const ai = point(act);
    const given = (ins: readonly unknown[], vals: (Expr | undefined)[]) => (v: unknown) => {
      const i = ins.indexOf(v);
      return i >= 0 ? vals[i] : undefined;
    };
    const hv = x.let("hv", actEval.eval(act.outputs[0]!, x, ai, site(ai, given(act.inputs, [p, u]))));
    const di = point(dact);
    const ds = site(di, given(dact.inputs, gated ? [p, u, c] : [p, c]));
    const dp = dactEval.eval(dact.outputs[0]!, x, di, ds);
    x.store("hidw", at, select(live, bin("mul", w, hv), f32(0)));
    x.store("dpre", at, select(live, dp, f32(0)));
    if (gated) x.store("dup", at, select(live, dactEval.eval(dact.outputs[1]!, x, di, ds), f32(0)));
    x.assign(part, call("fma", hv, gv, part));
  }, WIDTH);
  // The row's token's x and dO, copied in sorted order (zeros for padding) for the weights' gradients.
  const token = b.let("token", select(live, idiv(slot, u32(k)), u32(0)));
  const e = b2 ? b.let("e", select(live, load("u32", "plan", iadd(u32(1), idiv(row, u32(tile)))), u32(0))) : undefined;
  b.for("col", tid, u32(d), (col, x) => {
    const at = x.let("at", iadd(imul(row, u32(d)), col)), from = x.let("token_at", iadd(imul(token, u32(d)), col));
    const dO = x.let("d_o", load("f32", "d_out", from));
    x.store("xs", at, select(live, load("f32", "x", from), f32(0)));
    x.store("dos", at, select(live, dO, f32(0)));
    if (e) x.assign(part, call("fma", load("f32", "b2", iadd(imul(e, u32(d)), col)), dO, part));
  }, WIDTH);
  b.store("red", tid, part, "workgroup");
  b.barrier();
  treeReduce(b, "reduce_sum", "f32", "red", u32(0), tid, WIDTH);
  b.if(bin("and", eq(tid, u32(0)), live), (x) => x.store("dws", slot, load("f32", "red", u32(0), "workgroup")));
  ks.push(kernelOf(`${ks.ctx.name}_act`, ks.ctx.source, bindings, grid, b, [{ name: "red", t: "f32", size: WIDTH }]), args);
}

/** The rows a bias gradient sums: row r of `buffer` (its rows `width` long), times `scale` where given. */
interface BiasRows {
  readonly bindings: MoeBinding[];
  readonly buffer: string;
  readonly width: number;
  readonly scale?: (b: BodyBuilder, r: Expr) => Expr;
}

/** out[e] (n) = Σ over expert e's sorted rows r, in order, of the row: one column per invocation. */
function biasKernel(ks: MoeKernels, name: string, out: MoeBinding, n: number, rowsOf: BiasRows): void {
  const { E } = moeShape(ks.node, ks.ctx.target);
  const { bindings, args } = ks.bind([ks.tmp("segments"), ...rowsOf.bindings, out]);
  const perExpert = Math.ceil(n / WIDTH), groups = E * perExpert;
  const grid = gridFor(groups, ks.ctx.target);
  const b = new BodyBuilder(new Map(bindings.map((x) => [x.name, 1])));
  const wg = groupIndex(b, "wg", grid, groups);
  const e = b.let("e", idiv(wg, u32(perExpert)));
  const j = b.let("j", iadd(imul(irem(wg, u32(perExpert)), u32(WIDTH)), id("local", 0)));
  const col = b.let("col", bin("min", j, u32(n - 1)));
  const acc = b.var("acc", f32(0));
  b.for("r", load("u32", "segments", e), load("u32", "segments", iadd(e, u32(1))), (r, x) => {
    const v = load("f32", rowsOf.buffer, iadd(imul(r, u32(rowsOf.width)), col));
    x.assign(acc, bin("add", acc, rowsOf.scale ? bin("mul", rowsOf.scale(x, r), v) : v));
  });
  b.if(lt(j, u32(n)), (x) => x.store(out[0], iadd(imul(e, u32(n)), j), acc));
  ks.push(kernelOf(`${ks.ctx.name}_${name}`, ks.ctx.source, bindings, grid, b), args);
}

/**
 * router: one token per invocation, the cotangent of its logits from its slots' d w (0 for a
 * dropped choice). Top k then softmax, and softmax then top k renormalised, both give
 * d l_e = w_j·(d w_j − Σ_i w_i·d w_i) at e = id_j and 0 elsewhere; softmax then top k as it
 * is gives d l_e = p_e·(d p_e − Σ_i w_i·d w_i), d p_e = d w_j at e = id_j, p the softmax.
 */
function routerKernel(ks: MoeKernels, router: Node<"moe_ffn">["params"]["router"]): void {
  const { T, E, k } = moeShape(ks.node, ks.ctx.target);
  const capacity = ks.node.params.capacity;
  const { bindings, args } = ks.bind([ks.tmp("logits"), ks.tmp("ids"), ks.tmp("weights"), ks.tmp("dws"), ...(capacity ? [ks.tmp("kept")] : []), ks.tmp("dlogits", true)]);
  const groups = Math.ceil(T / WIDTH);
  const grid = gridFor(groups, ks.ctx.target);
  const b = new BodyBuilder(new Map(bindings.map((x) => [x.name, 1])));
  const t = b.let("token", iadd(imul(groupIndex(b, "wg", grid, groups), u32(WIDTH)), id("local", 0)));
  if (T % WIDTH) b.if(ge(t, u32(T)), (x) => x.return());
  const slot = (j: number) => iadd(imul(t, u32(k)), u32(j));
  const ids = Array.from({ length: k }, (_, j) => b.let("id", load("u32", "ids", slot(j))));
  const ws = Array.from({ length: k }, (_, j) => b.let("wj", load("f32", "weights", slot(j))));
  const dws = Array.from({ length: k }, (_, j) => {
    const v = load("f32", "dws", slot(j));
    return b.let("dwj", capacity ? select(bin("ne", load("u32", "kept", slot(j)), u32(0)), v, f32(0)) : v);
  });
  const dot = b.var("wdw", f32(0));
  for (let j = 0; j < k; j++) b.assign(dot, call("fma", ws[j]!, dws[j]!, dot));
  const row = b.let("row", imul(t, u32(E)));
  const probs = router === "softmax_topk";
  let mx: Expr = f32(0), total: Expr = f32(1);
  if (probs) {
    const m = b.var("l_max", load("f32", "logits", row));
    b.for("e", u32(1), u32(E), (e, x) => x.assign(m, bin("max", m, load("f32", "logits", iadd(row, e)))));
    const s = b.var("l_sum", f32(0));
    b.for("e", u32(0), u32(E), (e, x) => x.assign(s, bin("add", s, call("exp", bin("sub", load("f32", "logits", iadd(row, e)), m)))));
    mx = m, total = s;
  }
  b.for("e", u32(0), u32(E), (e, x) => {
    const v = x.var("dl", probs ? bin("mul", bin("div", call("exp", bin("sub", load("f32", "logits", iadd(row, e)), mx)), total), bin("sub", f32(0), dot)) : f32(0));
    for (let j = 0; j < k; j++)
      x.if(eq(ids[j]!, e), (y) => y.assign(v, bin("add", v, bin("mul", ws[j]!, probs ? dws[j]! : bin("sub", dws[j]!, dot)))));
    x.store("dlogits", iadd(row, e), v);
  });
  ks.push(kernelOf(`${ks.ctx.name}_router`, ks.ctx.source, bindings, grid, b), args);
}
