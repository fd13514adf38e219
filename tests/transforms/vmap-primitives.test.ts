/**
 * vmap of every primitive against an explicit loop: the function applied to each
 * batch element (sliced on the host) and the results stacked. Each case runs
 * with inAxes all 0, all on the last axis, the first argument unbatched (null)
 * and the last argument unbatched, and once with a non-zero outAxes.
 */
import { describe, expect, test } from "vitest";
import type { Tensor } from "../../frontend/core.js";
import { init } from "../../frontend/init.js";
import { jit } from "../../frontend/jit.js";
import * as lax from "../../frontend/lax.js";
import { vmap } from "../../frontend/vmap.js";
import { type Shape, sizeOf, stridesOf } from "../../ir/dtype.js";
import { allPrimitives } from "../../ir/primitives.js";
import { expectClose, ints, read, tensor, uniform } from "./helpers.js";

await init({ backend: "interp" });

const B = 3;

interface Case {
  prims: string[];
  name?: string;
  f: (...xs: Tensor[]) => Tensor | Tensor[];
  /** One example of the arguments; `seed` varies it per batch element. */
  args: (seed: number) => Tensor[];
}

const u = (shape: number[]) => (seed: number) => [uniform(shape, seed)];
const unaryCase = (prim: string, f: (x: Tensor) => Tensor, lo = -1): Case => ({
  prims: [prim],
  f,
  args: (s) => [uniform([2, 3], s, lo, 2)],
});
/** Indices in [-2, 6) for an axis of 4: some below, some past the end. */
const outOfRange = (seed: number) =>
  tensor([3], [[-1, 5, 2], [4, -2, 1], [0, 7, -1]][Math.floor(seed / 10) % 3]!, "i32");
const positive = (f: (x: Tensor) => Tensor) => f;

const cases: Case[] = [
  ...(["neg", "abs", "sign", "exp", "expm1", "sin", "cos", "tanh", "logistic", "erf", "floor", "ceil", "round"] as const).map((op) =>
    unaryCase(op, (x) => lax.unary(op, x)),
  ),
  ...(["log", "sqrt", "rsqrt"] as const).map((op) => unaryCase(op, positive((x) => lax.unary(op, x)), 0.5)),
  { prims: ["not", "gt"], f: (x) => lax.not(lax.gt(x, lax.zerosLike(x))), args: (s) => [uniform([2, 3], s)] },
  ...(["add", "sub", "mul", "div", "max", "min", "eq", "ne", "lt", "le", "gt", "ge"] as const).map(
    (op): Case => ({ prims: [op], f: (a, b) => lax.binary(op, a, b), args: (s) => [uniform([2, 3], s), uniform([2, 3], s + 50)] }),
  ),
  { prims: ["pow"], f: lax.pow, args: (s) => [uniform([2, 3], s, 0.5, 2), uniform([2, 3], s + 50)] },
  { prims: ["atan2"], f: (y, x) => lax.binary("atan2", y, x), args: (s) => [uniform([2, 3], s), uniform([2, 3], s + 50)] },
  ...(["and", "or"] as const).map(
    (op): Case => ({
      prims: [op],
      f: (a, b) => lax.binary(op, lax.gt(a, b), lax.lt(a, lax.zerosLike(a))),
      args: (s) => [uniform([2, 3], s), uniform([2, 3], s + 50)],
    }),
  ),
  {
    prims: ["select"],
    f: (p, a, b) => lax.select(lax.gt(p, lax.zerosLike(p)), a, b),
    args: (s) => [uniform([2, 3], s), uniform([2, 3], s + 50), uniform([2, 3], s + 100)],
  },
  { prims: ["cast"], f: (x) => lax.cast(lax.mul(x, lax.fullLike(x, 4)), "i32"), args: u([2, 3]) },
  { prims: ["iota"], f: (x) => lax.add(x, lax.cast(lax.iota([2, 3], 1), "f32")), args: u([2, 3]) },
  { prims: ["constant"], f: (x) => lax.mul(x, lax.constant([1, 2, 3], [3], "f32")), args: u([3]) },
  { prims: ["broadcast_in_dim"], f: (x) => lax.broadcastInDim(x, [2, 3, 4], [0, 2]), args: u([2, 1]) },
  { prims: ["reshape"], f: (x) => lax.reshape(x, [3, 2]), args: u([2, 3]) },
  { prims: ["transpose"], f: (x) => lax.transpose(x, [1, 2, 0]), args: u([2, 3, 2]) },
  { prims: ["slice"], f: (x) => lax.slice(x, [0, 1], [3, 4], [2, 2]), args: u([3, 4]) },
  { prims: ["pad"], f: (x) => lax.pad(x, [1, 0], [0, 2], -1), args: u([2, 3]) },
  { prims: ["concatenate"], f: (a, b) => lax.concatenate([a, b], 1), args: (s) => [uniform([2, 1], s), uniform([2, 3], s + 50)] },
  { prims: ["reduce_sum"], f: (x) => lax.reduceSum(x, [0, 2]), args: u([2, 3, 2]) },
  { prims: ["reduce_max"], f: (x) => lax.reduceMax(x, [1]), args: u([2, 3]) },
  { prims: ["reduce_min"], f: (x) => lax.reduceMin(x, [0]), args: u([2, 3]) },
  { prims: ["argmax"], f: (x) => lax.argmax(x, 1), args: u([2, 4]) },
  { prims: ["cumsum"], f: (x) => lax.cumsum(x, 1, true), args: u([2, 4]) },
  { prims: ["top_k"], f: (x) => lax.topK(x, 2), args: u([2, 4]) },
  {
    prims: ["dot_general"],
    f: (a, b) => lax.dotGeneral(a, b, { lhsContract: [1], rhsContract: [0] }),
    args: (s) => [uniform([2, 3], s), uniform([3, 4], s + 50)],
  },
  {
    prims: ["dot_general"],
    name: "dot_general with batch dims",
    f: (a, b) => lax.dotGeneral(a, b, { lhsContract: [0], rhsContract: [2], lhsBatch: [2], rhsBatch: [0] }),
    args: (s) => [uniform([3, 2, 2], s), uniform([2, 4, 3], s + 50)],
  },
  { prims: ["gather"], f: (x, i) => lax.gather(x, i, 1), args: (s) => [uniform([2, 4], s), ints([2, 2], s, 4)] },
  {
    prims: ["scatter_add"],
    f: (x, i, v) => lax.scatterAdd(x, i, v, 1),
    args: (s) => [uniform([2, 4], s), ints([3], s, 4), uniform([2, 3], s + 50)],
  },
  {
    prims: ["gather", "scatter_add"],
    name: "gather/scatter_add with out-of-range indices (clamped / dropped)",
    f: (x, i, v) => lax.gather(lax.scatterAdd(x, i, v, 0), i, 0),
    args: (s) => [uniform([4, 2], s), outOfRange(s), uniform([3, 2], s + 50)],
  },
  {
    prims: ["jit"],
    f: jit((x: Tensor, y: Tensor) => lax.reduceSum(lax.mul(lax.exp(x), y), [1])),
    args: (s) => [uniform([2, 3], s), uniform([2, 3], s + 50)],
  },
];

/** B tensors of one shape stacked along `axis` (host side). */
async function stack(xs: Tensor[], axis: number): Promise<Tensor> {
  const shape = xs[0]!.shape;
  const out: Shape = [...shape.slice(0, axis), xs.length, ...shape.slice(axis)];
  const data = new Array<number>(sizeOf(out));
  const os = stridesOf(out), is = stridesOf(shape);
  for (const [b, x] of xs.entries()) {
    const d = await read(x);
    d.forEach((v, flat) => {
      let at = b * os[axis]!;
      shape.forEach((_, k) => (at += Math.floor(flat / is[k]!) % shape[k]! * os[k < axis ? k : k + 1]!));
      data[at] = v;
    });
  }
  return tensor(out, data, xs[0]!.dtype);
}

type Variant = { name: string; inAxes: (number | null)[]; outAxes?: number };

function variants(c: Case): Variant[] {
  const ex = c.args(1);
  const last = ex.map((x) => x.ndim);
  const vs: Variant[] = [
    { name: "inAxes 0", inAxes: ex.map(() => 0) },
    { name: "inAxes on the last axis, outAxes -1", inAxes: last, outAxes: -1 },
  ];
  if (ex.length > 1) {
    vs.push({ name: "first argument unbatched (null)", inAxes: [null, ...last.slice(1).map((r) => Math.min(1, r))] });
    vs.push({ name: "last argument unbatched (null)", inAxes: [...ex.slice(0, -1).map(() => 0), null] });
  }
  return vs;
}

describe("vmap agrees with a loop over the batch", () => {
  for (const c of cases)
    for (const v of variants(c))
      test(`${c.name ?? c.prims.join("/")}: ${v.name}`, async () => {
        const examples = Array.from({ length: B }, (_, b) => c.args(10 * b + 1));
        const batched = await Promise.all(
          v.inAxes.map((a, i) => (a === null ? examples[0]![i]! : stack(examples.map((e) => e[i]!), a))),
        );
        const perElement = examples.map((e, b) => {
          const args = e.map((x, i) => (v.inAxes[i] === null ? examples[0]![i]! : x));
          const r = c.f(...args);
          return Array.isArray(r) ? r : [r];
        });
        const got = vmap(c.f, { inAxes: v.inAxes, outAxes: v.outAxes ?? 0 })(...batched);
        const outs = Array.isArray(got) ? got : [got];
        for (const [k, o] of outs.entries()) {
          const rank = perElement[0]![k]!.ndim;
          const axis = v.outAxes === undefined ? 0 : (v.outAxes + rank + 1) % (rank + 1);
          const want = await stack(perElement.map((r) => r[k]!), axis);
          expect(o.shape).toEqual(want.shape);
          expect(o.dtype).toBe(want.dtype);
          expectClose(await read(o), await read(want), 1e-6);
        }
      });
});

test("every primitive has a vmap case (fusion, flash_attention and moe_ffn are made only by passes, their backward nodes by their rules)", () => {
  const covered = new Set(cases.flatMap((c) => c.prims));
  const madeByPasses = ["fusion", "flash_attention", "flash_attention_jvp", "flash_attention_bwd", "moe_ffn", "moe_ffn_jvp", "moe_ffn_bwd"];
  expect(allPrimitives().filter((p) => !covered.has(p) && !madeByPasses.includes(p))).toEqual([]);
});
