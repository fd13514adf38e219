/**
 * Generated property cases for a device backend: one-node and small graphs over random
 * shapes (sizes 1, odd, prime, past a tile; rank 0 to 4) from a seeded generator, random
 * inputs per dtype, and the tolerance each result is held to against the interpreter.
 * Needs only the project's runtime code (no test runner), so it runs on a bare GPU machine.
 */
import { type DType, type HostArray, type Shape, hostArray, sizeOf } from "../ir/dtype.js";
import { type Graph, GraphBuilder, type Value } from "../ir/graph.js";
import { REDUCE_OPS } from "../ir/primitives.js";
import { rng } from "../tests/rng.js";
export { rng };


type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const SIZES = [1, 2, 3, 5, 7, 13, 17, 31, 64, 65, 97, 130];
const shapeOf = (r: Rand, rank: number, sizes = SIZES): number[] => Array.from({ length: rank }, () => pick(r, sizes));

/** Random inputs: f32 in [-2, 2), i32 in [-3, 13), u32 in [0, 13) (small, so they also index), bool fair. */
export function randomInput(r: Rand, dtype: DType, shape: Shape): HostArray {
  const n = sizeOf(shape);
  const gen = { f32: () => r() * 4 - 2, i32: () => Math.floor(r() * 16) - 3, u32: () => Math.floor(r() * 13), bool: () => (r() < 0.5 ? 1 : 0) }[dtype];
  return hostArray(dtype, shape, Array.from({ length: n }, gen));
}

export interface Case {
  readonly name: string;
  readonly graph: Graph;
}

const one = (vs: Value[]) => vs[0]!;

function build(name: string, inputs: { dtype: DType; shape: Shape }[], body: (b: GraphBuilder, xs: Value[]) => Value[]): Case {
  const b = new GraphBuilder(name);
  const xs = inputs.map((t, i) => b.input(t, `x${i}`));
  return { name, graph: b.build(body(b, xs)) };
}

const GENERATORS: ((r: Rand, i: number) => Case)[] = [
  // elementwise with a broadcast operand
  (r, i) => {
    const shape = shapeOf(r, Math.floor(r() * 5));
    const dims = shape.map((_, k) => k).filter(() => r() < 0.5);
    const op = pick(r, ["add", "sub", "mul", "div", "max", "min", "pow"] as const);
    const dtype: DType = op === "pow" ? "f32" : pick(r, ["f32", "f32", "i32", "u32"] as const);
    return build(`${op}_bcast_${i}`, [{ dtype, shape }, { dtype, shape: dims.map((d) => shape[d]!) }], (b, [x, y]) => [
      one(b.add(op, [x!, one(b.add("broadcast_in_dim", [y!], { shape, dims }))], {})),
    ]);
  },
  // a unary chain, then a compare and select
  (r, i) => {
    const shape = shapeOf(r, 1 + Math.floor(r() * 3));
    const op = pick(r, ["exp", "tanh", "logistic", "erf", "sin", "cos", "abs", "sign", "floor", "ceil", "round", "neg", "sqrt", "rsqrt", "log"] as const);
    return build(`${op}_select_${i}`, [{ dtype: "f32", shape }, { dtype: "f32", shape }], (b, [x, y]) => {
      const u = one(b.add(op, [x!], {}));
      return [one(b.add("select", [one(b.add("lt", [u, y!], {})), u, y!], {}))];
    });
  },
  // a reduction over random axes
  (r, i) => {
    const shape = shapeOf(r, 1 + Math.floor(r() * 4), [1, 3, 7, 33, 130, 257]);
    const axes = shape.map((_, k) => k).filter(() => r() < 0.5);
    const op = pick(r, REDUCE_OPS);
    const dtype = pick(r, ["f32", "f32", "i32", "u32"] as const);
    return build(`${op}_${i}`, [{ dtype, shape }], (b, [x]) => [one(b.add(op, [x!], { axes }))]);
  },
  // argmax, cumsum and top_k along a random axis
  (r, i) => {
    const shape = shapeOf(r, 1 + Math.floor(r() * 3), [1, 2, 5, 17, 129, 300]);
    const axis = Math.floor(r() * shape.length);
    const dtype = pick(r, ["f32", "i32"] as const);
    const k = 1 + Math.floor(r() * Math.min(shape[shape.length - 1]!, 8));
    return build(`scan_${i}`, [{ dtype, shape }], (b, [x]) => [
      one(b.add("argmax", [x!], { axis })),
      one(b.add("cumsum", [x!], { axis, reverse: r() < 0.5 })),
      ...b.add("top_k", [x!], { k }),
    ]);
  },
  // dot_general with batch dims, either operand transposed
  (r, i) => {
    const [m, n, k] = [pick(r, [1, 7, 64, 65, 130]), pick(r, [1, 9, 64, 100]), pick(r, [1, 16, 33, 128])];
    const batch = shapeOf(r, Math.floor(r() * 3), [1, 2, 3]);
    const nb = batch.length, tl = r() < 0.3, tr = r() < 0.3;
    const lhs = [...batch, ...(tl ? [k, m] : [m, k])], rhs = [...batch, ...(tr ? [n, k] : [k, n])];
    const bd = batch.map((_, d) => d);
    return build(`dot_${i}`, [{ dtype: "f32", shape: lhs }, { dtype: "f32", shape: rhs }], (b, [x, y]) => [
      one(b.add("dot_general", [x!, y!], { lhs_contract: [tl ? nb : nb + 1], rhs_contract: [tr ? nb + 1 : nb], lhs_batch: bd, rhs_batch: bd })),
    ]);
  },
  // layout: transpose, slice, pad, concatenate
  (r, i) => {
    const shape = shapeOf(r, 1 + Math.floor(r() * 4), [1, 2, 3, 5, 8, 17]);
    const perm = shape.map((_, k) => k).sort(() => r() - 0.5);
    const start = shape.map((d) => Math.floor(r() * d));
    const limit = shape.map((d, k) => start[k]! + Math.ceil(r() * (d - start[k]!)));
    return build(`layout_${i}`, [{ dtype: pick(r, ["f32", "i32", "bool"] as const), shape }], (b, [x]) => [
      one(b.add("transpose", [x!], { perm })),
      one(b.add("slice", [x!], { start, limit, strides: shape.map(() => 1 + Math.floor(r() * 2)) })),
      one(b.add("pad", [x!], { low: shape.map(() => Math.floor(r() * 3)), high: shape.map(() => Math.floor(r() * 2)), value: 0 })),
      one(b.add("concatenate", [x!, x!], { axis: Math.floor(r() * shape.length) })),
    ]);
  },
  // gather and scatter_add (indices partly out of range: gather clamps, scatter drops)
  (r, i) => {
    const shape = shapeOf(r, 1 + Math.floor(r() * 3), [2, 5, 11, 13]);
    const axis = Math.floor(r() * shape.length);
    const idx = shapeOf(r, 1 + Math.floor(r() * 2), [1, 4, 9]);
    const upd = [...shape.slice(0, axis), ...idx, ...shape.slice(axis + 1)];
    const it = pick(r, ["i32", "u32"] as const);
    return build(`index_${i}`, [{ dtype: "f32", shape }, { dtype: it, shape: idx }, { dtype: "f32", shape: upd }], (b, [x, j, u]) => [
      one(b.add("gather", [x!, j!], { axis })),
      one(b.add("scatter_add", [x!, j!, u!], { axis })),
    ]);
  },
  // casts between random dtypes
  (r, i) => {
    const [from, to] = [pick(r, ["f32", "i32", "u32", "bool"] as const), pick(r, ["f32", "i32", "u32", "bool"] as const)];
    const shape = shapeOf(r, Math.floor(r() * 3));
    return build(`cast_${from}_${to}_${i}`, [{ dtype: from, shape }], (b, [x]) => [one(b.add("cast", [x!], { dtype: to }))]);
  },
];

/** `count` generated cases from `seed`, cycling through every generator. */
export function generatedCases(seed: number, count: number): Case[] {
  const r = rng(seed);
  return Array.from({ length: count }, (_, i) => GENERATORS[i % GENERATORS.length]!(r, i));
}

/** Primitives whose f32 results are sums of many terms (float32 on the device, float64 in the interpreter). */
const ACCUMULATING = new Set(["dot_general", "reduce_sum", "cumsum", "scatter_add"]);

/**
 * Compares a device result with the interpreter's. Integers and bools are exact; f32 is
 * within rtol·|ref| + atol·(1 + max|ref|), with NaN where the reference has NaN and equal
 * infinities. Sums get a looser bound than single operations (f32 vs f64 accumulation).
 * Returns a description of the worst element, or undefined when all agree.
 */
export function compare(got: HostArray, want: HostArray, graph: Graph): string | undefined {
  if (got.dtype !== want.dtype || got.shape.join() !== want.shape.join())
    return `got ${got.dtype}[${got.shape}], expected ${want.dtype}[${want.shape}]`;
  const loose = graph.nodes.some((n) => ACCUMULATING.has(n.prim));
  const [rtol, atol] = loose ? [1e-4, 1e-4] : [2e-5, 1e-6];
  let scale = 0;
  for (const v of want.data) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
  let worst: { i: number; err: number } | undefined;
  for (let i = 0; i < want.data.length; i++) {
    const a = got.data[i]!, b = want.data[i]!;
    if (a === b || (a !== a && b !== b)) continue;
    const err = want.dtype !== "f32" || !Number.isFinite(b) || a !== a ? Infinity : Math.abs(a - b) - rtol * Math.abs(b) - atol * (1 + scale);
    if (err > 0 && (!worst || err > worst.err)) worst = { i, err };
  }
  if (!worst) return undefined;
  return `element ${worst.i}: got ${got.data[worst.i]}, expected ${want.data[worst.i]}`;
}
