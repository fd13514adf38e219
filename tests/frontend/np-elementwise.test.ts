import fc from "fast-check";
import { beforeAll, describe, expect, test } from "vitest";
import type { Tensor } from "../../frontend/core.js";
import { fromHost } from "../../frontend/creation.js";
import { init } from "../../frontend/init.js";
import { jit } from "../../frontend/jit.js";
import * as np from "../../frontend/np.js";
import {
  RUNS, at, broadcastPairArb, broadcastRef, build, checkBoth, expectClose, expectShapeError, randomF32, shapeArb,
} from "./np-helpers.js";

beforeAll(async () => {
  await init({ backend: "interp" });
});

const FILE = "np-elementwise.test.ts";

const binaries: [string, (a: Tensor, b: Tensor) => Tensor, (a: number, b: number) => number][] = [
  ["add", np.add, (a, b) => a + b],
  ["subtract", np.subtract, (a, b) => a - b],
  ["multiply", np.multiply, (a, b) => a * b],
  ["divide", np.divide, (a, b) => a / b],
  ["maximum", np.maximum, Math.max],
  ["minimum", np.minimum, Math.min],
  ["power", (a, b) => np.power(np.abs(a), b), (a, b) => Math.abs(a) ** b],
];

describe("np binary ops broadcast like numpy", () => {
  for (const [name, op, ref] of binaries)
    test(`${name} matches a float64 reference on broadcast shapes, eagerly and under jit`, async () => {
      await fc.assert(
        fc.asyncProperty(broadcastPairArb, async ([sa, sb, seed]) => {
          const [a, ra] = randomF32(sa, seed);
          const [b, rb] = randomF32(sb, seed + 1, 0.5, 2);
          const want = build(broadcastRef(sa, sb), (i) => ref(at(ra, i), at(rb, i)));
          await checkBoth(op, [a, b], want, { rtol: 1e-5, atol: 1e-5 });
        }),
        RUNS,
      );
    });

  test("comparisons and where broadcast together", async () => {
    await fc.assert(
      fc.asyncProperty(broadcastPairArb, async ([sa, sb, seed]) => {
        const [a, ra] = randomF32(sa, seed);
        const [b, rb] = randomF32(sb, seed + 7);
        const want = build(broadcastRef(sa, sb), (i) => (at(ra, i) > at(rb, i) ? at(ra, i) : -at(rb, i)));
        await checkBoth((x, y) => np.where(np.greater(x, y), x, np.negative(y)), [a, b], want);
      }),
      RUNS,
    );
  });

  test("a JS number broadcasts as a scalar of the tensor's dtype", async () => {
    const [a, ra] = randomF32([2, 3], 1);
    await checkBoth((x) => np.add(np.multiply(x, 2), 0.5), [a], build([2, 3], (i) => at(ra, i) * 2 + 0.5));
    await checkBoth((x) => np.subtract(1, x), [a], build([2, 3], (i) => 1 - at(ra, i)));
  });

  test("incompatible shapes raise a ShapeError naming the op, both shapes and the caller's line", () => {
    const a = np.zeros([2, 3]), b = np.zeros([4]);
    expectShapeError(() => np.add(a, b), "add", ["[2,3]", "[4]"], FILE);
    expectShapeError(() => np.where(np.zeros([3], "bool"), a, np.zeros([2, 1, 2])), "where", ["[3]", "[2,1,2]"], FILE);
  });

  test("a broadcasting error inside jit also points at the caller's line", () => {
    const f = jit((x: Tensor, y: Tensor) => np.multiply(x, y));
    expectShapeError(() => f(np.zeros([5]), np.zeros([3])), "multiply", ["[5]", "[3]"], FILE);
  });
});

describe("np unary math", () => {
  const unaries: [string, (x: Tensor) => Tensor, (x: number) => number, number, number][] = [
    ["exp", np.exp, Math.exp, -3, 3],
    ["log", np.log, Math.log, 0.01, 5],
    ["log1p", np.log1p, Math.log1p, -0.9, 5],
    ["log2", np.log2, Math.log2, 0.01, 5],
    ["sin", np.sin, Math.sin, -4, 4],
    ["cos", np.cos, Math.cos, -4, 4],
    ["tanh", np.tanh, Math.tanh, -4, 4],
    ["sqrt", np.sqrt, Math.sqrt, 0, 4],
    ["rsqrt", np.rsqrt, (x) => 1 / Math.sqrt(x), 0.1, 4],
    ["square", np.square, (x) => x * x, -3, 3],
    ["reciprocal", np.reciprocal, (x) => 1 / x, 0.5, 3],
    ["abs", np.abs, Math.abs, -3, 3],
    ["negative", np.negative, (x) => -x, -3, 3],
    ["sign", np.sign, Math.sign, -3, 3],
    ["floor", np.floor, Math.floor, -3, 3],
    ["ceil", np.ceil, Math.ceil, -3, 3],
  ];
  for (const [name, op, ref, lo, hi] of unaries)
    test(`${name} matches Math.${name === "negative" ? "neg" : name} eagerly and under jit`, async () => {
      await fc.assert(
        fc.asyncProperty(shapeArb(3), fc.nat(), async (shape, seed) => {
          const [x, rx] = randomF32(shape, seed, lo, hi);
          await checkBoth(op, [x], { shape, data: rx.data.map(ref) }, { rtol: 2e-6, atol: 1e-6 });
        }),
        { numRuns: 10 },
      );
    });

  test("log1p keeps full precision for tiny arguments", async () => {
    const xs = [1e-10, -1e-8, 3e-7, 0, 1e-3];
    await expectClose(np.log1p(np.array(xs)), { shape: [5], data: xs.map((x) => Math.log1p(Math.fround(x))) }, { rtol: 1e-6, atol: 0 });
  });

  test("round rounds half to even and is the identity on integers", async () => {
    expect(await np.round(np.array([0.5, 1.5, 2.5, -0.5, -1.7])).tolist()).toEqual([0, 2, 2, -0, -2]);
    const i = np.array([3, -4], { dtype: "i32" });
    expect(np.round(i).dtype).toBe("i32");
  });

  test("transcendentals promote integers to f32", async () => {
    const y = np.sqrt(np.array([4, 9], { dtype: "i32" }));
    expect(y.dtype).toBe("f32");
    expect(await y.tolist()).toEqual([2, 3]);
  });

  test("clip bounds from below, above or both", async () => {
    const x = np.array([-2, -0.5, 0.5, 2]);
    expect(await np.clip(x, -1, 1).tolist()).toEqual([-1, -0.5, 0.5, 1]);
    expect(await np.clip(x, 0).tolist()).toEqual([0, 0, 0.5, 2]);
    expect(await np.clip(x, null, 0).tolist()).toEqual([-2, -0.5, 0, 0]);
  });

  test("isnan and isfinite classify special values", async () => {
    const x = np.array([0, NaN, Infinity, -Infinity, 1]);
    expect(await np.isnan(x).tolist()).toEqual([false, true, false, false, false]);
    expect(await np.isfinite(x).tolist()).toEqual([true, false, false, false, true]);
  });
});

describe("np dtype promotion", () => {
  const i32 = (v: number[]) => np.array(v, { dtype: "i32" });
  test.each([
    ["i32 + f32 → f32", () => np.add(i32([1]), np.array([1.5])), "f32"],
    ["i32 + integer number → i32", () => np.add(i32([1]), 2), "i32"],
    ["i32 + fraction → f32", () => np.add(i32([1]), 0.5), "f32"],
    ["f32 + boolean → f32", () => np.add(np.array([1]), true), "f32"],
    ["bool + bool → bool", () => np.add(np.array([true]), np.array([false])), "bool"],
    ["bool + integer number → i32", () => np.add(np.array([true]), 1), "i32"],
    ["u32 + i32 → i32", () => np.add(np.array([1], { dtype: "u32" }), i32([1])), "i32"],
    ["i32 / i32 → f32 (true division)", () => np.divide(i32([3]), i32([2])), "f32"],
    ["two numbers → f32", () => np.add(1, 2), "f32"],
    ["comparison → bool", () => np.less(i32([1]), 1.5), "bool"],
  ] as const)("%s", (_name, make, dtype) => {
    expect(make().dtype).toBe(dtype);
  });

  test("true division of integers gives exact quotients", async () => {
    expect(await np.divide(i32([3, -7]), i32([2, 2])).tolist()).toEqual([1.5, -3.5]);
  });

  test("bool arithmetic is logic, as in numpy", async () => {
    const a = np.array([true, true, false]), b = np.array([true, false, false]);
    expect(await np.add(a, b).tolist()).toEqual([true, true, false]);
    expect(await np.multiply(a, b).tolist()).toEqual([true, false, false]);
  });

  test("floorDivide and remainder follow Python's sign rules on ints and floats", async () => {
    const a = [7, -7, 7, -7, 6], b = [2, 2, -2, -2, 3];
    const fd = a.map((x, i) => Math.floor(x / b[i]!));
    const rem = a.map((x, i) => x - Math.floor(x / b[i]!) * b[i]!);
    expect(await np.floorDivide(i32(a), i32(b)).tolist()).toEqual(fd);
    expect(await np.remainder(i32(a), i32(b)).tolist()).toEqual(rem);
    expect(await np.floorDivide(np.array(a), np.array(b)).tolist()).toEqual(fd);
    expect(await np.remainder(np.array(a), np.array(b)).tolist()).toEqual(rem);
  });

  test("integer power is exact", async () => {
    const y = np.power(i32([3, 2, 5]), i32([2, 10, 3]));
    expect(y.dtype).toBe("i32");
    expect(await y.tolist()).toEqual([9, 1024, 125]);
  });

  test("logical ops treat non-zero as true", async () => {
    const a = np.array([0, 1, 2, 0]), b = np.array([0, 0, 3, 5]);
    expect(await np.logicalAnd(a, b).tolist()).toEqual([false, false, true, false]);
    expect(await np.logicalOr(a, b).tolist()).toEqual([false, true, true, true]);
    expect(await np.logicalXor(a, b).tolist()).toEqual([false, true, false, true]);
    expect(await np.logicalNot(a).tolist()).toEqual([true, false, false, true]);
  });

  test("astype converts like numpy (truncation toward zero, non-zero → true)", async () => {
    const x = np.array([-1.7, 0, 2.9]);
    expect(await np.astype(x, "i32").tolist()).toEqual([-1, 0, 2]);
    expect(await x.astype("bool").tolist()).toEqual([true, false, true]);
  });
});

describe("Tensor methods", () => {
  test("chain like numpy methods: x.add(y).mul(2).sum()", async () => {
    const x = np.array([[1, 2], [3, 4]]), y = np.array([10, 20]);
    expect(await x.add(y).mul(2).sum().item()).toBe(2 * (11 + 22 + 13 + 24));
    expect(await x.T.tolist()).toEqual([[1, 3], [2, 4]]);
    expect(await x.matmul(x).mean(0).tolist()).toEqual([(7 + 15) / 2, (10 + 22) / 2]);
    expect(await x.reshape([4]).max().item()).toBe(4);
    expect(await x.greater(2).tolist()).toEqual([[false, false], [true, true]]);
  });

  test("work on traced values inside jit", async () => {
    const f = jit((x: Tensor) => x.sub(1).pow(2).sum(-1));
    const x = fromHost("f32", [2, 2], Float32Array.from([1, 2, 3, 4]));
    expect(await f(x).tolist()).toEqual([1, 13]);
  });
});
