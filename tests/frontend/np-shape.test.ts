import fc from "fast-check";
import { beforeAll, describe, expect, test } from "vitest";
import type { Tensor } from "../../frontend/core.js";
import { init } from "../../frontend/init.js";
import { jit } from "../../frontend/jit.js";
import * as np from "../../frontend/np.js";
import { RUNS, at, build, checkBoth, expectShapeError, randomF32, shapeArb, broadcastableTo } from "./np-helpers.js";

beforeAll(async () => {
  await init({ backend: "interp" });
});

const FILE = "np-shape.test.ts";
const seq = (shape: number[]) => np.reshape(np.arange(shape.reduce((a, b) => a * b, 1)), shape);

describe("reshape, transpose and axis shuffles", () => {
  test("reshape infers one -1 axis and keeps row-major order", async () => {
    await fc.assert(
      fc.asyncProperty(shapeArb(4), fc.nat(), async (shape, seed) => {
        const [x, rx] = randomF32(shape, seed);
        const n = rx.data.length;
        await checkBoth((t) => np.reshape(t, [-1]), [x], { shape: [n], data: rx.data });
        await checkBoth((t) => np.reshape(t, [n, -1]), [x], { shape: [n, 1], data: rx.data });
      }),
      RUNS,
    );
  });

  test("transpose permutes axes like the index map out[i] = x[i∘perm⁻¹]", async () => {
    await fc.assert(
      fc.asyncProperty(
        shapeArb(4).chain((s) => fc.tuple(fc.constant(s), fc.shuffledSubarray([...s.keys()], { minLength: s.length }), fc.nat())),
        async ([shape, perm, seed]) => {
          const [x, rx] = randomF32(shape, seed);
          const outShape = perm.map((p) => shape[p]!);
          const want = build(outShape, (i) => {
            const src = new Array<number>(shape.length);
            perm.forEach((p, k) => (src[p] = i[k]!));
            return at(rx, src);
          });
          await checkBoth((t) => np.transpose(t, perm), [x], want);
        },
      ),
      RUNS,
    );
  });

  test("default transpose, .T, swapaxes and moveaxis", async () => {
    const x = seq([2, 3, 4]);
    expect([...np.transpose(x).shape]).toEqual([4, 3, 2]);
    expect([...x.T.shape]).toEqual([4, 3, 2]);
    expect([...np.swapaxes(x, 0, -1).shape]).toEqual([4, 3, 2]);
    expect([...np.moveaxis(x, 0, -1).shape]).toEqual([3, 4, 2]);
    expect(await np.moveaxis(x, 0, -1).slice([0, 1]).tolist()).toEqual([1, 13]);
  });

  test("expandDims and squeeze add and remove size-1 axes", () => {
    const x = np.zeros([2, 3]);
    expect([...np.expandDims(x, 0).shape]).toEqual([1, 2, 3]);
    expect([...np.expandDims(x, -1).shape]).toEqual([2, 3, 1]);
    expect([...np.expandDims(x, [0, 3]).shape]).toEqual([1, 2, 3, 1]);
    expect([...np.squeeze(np.zeros([1, 2, 1])).shape]).toEqual([2]);
    expect([...np.squeeze(np.zeros([1, 2, 1]), -1).shape]).toEqual([1, 2]);
  });

  test("broadcastTo follows numpy's rule", async () => {
    await fc.assert(
      fc.asyncProperty(shapeArb().chain((b) => fc.tuple(fc.constant(b), broadcastableTo(b), fc.nat())), async ([base, s, seed]) => {
        const [x, rx] = randomF32(s, seed);
        await checkBoth((t) => np.broadcastTo(t, base), [x], build(base, (i) => at(rx, i)));
      }),
      RUNS,
    );
  });

  test("shape errors name the op and the shapes", () => {
    const x = np.zeros([2, 3]);
    expectShapeError(() => np.reshape(x, [4, -1]), "reshape", ["[2,3]", "[4,-1]"], FILE);
    expectShapeError(() => np.reshape(x, [5]), "reshape", ["[2,3]", "[5]"], FILE);
    expectShapeError(() => np.transpose(x, [0, 0]), "transpose", ["[2,3]"], FILE);
    expectShapeError(() => np.squeeze(x, 0), "squeeze", ["[2,3]"], FILE);
    expectShapeError(() => np.broadcastTo(x, [3, 3]), "broadcastTo", ["[2,3]", "[3,3]"], FILE);
    expectShapeError(() => np.expandDims(x, 4), "expandDims", ["axis 4", "f32[2,3]"], FILE);
  });

  test("a reshape error inside jit points at the caller's line", () => {
    const f = jit((t: Tensor) => np.reshape(t, [7]));
    expectShapeError(() => f(np.zeros([2, 3])), "reshape", ["[2,3]", "[7]"], FILE);
  });
});

describe("joining, splitting, padding, tiling", () => {
  test("concatenate joins along any axis and promotes dtypes", async () => {
    const a = seq([2, 2]), b = np.array([[10, 11]], { dtype: "i32" });
    expect(await np.concatenate([a, b]).tolist()).toEqual([[0, 1], [2, 3], [10, 11]]);
    expect(await np.concatenate([a, np.transpose(b)], -1).tolist()).toEqual([[0, 1, 10], [2, 3, 11]]);
    expect(np.concatenate([np.zeros([1]), np.zeros([1], "i32")]).dtype).toBe("f32");
    const f = jit((x: Tensor, y: Tensor) => np.concatenate([x, y], 1));
    expect(await f(a, a).tolist()).toEqual([[0, 1, 0, 1], [2, 3, 2, 3]]);
  });

  test("stack adds a new axis at any position", async () => {
    const a = np.array([1, 2]), b = np.array([3, 4]);
    expect(await np.stack([a, b]).tolist()).toEqual([[1, 2], [3, 4]]);
    expect(await np.stack([a, b], -1).tolist()).toEqual([[1, 3], [2, 4]]);
  });

  test("split into equal sections or at indices", async () => {
    const x = np.arange(6);
    expect(await Promise.all(np.split(x, 3).map((t) => t.tolist()))).toEqual([[0, 1], [2, 3], [4, 5]]);
    expect(await Promise.all(np.split(x, [1, 4]).map((t) => t.tolist()))).toEqual([[0], [1, 2, 3], [4, 5]]);
    const m = seq([2, 4]);
    expect(await np.split(m, 2, 1)[1]!.tolist()).toEqual([[2, 3], [6, 7]]);
  });

  test("pad adds constant borders, per axis or uniformly", async () => {
    const x = np.array([[1, 2]]);
    expect(await np.pad(x, 1).tolist()).toEqual([[0, 0, 0, 0], [0, 1, 2, 0], [0, 0, 0, 0]]);
    expect(await np.pad(x, [[0, 1], [2, 0]], { value: 9 }).tolist()).toEqual([[9, 9, 1, 2], [9, 9, 9, 9]]);
  });

  test("tile and repeat match numpy", async () => {
    const x = np.array([[1, 2], [3, 4]]);
    expect(await np.tile(x, 2).tolist()).toEqual([[1, 2, 1, 2], [3, 4, 3, 4]]);
    expect(await np.tile(np.array([1, 2]), [2, 1]).tolist()).toEqual([[1, 2], [1, 2]]);
    expect(await np.repeat(x, 2, 0).tolist()).toEqual([[1, 2], [1, 2], [3, 4], [3, 4]]);
    expect(await np.repeat(x, 2).tolist()).toEqual([1, 1, 2, 2, 3, 3, 4, 4]);
  });

  test("joining errors name the op and every shape", () => {
    expectShapeError(() => np.concatenate([np.zeros([2, 3]), np.zeros([2, 4])]), "concatenate", ["[2,3]", "[2,4]"], FILE);
    expectShapeError(() => np.stack([np.zeros([2]), np.zeros([3])]), "stack", ["[2]", "[3]"], FILE);
    expectShapeError(() => np.split(np.zeros([5]), 2), "split", ["f32[5]"], FILE);
    expectShapeError(() => np.pad(np.zeros([2]), [[1, 1], [1, 1]]), "pad", ["f32[2]"], FILE);
  });
});

test("broadcastShapes computes numpy's common shape or raises a ShapeError", () => {
  expect(np.broadcastShapes([2, 1, 3], [4, 1], [])).toEqual([2, 4, 3]);
  expectShapeError(() => np.broadcastShapes([2, 3], [3, 2]), "broadcastShapes", ["[2,3]", "[3,2]"], FILE);
});
