import fc from "fast-check";
import { beforeAll, describe, expect, test } from "vitest";
import type { Tensor } from "../../frontend/core.js";
import { init } from "../../frontend/init.js";
import { jit } from "../../frontend/jit.js";
import * as np from "../../frontend/np.js";
import type { SliceEntry } from "../../frontend/np.js";
import { RUNS, at, build, checkBoth, expectShapeError, randomF32, randomI32, shapeArb } from "./np-helpers.js";

beforeAll(async () => {
  await init({ backend: "interp" });
});

const FILE = "np-index.test.ts";

/** The indices Python's range(*slice(start, stop, step).indices(n)) visits (CPython's rules). */
function pySliceIndices(n: number, start: number | null, stop: number | null, step: number | null): number[] {
  const k = step ?? 1;
  const adjust = (v: number | null, dflt: number, lo: number, hi: number) =>
    v === null ? dflt : v < 0 ? Math.max(v + n, lo) : Math.min(v, hi);
  const s = adjust(start, k > 0 ? 0 : n - 1, k > 0 ? 0 : -1, k > 0 ? n : n - 1);
  const e = adjust(stop, k > 0 ? n : -1, k > 0 ? 0 : -1, k > 0 ? n : n - 1);
  const out: number[] = [];
  for (let i = s; k > 0 ? i < e : i > e; i += k) out.push(i);
  return out;
}

const boundArb = fc.option(fc.integer({ min: -6, max: 6 }), { nil: null });
const entryArb = (n: number): fc.Arbitrary<SliceEntry> =>
  fc.oneof(
    fc.constant(null),
    fc.integer({ min: -n, max: n - 1 }),
    fc.tuple(boundArb, boundArb, fc.option(fc.constantFrom(1, 2, 3, -1, -2), { nil: null })),
  );

describe("slice: numpy basic indexing", () => {
  test("integers, ranges with negative bounds and steps, and ':' agree with Python semantics", async () => {
    await fc.assert(
      fc.asyncProperty(
        shapeArb(3, 5).chain((s) => fc.tuple(fc.constant(s), fc.tuple(...s.map(entryArb)), fc.nat())),
        async ([shape, spec, seed]) => {
          const [x, rx] = randomF32(shape, seed);
          const perAxis = spec.map((e, a) => {
            if (typeof e === "number") return [e < 0 ? e + shape[a]! : e];
            const [start, stop, step] = Array.isArray(e) ? (e as (number | null)[]) : [];
            return pySliceIndices(shape[a]!, start ?? null, stop ?? null, step ?? null);
          });
          const kept = spec.flatMap((e, a) => (typeof e === "number" ? [] : [a]));
          const want = build(kept.map((a) => perAxis[a]!.length), (i) => {
            const src = perAxis.map((ix, a) => (kept.includes(a) ? ix[i[kept.indexOf(a)]!]! : ix[0]!));
            return at(rx, src);
          });
          await checkBoth((t) => np.slice(t, spec), [x], want);
        },
      ),
      RUNS,
    );
  });

  test("hand-checked cases: x[::-1], x[-2:], x[5:1:-2], x[..., 0]", async () => {
    const x = np.arange(8);
    expect(await np.slice(x, [[null, null, -1]]).tolist()).toEqual([7, 6, 5, 4, 3, 2, 1, 0]);
    expect(await np.slice(x, [[-2]]).tolist()).toEqual([6, 7]);
    expect(await np.slice(x, [[5, 1, -2]]).tolist()).toEqual([5, 3]);
    const m = np.reshape(x, [2, 2, 2]);
    expect(await np.slice(m, ["...", 0]).tolist()).toEqual([[0, 2], [4, 6]]);
    expect(await m.slice([1]).tolist()).toEqual([[4, 5], [6, 7]]);
  });

  test("out-of-bounds integers and too many indices are ShapeErrors", () => {
    const x = np.zeros([2, 3]);
    expectShapeError(() => np.slice(x, [0, 3]), "slice", ["index 3", "f32[2,3]"], FILE);
    expectShapeError(() => np.slice(x, [0, 0, 0]), "slice", ["too many indices", "f32[2,3]"], FILE);
  });

  test("flip reverses the given axes", async () => {
    const m = np.reshape(np.arange(6), [2, 3]);
    expect(await np.flip(m, 1).tolist()).toEqual([[2, 1, 0], [5, 4, 3]]);
    expect(await np.flip(m).tolist()).toEqual([[5, 4, 3], [2, 1, 0]]);
  });
});

describe("gathers", () => {
  test("take along any axis, with negative indices counting from the end", async () => {
    await fc.assert(
      fc.asyncProperty(shapeArb(3).filter((s) => s.length > 0), fc.nat(), fc.nat(), async (shape, axisSeed, seed) => {
        const axis = axisSeed % shape.length;
        const n = shape[axis]!;
        const [x, rx] = randomF32(shape, seed);
        const [idx, ridx] = randomI32([2, 3], seed + 1, -n, n);
        const outShape = [...shape.slice(0, axis), 2, 3, ...shape.slice(axis + 1)];
        const want = build(outShape, (i) => {
          const j = ridx.data[i[axis]! * 3 + i[axis + 1]!]!;
          return at(rx, [...i.slice(0, axis), j < 0 ? j + n : j, ...i.slice(axis + 2)]);
        });
        await checkBoth((t, k) => np.take(t, k, axis), [x, idx], want);
      }),
      RUNS,
    );
  });

  test("take without an axis indexes the flattened array; JS lists are indices", async () => {
    const m = np.reshape(np.arange(6), [2, 3]);
    expect(await np.take(m, [5, 0, -1]).tolist()).toEqual([5, 0, 5]);
    expect(await m.take([1], 1).tolist()).toEqual([[1], [4]]);
    expectShapeError(() => np.take(m, np.array([0.5])), "take", ["f32[1]"], FILE);
  });

  test("takeAlongAxis picks per-row entries and broadcasts the other axes", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 3 }), fc.nat(), async (r, c, k, seed) => {
        const [x, rx] = randomF32([r, c], seed);
        const [idx, ridx] = randomI32([r, k], seed + 1, 0, c);
        await checkBoth((t, i) => np.takeAlongAxis(t, i, 1), [x, idx], build([r, k], ([i, j]) => at(rx, [i!, ridx.data[i! * k + j!]!])));
        const [col, rcol] = randomI32([k, 1], seed + 2, 0, r);
        await checkBoth((t, i) => np.takeAlongAxis(t, i, 0), [x, col], build([k, c], ([i, j]) => at(rx, [rcol.data[i!]!, j!])));
      }),
      RUNS,
    );
  });

  test("topK indices gather the topK values back with takeAlongAxis", async () => {
    const [x] = randomF32([3, 6], 11);
    const [v, i] = np.topK(x, 2);
    expect(await np.takeAlongAxis(x, i, -1).tolist()).toEqual(await v.tolist());
  });

  test("oneHot encodes along a new last axis; out-of-range rows are zero", async () => {
    expect(await np.oneHot([0, 2, 3, -1], 3).tolist()).toEqual([[1, 0, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0]]);
    const f = jit((i: Tensor) => np.oneHot(i, 4, { dtype: "i32" }));
    const y = f(np.array([[1], [3]], { dtype: "i32" }));
    expect(y.dtype).toBe("i32");
    expect(await y.tolist()).toEqual([[[0, 1, 0, 0]], [[0, 0, 0, 1]]]);
  });
});
