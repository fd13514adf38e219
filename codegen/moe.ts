/**
 * Routed lowering of moe_ffn: five kernels that send each token to its k experts only, with
 * no read-back to the host (vLLM's fused_moe layout, ranks by scan as in MLC-LLM):
 *   route     one token per invocation: logits = x·gate, top k (value descending, lower
 *             index first on ties, as top_k), softmax of the k values → ids, weights [T·k]
 *   align     one workgroup: per-expert counts, an exclusive scan of the counts padded to
 *             the tile (offsets, the padded count kept in `plan[0]`), then each expert's
 *             slots in slot order (its rank is a running count: no atomics, deterministic)
 *             into `sorted`, static size T·k + E·(TILE − 1), padded with a sentinel; the
 *             expert of each tile in `plan[1 + tile]`
 *   expert1   grouped matmul: a tile of sorted slots (one expert) × a block of hidden
 *             columns; A rows gathered through `sorted` in its loads; b1 and the activation
 *             (the body's elementwise chain) in the epilogue
 *   expert2   grouped matmul of the hidden rows with w2; b2 and the gate weight in the
 *             epilogue, stored to the row's (token, k) slot
 *   combine   out[t] = Σ_j slot (t, j), j in order
 * Workgroups of the grouped matmuls past the padded count exit at once.
 */
import type { AbstractValue } from "../ir/dtype.js";
import type { Graph, Node, Value } from "../ir/graph.js";
import { Index } from "./elementwise.js";
import { BodyEval, site } from "./fused-body.js";
import { gridFor, groupIndex } from "./indexing.js";
import {
  type Binding, type Expr, type Kernel, BodyBuilder,
  bin, call, eq, f32, ge, iadd, id, idiv, imul, irem, load, lt, select, u32,
} from "./kernel.js";
import { type Arg, type LowerContext, type LoweredKernel, LoweringError } from "./lower.js";

/** Sorted slots per grouped-matmul tile (rows sharing one expert). */
export const MOE_TILE = 16;
/** Columns per grouped-matmul workgroup (one per invocation). */
const COLS = 64;
const WIDTH = 64;
/** Marks a padding row of `sorted` and a tile past the padded count in `plan`. */
export const SENTINEL = 0xffffffff;

export interface MoeShape {
  readonly T: number; readonly d: number; readonly E: number; readonly h: number; readonly k: number;
  /** Static bound of the sorted slots: T·k + E·(TILE − 1), rounded up to whole tiles. */
  readonly rows: number;
  readonly tiles: number;
}

export function moeShape(node: Pick<Node<"moe_ffn">, "inputs" | "params">): MoeShape {
  const [T, d] = node.inputs[0]!.shape as [number, number];
  const [E, , h] = node.inputs[2]!.shape as [number, number, number];
  const k = node.params.k;
  const tiles = Math.ceil((T * k + E * (MOE_TILE - 1)) / MOE_TILE);
  return { T, d, E, h, k, rows: tiles * MOE_TILE, tiles };
}

/** The body values the expert kernels compute through: pre-activation and activation. */
function expertValues(body: Graph, params: Node<"moe_ffn">["params"]): { pre: Value; hidden: Value } {
  const w1 = body.inputs[2]!, w2 = body.inputs[params.b1 ? 4 : 3]!;
  const dot1 = body.nodes.find((n) => n.prim === "dot_general" && n.inputs[1] === w1);
  const dot2 = body.nodes.find((n) => n.prim === "dot_general" && n.inputs[1] === w2);
  if (!dot1 || !dot2) throw new LoweringError(`moe_ffn: @${body.name} has no per-expert matmuls with w1 and w2`);
  let pre = dot1.outputs[0]!;
  if (params.b1) {
    const add = body.nodes.find((n) => n.prim === "add" && n.inputs.includes(pre));
    if (!add) throw new LoweringError(`moe_ffn: @${body.name} adds no b1 to the first layer`);
    pre = add.outputs[0]!;
  }
  return { pre, hidden: dot2.inputs[0]! };
}

const TEMP_NAMES = ["ids", "weights", "sorted", "plan", "hidden", "slots"] as const;
type Temp = (typeof TEMP_NAMES)[number];

function kernelOf(name: string, source: string, bindings: Binding[], grid: [number, number, number], b: BodyBuilder,
  shared: Kernel["shared"] = [], width = WIDTH): Kernel {
  return { name, source, bindings, workgroupSize: [width, 1, 1], grid, shared, body: b.stmts };
}

export function lowerMoe(node: Node<"moe_ffn">, ctx: LowerContext): LoweredKernel[] {
  const s = moeShape(node);
  const { T, d, E, h, k, rows, tiles } = s;
  if (T * d === 0) return [];
  const { b1, b2 } = node.params;
  const operand = { x: 0, gate: 1, w1: 2, b1: 3, w2: b1 ? 4 : 3, b2: b1 ? 5 : 4 };
  const temps: AbstractValue[] = [
    { dtype: "u32", shape: [T * k] }, { dtype: "f32", shape: [T * k] }, { dtype: "u32", shape: [rows] },
    { dtype: "u32", shape: [1 + tiles] }, { dtype: "f32", shape: [rows, h] }, { dtype: "f32", shape: [T * k, d] },
  ];
  const bind = (list: [string, "in" | "out" | "temp", number, boolean][]) => ({
    bindings: list.map(([name, kind, index, write]): Binding => ({
      name, dtype: kind === "in" ? node.inputs[index]!.dtype : kind === "out" ? "f32" : temps[index]!.dtype, access: write ? "read_write" : "read",
    })),
    args: list.map(([, kind, index]): Arg => ({ kind, index })),
  });
  const tmp = (name: Temp, write = false): [string, "temp", number, boolean] => [name, "temp", TEMP_NAMES.indexOf(name), write];
  const inp = (name: keyof typeof operand): [string, "in", number, boolean] => [name, "in", operand[name], false];
  const src = ctx.source;
  const kernels: LoweredKernel[] = [];

  // route
  {
    const { bindings, args } = bind([inp("x"), inp("gate"), tmp("ids", true), tmp("weights", true)]);
    const grid = gridFor(Math.ceil(T / WIDTH), ctx.target);
    const b = new BodyBuilder(new Map(bindings.map((x) => [x.name, 1])));
    const t = b.let("token", iadd(imul(groupIndex(b, "wg", grid, Math.ceil(T / WIDTH)), u32(WIDTH)), id("local", 0)));
    if (T % WIDTH) b.if(ge(t, u32(T)), (x) => x.return());
    const logits = b.array("logits", "f32", E);
    b.for("e", u32(0), u32(E), (e, x) => {
      const acc = x.var("acc", f32(0));
      x.for("c", u32(0), u32(d), (c, y) =>
        y.assign(acc, call("fma", load("f32", "x", iadd(imul(t, u32(d)), c)), load("f32", "gate", iadd(imul(c, u32(E)), e)), acc)));
      x.store(logits, e, acc, "private");
    });
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
    // softmax over the k values; the first is the largest.
    const top = b.let("top_max", load("f32", vals, u32(0), "private"));
    const sum = b.var("sum", f32(0));
    b.for("j", u32(0), u32(k), (j, x) => {
      const p = x.let("p", call("exp", bin("sub", load("f32", vals, j, "private"), top)));
      x.store(vals, j, p, "private");
      x.assign(sum, bin("add", sum, p));
    });
    b.for("j", u32(0), u32(k), (j, x) => x.store("weights", iadd(imul(t, u32(k)), j), bin("div", load("f32", vals, j, "private"), sum)));
    kernels.push({ kernel: kernelOf(`${ctx.name}_route`, src, bindings, grid, b), args, temps });
  }

  // align
  {
    const { bindings, args } = bind([tmp("ids"), tmp("sorted", true), tmp("plan", true)]);
    const b = new BodyBuilder(new Map(bindings.map((x) => [x.name, 1])));
    const tid = b.let("tid", id("local", 0));
    const padded = (c: Expr) => imul(idiv(iadd(c, u32(MOE_TILE - 1)), u32(MOE_TILE)), u32(MOE_TILE));
    b.comment("per-expert counts");
    b.for("e", tid, u32(E), (e, x) => {
      const c = x.var("count", u32(0));
      x.for("s", u32(0), u32(T * k), (sl, y) => y.if(eq(load("u32", "ids", sl), e), (z) => z.assign(c, iadd(c, u32(1)))));
      x.store("counts", e, c, "workgroup");
    }, WIDTH);
    b.barrier();
    b.comment("exclusive scan of the padded counts: each expert's first row; the total stays on the device");
    b.if(eq(tid, u32(0)), (x) => {
      const acc = x.var("offset", u32(0));
      x.for("e", u32(0), u32(E), (e, y) => {
        y.store("offsets", e, acc, "workgroup");
        y.assign(acc, iadd(acc, padded(load("u32", "counts", e, "workgroup"))));
      });
      x.store("total", u32(0), acc, "workgroup");
      x.store("plan", u32(0), acc);
    });
    b.barrier();
    b.comment("each expert's slots in slot order (rank = running count), its padding, its tiles");
    b.for("e", tid, u32(E), (e, x) => {
      const base = x.let("base", load("u32", "offsets", e, "workgroup"));
      const r = x.var("rank", u32(0));
      x.for("s", u32(0), u32(T * k), (sl, y) => y.if(eq(load("u32", "ids", sl), e), (z) => {
        z.store("sorted", iadd(base, r), sl);
        z.assign(r, iadd(r, u32(1)));
      }));
      const end = x.let("end", iadd(base, padded(r)));
      x.for("p", iadd(base, r), end, (p, y) => y.store("sorted", p, u32(SENTINEL)));
      x.for("tile", idiv(base, u32(MOE_TILE)), idiv(end, u32(MOE_TILE)), (tl, y) => y.store("plan", iadd(tl, u32(1)), e));
    }, WIDTH);
    const total = b.let("total_rows", load("u32", "total", u32(0), "workgroup"));
    b.for("p", iadd(total, tid), u32(rows), (p, x) => x.store("sorted", p, u32(SENTINEL)), WIDTH);
    b.for("tile", iadd(idiv(total, u32(MOE_TILE)), tid), u32(tiles), (tl, x) => x.store("plan", iadd(tl, u32(1)), u32(SENTINEL)), WIDTH);
    const shared = [{ name: "counts", t: "u32" as const, size: E }, { name: "offsets", t: "u32" as const, size: E }, { name: "total", t: "u32" as const, size: 1 }];
    kernels.push({ kernel: kernelOf(`${ctx.name}_align`, src, bindings, [1, 1, 1], b, shared), args });
  }

  const { pre, hidden } = expertValues(node.params.body, node.params);
  const bodyEval = new BodyEval(node.params.body, node.params.body.inputs.map((_, i) => `in${i}`));

  /** A grouped matmul over tiles of sorted rows × blocks of `n` columns, contracting `kDim`. */
  const grouped = (which: 1 | 2) => {
    const [n, kDim] = which === 1 ? [h, d] : [d, h];
    const list: [string, "in" | "out" | "temp", number, boolean][] = which === 1
      ? [inp("x"), inp("w1"), ...(b1 ? [inp("b1")] : []), tmp("sorted"), tmp("plan"), tmp("hidden", true)]
      : [tmp("hidden"), inp("w2"), ...(b2 ? [inp("b2")] : []), tmp("sorted"), tmp("plan"), tmp("weights"), tmp("slots", true)];
    const [aName, bName] = which === 1 ? ["x", "w1"] : ["hidden", "w2"];
    // Four columns and four contraction steps per load where the sizes allow: 16-byte loads
    // are what a CPU adapter pays for, not bytes.
    const V = kDim % 4 === 0 && n % 4 === 0 ? 4 : 1;
    const bound = bind(list);
    const bindings = bound.bindings.map((x) => (V === 4 && (x.name === aName || x.name === bName) ? { ...x, width: 4 as const } : x));
    const args = bound.args;
    const nV = n / V;
    const colBlocks = Math.ceil(nV / COLS);
    const grid = gridFor(tiles * colBlocks, ctx.target);
    const b = new BodyBuilder(new Map(bindings.map((x) => [x.name, 1])));
    const wg = groupIndex(b, "wg", grid, tiles * colBlocks);
    const tile = b.let("tile", idiv(wg, u32(colBlocks)));
    const row0 = b.let("row0", imul(tile, u32(MOE_TILE)));
    b.comment("tiles past the padded count (kept on the device) exit at once");
    b.if(ge(row0, load("u32", "plan", u32(0))), (x) => x.return());
    const e = b.let("expert", load("u32", "plan", iadd(tile, u32(1))));
    const colV = b.let("col_v", iadd(imul(irem(wg, u32(colBlocks)), u32(COLS)), id("local", 0)));
    const colVC = nV % COLS ? b.let("col_vc", bin("min", colV, u32(nV - 1))) : colV;
    // Rows and columns unrolled into registers: a private array indexed in a loop lives in memory on CPU adapters.
    const rowsOf = [...Array(MOE_TILE).keys()], colsOf = [...Array(V).keys()];
    const slots = rowsOf.map((r) => b.let(`s${r}`, load("u32", "sorted", iadd(row0, u32(r)))));
    // expert1 gathers token rows of x (padding rows read token 0); expert2 reads its own rows.
    const aBase = rowsOf.map((r) => b.let(`a${r}`, imul(which === 1
      ? select(eq(slots[r]!, u32(SENTINEL)), u32(0), idiv(slots[r]!, u32(k)))
      : iadd(row0, u32(r)), u32(kDim / V))));
    const acc = rowsOf.map((r) => colsOf.map((j) => b.var(`acc${r}_${j}`, f32(0))));
    const wBase = b.let("w_base", iadd(imul(e, u32(kDim * nV)), colVC));
    if (V === 4) {
      b.for("c4", u32(0), u32(kDim / 4), (c4, x) => {
        const a = rowsOf.map((r) => x.load4(`x${r}`, "f32", aName, iadd(aBase[r]!, c4)));
        for (let cc = 0; cc < 4; cc++) {
          const w = x.load4("w", "f32", bName, iadd(wBase, imul(iadd(imul(c4, u32(4)), u32(cc)), u32(nV))));
          for (const r of rowsOf) for (const j of colsOf) x.assign(acc[r]![j]!, call("fma", a[r]![cc]!, w[j]!, acc[r]![j]!));
        }
      });
    } else {
      b.for("c", u32(0), u32(kDim), (c, x) => {
        const w = x.let("w", load("f32", bName, iadd(wBase, imul(c, u32(n)))));
        for (const r of rowsOf) x.assign(acc[r]![0]!, call("fma", load("f32", aName, iadd(aBase[r]!, c)), w, acc[r]![0]!));
      });
    }
    const store = (y: BodyBuilder) => {
      for (const j of colsOf) {
        const col = y.let(`col${j}`, iadd(imul(colV, u32(V)), u32(j)));
        const bias = (which === 1 ? b1 : b2) ? y.let("bias", load("f32", which === 1 ? "b1" : "b2", iadd(imul(e, u32(n)), col))) : undefined;
        for (const r of rowsOf) {
          const v = bias ? bin("add", acc[r]![j]!, bias) : acc[r]![j]!;
          if (which === 1) {
            const p = y.let("pre", v);
            const at = new Index(y, hidden.shape, { idx: [e, u32(0), col] });
            const act = bodyEval.eval(hidden, y, at, site(at, (u) => (u === pre ? p : undefined)));
            y.store("hidden", iadd(imul(iadd(row0, u32(r)), u32(h)), col), act);
          } else {
            y.if(bin("ne", slots[r]!, u32(SENTINEL)), (z) =>
              z.store("slots", iadd(imul(slots[r]!, u32(d)), col), bin("mul", v, load("f32", "weights", slots[r]!))));
          }
        }
      }
    };
    if (nV % COLS) b.if(lt(colV, u32(nV)), store);
    else store(b);
    return { kernel: kernelOf(`${ctx.name}_expert${which}`, src, bindings, grid, b, [], COLS), args };
  };
  kernels.push(grouped(1), grouped(2));

  // combine
  {
    const { bindings, args } = bind([tmp("slots"), ["out", "out", 0, true]]);
    const n = T * d;
    const grid = gridFor(Math.ceil(n / 256), ctx.target);
    const b = new BodyBuilder(new Map(bindings.map((x) => [x.name, 1])));
    const gid = b.let("gid", iadd(imul(groupIndex(b, "wg", grid, Math.ceil(n / 256)), u32(256)), id("local", 0)));
    if (n % 256) b.if(ge(gid, u32(n)), (x) => x.return());
    const t = b.let("token", idiv(gid, u32(d))), c = b.let("c", irem(gid, u32(d)));
    const acc = b.var("acc", load("f32", "slots", iadd(imul(t, u32(k * d)), c)));
    b.for("j", u32(1), u32(k), (j, x) => x.assign(acc, bin("add", acc, load("f32", "slots", iadd(imul(iadd(imul(t, u32(k)), j), u32(d)), c)))));
    b.store("out", gid, acc);
    kernels.push({ kernel: kernelOf(`${ctx.name}_combine`, src, bindings, grid, b, [], 256), args });
  }
  return kernels;
}
