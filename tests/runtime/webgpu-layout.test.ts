/**
 * Layout and creation primitives on WebGPU against the interpreter: these move values
 * without arithmetic, so every comparison is exact.
 */
import fc from "fast-check";
import { describe, test } from "vitest";
import { type DType, sizeOf } from "../../ir/dtype.js";
import { RUNS, fill, permArb, rng, seedArb, shapeArb } from "./webgpu-arbitraries.js";
import { expectMatch, gpu, oneNode } from "./webgpu-helpers.js";

const dtypeArb = fc.constantFrom<DType>("f32", "i32", "u32", "bool");

describe.skipIf(!gpu)("webgpu layout", () => {
  test("broadcast_in_dim repeats size-1 and missing axes", async () => {
    await fc.assert(
      fc.asyncProperty(shapeArb({ minRank: 1 }), seedArb, dtypeArb, async (out, seed, dtype) => {
        const r = rng(seed);
        const dims = out.map((_, i) => i).filter(() => r() < 0.6);
        const src = dims.map((d) => (r() < 0.3 ? 1 : out[d]!));
        const x = fill(dtype, src, seed);
        await expectMatch(oneNode("broadcast_in_dim", [x], { shape: out, dims }), [x]);
      }),
      RUNS,
    );
  });

  test("reshape keeps row-major order", async () => {
    await fc.assert(
      fc.asyncProperty(shapeArb(), seedArb, async (shape, seed) => {
        const x = fill("f32", shape, seed);
        await expectMatch(oneNode("reshape", [x], { shape: [...shape].reverse() }), [x]);
        await expectMatch(oneNode("reshape", [x], { shape: [sizeOf(shape)] }), [x]);
      }),
      RUNS,
    );
  });

  test("transpose by any permutation", async () => {
    await fc.assert(
      fc.asyncProperty(shapeArb().chain((s) => fc.tuple(fc.constant(s), permArb(s.length))), seedArb, dtypeArb, async ([shape, perm], seed, dtype) => {
        const x = fill(dtype, shape, seed);
        await expectMatch(oneNode("transpose", [x], { perm }), [x]);
      }),
      RUNS,
    );
  });

  test("slice with starts, limits and strides", async () => {
    await fc.assert(
      fc.asyncProperty(shapeArb(), seedArb, async (shape, seed) => {
        const r = rng(seed);
        const start = shape.map((d) => Math.floor(r() * d));
        const limit = shape.map((d, i) => start[i]! + Math.floor(r() * (d - start[i]! + 1)));
        const strides = shape.map(() => 1 + Math.floor(r() * 3));
        const x = fill("i32", shape, seed, -100, 100);
        await expectMatch(oneNode("slice", [x], { start, limit, strides }), [x]);
      }),
      RUNS,
    );
  });

  test("pad with low and high edges and a fill value", async () => {
    await fc.assert(
      fc.asyncProperty(shapeArb({ maxSize: 2000 }), seedArb, fc.constantFrom<DType>("f32", "i32", "bool"), async (shape, seed, dtype) => {
        const r = rng(seed);
        const low = shape.map(() => Math.floor(r() * 3)), high = shape.map(() => Math.floor(r() * 3));
        const x = fill(dtype, shape, seed);
        await expectMatch(oneNode("pad", [x], { low, high, value: dtype === "bool" ? 1 : -2.5 }), [x]);
      }),
      RUNS,
    );
  });

  test("concatenate along any axis, also with more operands than a kernel may bind", async () => {
    await fc.assert(
      fc.asyncProperty(shapeArb({ minRank: 1, maxSize: 1000 }), seedArb, fc.integer({ min: 1, max: 20 }), async (shape, seed, count) => {
        const axis = seed % shape.length;
        const parts = Array.from({ length: count }, (_, i) => fill("f32", shape.map((d, k) => (k === axis ? 1 + ((seed + i) % 4) : d)), seed + i));
        await expectMatch(oneNode("concatenate", parts, { axis }), parts);
      }),
      RUNS,
    );
  });

  test("iota along each dim, in every numeric dtype", async () => {
    await fc.assert(
      fc.asyncProperty(shapeArb({ minRank: 1 }), fc.nat(3), fc.constantFrom<DType>("f32", "i32", "u32"), async (shape, d, dtype) => {
        await expectMatch(oneNode("iota", [], { shape, dim: d % shape.length, dtype }), []);
      }),
      RUNS,
    );
  });

  test("constant splats and dense constants, cast like the interpreter", async () => {
    await expectMatch(oneNode("constant", [], { value: [2.5], shape: [3, 7], dtype: "f32" }), []);
    await expectMatch(oneNode("constant", [], { value: [-3.7], shape: [5], dtype: "u32" }), []);
    await expectMatch(oneNode("constant", [], { value: [1, 0, 2, 3e10, NaN, -1], shape: [2, 3], dtype: "i32" }), []);
    await expectMatch(oneNode("constant", [], { value: [1, 0, 2, 0], shape: [4], dtype: "bool" }), []);
    await expectMatch(oneNode("constant", [], { value: [Infinity], shape: [], dtype: "f32" }), []);
  });

  test("gather clamps indices into range, for i32 and u32 indices", async () => {
    await fc.assert(
      fc.asyncProperty(shapeArb({ minRank: 1, maxRank: 3, maxSize: 2000 }), shapeArb({ maxRank: 2, maxSize: 40 }), seedArb, fc.constantFrom<DType>("i32", "u32"),
        async (shape, idxShape, seed, idt) => {
          const axis = seed % shape.length;
          const x = fill("f32", shape, seed);
          const idx = fill(idt, idxShape, seed + 1, idt === "i32" ? -2 : 0, shape[axis]! + 2);
          await expectMatch(oneNode("gather", [x, idx], { axis }), [x, idx]);
        }),
      RUNS,
    );
  });
});
