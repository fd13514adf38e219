/**
 * Graphs whose lowering covers every primitive on representative shapes and dtypes: the IR
 * corpus (every primitive once) plus the cases that pick other kernel templates or index
 * paths — integer and bool variants, every cast, reductions long enough for the workgroup
 * tree, batched and transposed matmuls, matrix-vector shapes, top_k, cumsum, gather and
 * scatter_add with both index types, and a grid past 65,535 workgroups.
 */
import { DTYPES, type DType } from "../../ir/dtype.js";
import type { Graph, GraphBuilder, Value } from "../../ir/graph.js";
import { COMPARE_OPS, REDUCE_OPS, UNARY_OPS } from "../../ir/primitives.js";
import type { Target } from "../../codegen/target.js";
import { runPipeline } from "../../passes/pipeline.js";
import { graph, irCorpus, ty } from "../ir/corpus.js";
import { ShapeDtype, type Tensor, jit, nn, np } from "../../index.js";

const one = (vs: Value[]) => vs[0]!;
const dot = (b: GraphBuilder, x: Value, y: Value, lc: number[], rc: number[], lb: number[] = [], rb: number[] = []) =>
  one(b.add("dot_general", [x, y], { lhs_contract: lc, rhs_contract: rc, lhs_batch: lb, rhs_batch: rb }));

function extras(): { name: string; graph: Graph }[] {
  const out: { name: string; graph: Graph }[] = [];
  const add = (name: string, g: Graph) => out.push({ name, graph: g });
  for (const d of ["i32", "u32"] as DType[]) {
    add(`${d} arithmetic`, graph(`int_${d}`, [ty(d, 3, 5), ty(d, 3, 5)], (b, [x, y]) => [
      ...(["add", "sub", "mul", "div", "max", "min"] as const).map((op) => one(b.add(op, [x!, y!], {}))),
      ...(["abs", "sign", ...(d === "i32" ? ["neg" as const] : [])] as const).map((op) => one(b.add(op, [x!], {}))),
      ...COMPARE_OPS.map((op) => one(b.add(op, [x!, y!], {}))),
    ]));
  }
  add("casts between every dtype", graph("casts", DTYPES.map((d) => ty(d, 7)), (b, xs) =>
    xs.flatMap((x) => DTYPES.filter((d) => d !== x.dtype).map((d) => one(b.add("cast", [x], { dtype: d }))))));
  add("bool select and compare", graph("bools", [ty("bool", 9), ty("bool", 9), ty("f32", 9)], (b, [p, q, x]) => [
    one(b.add("select", [p!, q!, p!], {})),
    one(b.add("eq", [p!, q!], {})),
    one(b.add("select", [p!, x!, one(b.add("neg", [x!], {}))], {})),
  ]));
  add("long reductions (workgroup tree)", graph("long_reduce", [ty("f32", 3, 1000, 7), ty("i32", 5000), ty("u32", 300, 257)], (b, [x, i, u]) => [
    ...REDUCE_OPS.map((op) => one(b.add(op, [x!], { axes: [1] }))),
    one(b.add("reduce_sum", [x!], { axes: [0, 2] })),
    one(b.add("reduce_max", [i!], { axes: [0] })),
    one(b.add("reduce_min", [u!], { axes: [1] })),
    one(b.add("argmax", [x!], { axis: 1 })),
    one(b.add("argmax", [u!], { axis: 1 })),
  ]));
  add("matmuls", graph("matmuls", [ty("f32", 4, 3, 130, 70), ty("f32", 4, 3, 70, 45), ty("f32", 45, 70), ty("f32", 70), ty("i32", 33, 17), ty("i32", 17, 9)],
    (b, [x, y, yt, v, ix, iy]) => [
      dot(b, x!, y!, [3], [2], [0, 1], [0, 1]),
      dot(b, x!, yt!, [3], [1]),
      dot(b, yt!, v!, [1], [0]),
      dot(b, v!, y!, [0], [2]),
      dot(b, ix!, iy!, [1], [0]),
    ]));
  add("scans and top_k", graph("scans", [ty("f32", 6, 500), ty("i32", 4, 3, 9), ty("u32", 1000)], (b, [x, i, u]) => [
    one(b.add("cumsum", [x!], { axis: 1, reverse: false })),
    one(b.add("cumsum", [x!], { axis: 0, reverse: true })),
    one(b.add("cumsum", [i!], { axis: 1, reverse: false })),
    ...b.add("top_k", [x!], { k: 5 }),
    ...b.add("top_k", [i!], { k: 9 }),
    ...b.add("top_k", [u!], { k: 1 }),
  ]));
  add("gather and scatter_add", graph("indexing", [ty("f32", 50, 8), ty("u32", 4, 6), ty("i32", 12), ty("f32", 8, 12), ty("i32", 3, 5, 7), ty("i32", 3, 1, 7)],
    (b, [t, iu, ii, upd, it, row]) => [
      one(b.add("gather", [t!, iu!], { axis: 0 })),
      one(b.add("gather", [t!, ii!], { axis: 1 })),
      one(b.add("scatter_add", [t!, ii!, one(b.add("transpose", [upd!], { perm: [1, 0] }))], { axis: 0 })),
      one(b.add("scatter_add", [it!, ii!, one(b.add("broadcast_in_dim", [row!], { shape: [3, 12, 7], dims: [0, 1, 2] }))], { axis: 1 })),
    ]));
  // 70,000 × 256 + 1 elements: 70,001 workgroups of 256, so the grid splits across x and y.
  add("a grid past 65,535 workgroups", graph("big_grid", [ty("f32", 70_000 * 256 + 1)], (b, [x]) => [
    one(b.add("exp", [x!], {})),
    one(b.add("iota", [], { shape: [70_000 * 256 + 1], dim: 0, dtype: "u32" })),
  ]));
  // Extents of one: loops and comparisons that fold to constants (nvcc warns where WGSL does not).
  add("degenerate extents", graph("ones", [ty("f32", 4, 1), ty("i32", 1, 1, 1), ty("f32", 3, 1, 5)], (b, [x, i, y]) => [
    ...b.add("top_k", [x!], { k: 1 }),
    ...b.add("top_k", [i!], { k: 1 }),
    one(b.add("argmax", [x!], { axis: 1 })),
    one(b.add("cumsum", [y!], { axis: 1, reverse: true })),
    one(b.add("reduce_max", [y!], { axes: [1] })),
    dot(b, x!, one(b.add("reshape", [x!], { shape: [1, 4] })), [1], [0]),
    one(b.add("gather", [y!, one(b.add("reshape", [i!], { shape: [1] }))], { axis: 1 })),
    one(b.add("slice", [y!], { start: [0, 0, 4], limit: [3, 1, 5], strides: [1, 1, 1] })),
    one(b.add("pad", [y!], { low: [0, 0, 0], high: [0, 0, 0], value: 1 })),
  ]));
  add("every unary op at rank 4", graph("rank4", [ty("f32", 2, 3, 1, 5)], (b, [x]) =>
    UNARY_OPS.filter((op) => op !== "not").map((op) => one(b.add(op, [one(b.add("transpose", [x!], { perm: [3, 1, 0, 2] }))], {})))));
  add("layout views: a head split into flash attention, the head merge stored by its kernel, a KV-cache concatenation and a pad read by matmuls, transposed expert weights",
    jit((qkv: Tensor, pastK: Tensor, wo: Tensor, x: Tensor, gate: Tensor, w1t: Tensor, w2t: Tensor) => {
      const [L, H, Dh] = [10, 2, 16];
      const head = (i: number) => np.transpose(np.reshape(np.slice(qkv, [null, [i * H * Dh, (i + 1) * H * Dh]]), [L, H, Dh]), [1, 0, 2]);
      const merged = np.reshape(np.transpose(nn.attention(head(0), head(1), head(2), { causal: true }), [1, 0, 2]), [L, H * Dh]);
      const scores = np.matmul(head(0), np.swapaxes(np.concatenate([pastK, head(1)], 1), 1, 2));
      const experts = nn.moe(x, gate, { w1: np.transpose(w1t, [0, 2, 1]), w2: np.transpose(w2t, [0, 2, 1]) }, 2);
      return [np.matmul(merged, wo), scores, np.matmul(np.pad(x, [[0, 0], [1, 2]]), np.slice(wo, [[0, 7], [0, 5]])), experts];
    }, { backend: "interp" }).lower(new ShapeDtype([10, 96]), new ShapeDtype([2, 5, 16]), new ShapeDtype([32, 32]), new ShapeDtype([7, 4]),
      new ShapeDtype([4, 3]), new ShapeDtype([3, 8, 4]), new ShapeDtype([3, 4, 8])).graph);
  return out;
}

/** The IR corpus and the extra cases, each a graph to lower. */
export function loweringCorpus(): { name: string; graph: Graph }[] {
  return [...irCorpus(), ...extras()];
}

/**
 * A graph as a backend receives it: through the pass pipeline, fused or not. Fused, its
 * kernels are the fusion templates'; unfused, one kernel per primitive.
 */
export function compiledGraph(g: Graph, fuse: boolean, target: Target): Graph {
  return runPipeline(g, { fuse, target }).graph;
}
