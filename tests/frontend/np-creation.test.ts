import { beforeAll, describe, expect, test } from "vitest";
import type { Tensor } from "../../frontend/core.js";
import { init } from "../../frontend/init.js";
import { jit } from "../../frontend/jit.js";
import * as np from "../../frontend/np.js";
import { expectClose, expectShapeError } from "./np-helpers.js";

beforeAll(async () => {
  await init({ backend: "interp" });
});

const FILE = "np-creation.test.ts";

describe("np.array", () => {
  test("infers shape from nesting and dtype from the leaves", async () => {
    const x = np.array([[1, 2, 3], [4, 5, 6]]);
    expect([x.dtype, [...x.shape]]).toEqual(["f32", [2, 3]]);
    expect(await x.tolist()).toEqual([[1, 2, 3], [4, 5, 6]]);
    const b = np.array([true, false]);
    expect(b.dtype).toBe("bool");
    expect(await b.tolist()).toEqual([true, false]);
    expect([...np.array(3.5).shape]).toEqual([]);
    expect([...np.array([]).shape]).toEqual([0]);
  });

  test("takes its dtype from a typed array", () => {
    expect(np.array(new Float32Array(2)).dtype).toBe("f32");
    expect(np.array(new Float64Array(2)).dtype).toBe("f32");
    expect(np.array(new Int32Array(2)).dtype).toBe("i32");
    expect(np.array(new Uint32Array(2)).dtype).toBe("u32");
  });

  test("reshapes with { shape } and converts with { dtype }", async () => {
    const x = np.array(new Int32Array([1, 2, 3, 4, 5, 6]), { shape: [3, 2] });
    expect(await x.tolist()).toEqual([[1, 2], [3, 4], [5, 6]]);
    expect(await np.array([1.9, -1.9, 0], { dtype: "i32" }).tolist()).toEqual([1, -1, 0]);
    expect(await np.array([2, 0], { dtype: "bool" }).tolist()).toEqual([true, false]);
  });

  test("ragged nesting and a wrong shape are ShapeErrors", () => {
    expectShapeError(() => np.array([[1, 2], [3]]), "array", ["ragged", "[1]"], FILE);
    expectShapeError(() => np.array([1, 2, 3], { shape: [2, 2] }), "array", ["[2,2]"], FILE);
  });

  test("asarray passes tensors through and converts the rest", () => {
    const t = np.ones([2]);
    expect(np.asarray(t)).toBe(t);
    expect(np.asarray(t, "i32").dtype).toBe("i32");
    expect(np.asarray([1, 2]).dtype).toBe("f32");
  });

  test("inside jit an array is a captured constant", async () => {
    const f = jit((x: Tensor) => np.add(x, np.array([1, 2, 3])));
    expect(await f(np.zeros([3])).tolist()).toEqual([1, 2, 3]);
  });
});

describe("fills and ranges", () => {
  test("zeros, ones, full and the *Like variants", async () => {
    expect(await np.zeros([2]).tolist()).toEqual([0, 0]);
    expect(np.ones(3, "i32").dtype).toBe("i32");
    expect(await np.full([2], 7).tolist()).toEqual([7, 7]);
    expect(np.full([1], true).dtype).toBe("bool");
    const x = np.array([[1, 2]], { dtype: "i32" });
    expect([np.zerosLike(x).dtype, [...np.onesLike(x).shape]]).toEqual(["i32", [1, 2]]);
    expect(await np.fullLike(x, 4, "f32").tolist()).toEqual([[4, 4]]);
  });

  test("arange follows numpy: stop, start/stop, negative and fractional steps", async () => {
    expect(await np.arange(4).tolist()).toEqual([0, 1, 2, 3]);
    expect(np.arange(4).dtype).toBe("i32");
    expect(await np.arange(2, 5).tolist()).toEqual([2, 3, 4]);
    expect(await np.arange(5, 0, -2).tolist()).toEqual([5, 3, 1]);
    const f = np.arange(0, 1, 0.25);
    expect(f.dtype).toBe("f32");
    expect(await f.tolist()).toEqual([0, 0.25, 0.5, 0.75]);
    expect(await np.arange(3, { dtype: "f32" }).tolist()).toEqual([0, 1, 2]);
    expect([...np.arange(3, 1).shape]).toEqual([0]);
    expectShapeError(() => np.arange(0, 5, 0), "arange", ["step"], FILE);
  });

  test("linspace hits both ends exactly, or stops short without the endpoint", async () => {
    const y = np.linspace(-1, 2, 7);
    await expectClose(y, { shape: [7], data: [-1, -0.5, 0, 0.5, 1, 1.5, 2] }, { rtol: 1e-6, atol: 1e-7 });
    expect((await y.tolist() as number[])[6]).toBe(2);
    await expectClose(np.linspace(0, 1, 4, { endpoint: false }), { shape: [4], data: [0, 0.25, 0.5, 0.75] });
    expect(await np.linspace(3, 9, 1).tolist()).toEqual([3]);
  });

  test("eye puts ones on the k-th diagonal", async () => {
    expect(await np.eye(2).tolist()).toEqual([[1, 0], [0, 1]]);
    expect(await np.eye(2, 3, { k: 1, dtype: "i32" }).tolist()).toEqual([[0, 1, 0], [0, 0, 1]]);
    expect(await np.eye(3, 2, { k: -1 }).tolist()).toEqual([[0, 0], [1, 0], [0, 1]]);
  });

  test("inside jit ranges and fills stage as iota and constant nodes", async () => {
    const f = jit((x: Tensor) => np.add(np.multiply(x, np.arange(4, { dtype: "f32" })), np.eye(4)));
    const text = f.lower(np.ones([4, 4])).text();
    expect(text).toContain("iota");
    expect(text).not.toMatch(/%c\d/); // nothing captured from the host
    expect(await f(np.ones([4, 4])).tolist()).toEqual([[1, 1, 2, 3], [0, 2, 2, 3], [0, 1, 3, 3], [0, 1, 2, 4]]);
  });
});
