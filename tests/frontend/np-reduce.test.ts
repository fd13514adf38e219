import fc from "fast-check";
import { beforeAll, describe, expect, test } from "vitest";
import type { Tensor } from "../../frontend/core.js";
import { init } from "../../frontend/init.js";
import { jit } from "../../frontend/jit.js";
import * as np from "../../frontend/np.js";
import { RUNS, type Ref, checkBoth, expectClose, expectShapeError, indices, randomF32, randomI32, shapeArb, size } from "./np-helpers.js";

beforeAll(async () => {
  await init({ backend: "interp" });
});

const FILE = "np-reduce.test.ts";

/** Reference reduction: folds every element into its output slot, in float64. */
function reduceRef(x: Ref, axes: number[], keepdims: boolean, fold: (vals: number[]) => number): Ref {
  const outShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const groups = new Map<number, number[]>();
  let f = 0;
  for (const idx of indices(x.shape)) {
    let o = 0;
    idx.forEach((v, i) => (o = o * outShape[i]! + (axes.includes(i) ? 0 : v)));
    (groups.get(o) ?? groups.set(o, []).get(o)!).push(x.data[f++]!);
  }
  const data = Array.from({ length: size(outShape) }, (_, o) => fold(groups.get(o) ?? []));
  return { shape: keepdims ? outShape : x.shape.filter((_, i) => !axes.includes(i)), data };
}

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const variance = (v: number[]) => mean(v.map((x) => (x - mean(v)) ** 2));

/** A non-empty shape, a subset of its axes written with random negative aliases, keepdims, a seed. */
const reductionArb = shapeArb(4).filter((s) => s.length > 0).chain((shape) =>
  fc.tuple(
    fc.constant(shape),
    fc.subarray([...shape.keys()], { minLength: 1 }).chain((axes) =>
      fc.tuple(...axes.map((a) => fc.constantFrom(a, a - shape.length))),
    ),
    fc.boolean(),
    fc.nat(),
  ),
);

const reductions: [string, (x: Tensor, axis: number[], keep: boolean) => Tensor, (v: number[]) => number][] = [
  ["sum", (x, a, k) => np.sum(x, a, k), (v) => v.reduce((s, x) => s + x, 0)],
  ["mean", (x, a, k) => np.mean(x, a, k), mean],
  ["max", (x, a, k) => np.max(x, a, k), (v) => Math.max(...v)],
  ["min", (x, a, k) => np.min(x, a, k), (v) => Math.min(...v)],
  ["var", (x, a, k) => np.var(x, a, k), variance],
  ["std", (x, a, k) => np.std(x, a, k), (v) => Math.sqrt(variance(v))],
];

describe("np reductions over random axes", () => {
  for (const [name, op, fold] of reductions)
    test(`${name} with any axes (negative too) and keepdims matches float64, eagerly and under jit`, async () => {
      await fc.assert(
        fc.asyncProperty(reductionArb, async ([shape, axes, keepdims, seed]) => {
          const [x, rx] = randomF32(shape, seed);
          const norm = axes.map((a) => (a < 0 ? a + shape.length : a));
          await checkBoth((t) => op(t, axes, keepdims), [x], reduceRef(rx, norm, keepdims, fold), { rtol: 1e-5, atol: 1e-5 });
        }),
        RUNS,
      );
    });

  test("axis null or omitted reduces everything", async () => {
    const [x, rx] = randomF32([3, 4], 5);
    const total = rx.data.reduce((a, b) => a + b, 0);
    await expectClose(np.sum(x), { shape: [], data: [total] }, { rtol: 1e-6 });
    await expectClose(np.mean(x, null, true), { shape: [1, 1], data: [total / 12] }, { rtol: 1e-6 });
  });

  test("integer sums stay integer, bool sums count, integer means are f32", async () => {
    const i = np.array([1, 2, 4], { dtype: "i32" });
    expect(np.sum(i).dtype).toBe("i32");
    expect(await np.sum(np.array([true, false, true])).item()).toBe(2);
    expect(np.mean(i).dtype).toBe("f32");
    expect(await np.mean(i).item()).toBeCloseTo(7 / 3, 6);
  });

  test("var with ddof = 1 is the unbiased estimator", async () => {
    const v = [1, 2, 3, 4];
    expect(await np.var(np.array(v), null, false, 1).item()).toBeCloseTo(5 / 3, 6);
  });

  test("any and all reduce truthiness, empty any is false", async () => {
    const x = np.array([[0, 1], [0, 0]]);
    expect(await np.any(x, 1).tolist()).toEqual([true, false]);
    expect(await np.all(np.array([[1, 2], [0, 3]]), 0).tolist()).toEqual([false, true]);
    expect(await np.any(np.zeros([0])).item()).toBe(0);
  });

  test("bad axes raise ShapeErrors naming the op and the shape", () => {
    const x = np.zeros([2, 3]);
    expectShapeError(() => np.sum(x, 2), "sum", ["axis 2", "f32[2,3]"], FILE);
    expectShapeError(() => np.mean(x, [0, -2]), "mean", ["repeated axis", "f32[2,3]"], FILE);
    expectShapeError(() => np.max(np.zeros([0, 3]), 0), "max", ["zero-size", "f32[0,3]"], FILE);
  });
});

describe("np argmax, argmin, cumsum, topK", () => {
  const argRef = (x: Ref, axis: number, pick: (a: number, b: number) => boolean) =>
    reduceRef(x, [axis], false, (v) => v.reduce((best, y, i) => (pick(y, v[best]!) ? i : best), 0));

  test("argmax and argmin along any axis return the first extreme index", async () => {
    await fc.assert(
      fc.asyncProperty(shapeArb(3).filter((s) => s.length > 0), fc.nat(), fc.nat(), async (shape, axisSeed, seed) => {
        const axis = axisSeed % shape.length;
        // Small integers make ties common, so first-index tie-breaking is exercised.
        const [x, rx] = randomI32(shape, seed, -3, 3);
        await checkBoth((t) => np.argmax(t, axis), [x], argRef(rx, axis, (a, b) => a > b));
        await checkBoth((t) => np.argmin(t, axis - shape.length), [x], argRef(rx, axis, (a, b) => a < b));
        const xf = np.astype(x, "f32");
        await checkBoth((t) => np.argmin(t, axis), [xf], argRef(rx, axis, (a, b) => a < b));
      }),
      RUNS,
    );
  });

  test("argmin is right at the i32 and u32 extremes", async () => {
    expect(await np.argmin(np.array([0, -(2 ** 31), 5], { dtype: "i32" })).item()).toBe(1);
    expect(await np.argmin(np.array([7, 2 ** 32 - 1, 0], { dtype: "u32" })).item()).toBe(2);
  });

  test("argmax without an axis indexes the flattened array; keepdims keeps rank", async () => {
    const x = np.array([[1, 9], [3, 4]]);
    expect(await np.argmax(x).item()).toBe(1);
    expect([...np.argmax(x, 1, true).shape]).toEqual([2, 1]);
  });

  test("cumsum along an axis, reversed, and over the flattened array", async () => {
    const x = np.array([[1, 2, 3], [4, 5, 6]]);
    expect(await np.cumsum(x, 1).tolist()).toEqual([[1, 3, 6], [4, 9, 15]]);
    expect(await np.cumsum(x, -2).tolist()).toEqual([[1, 2, 3], [5, 7, 9]]);
    expect(await np.cumsum(x, 1, { reverse: true }).tolist()).toEqual([[6, 5, 3], [15, 11, 6]]);
    expect(await np.cumsum(x).tolist()).toEqual([1, 3, 6, 10, 15, 21]);
    const f = jit((t: Tensor) => np.cumsum(t, 0));
    expect(await f(x).tolist()).toEqual([[1, 2, 3], [5, 7, 9]]);
  });

  test("topK returns the k largest values, descending, with their indices", async () => {
    const x = np.array([[3, 1, 4, 1, 5], [9, 2, 6, 5, 3]]);
    const [v, i] = np.topK(x, 3);
    expect(await v.tolist()).toEqual([[5, 4, 3], [9, 6, 5]]);
    expect(await i.tolist()).toEqual([[4, 2, 0], [0, 2, 3]]);
    expectShapeError(() => np.topK(x, 6), "topK", ["k = 6", "f32[2,5]"], FILE);
  });
});
