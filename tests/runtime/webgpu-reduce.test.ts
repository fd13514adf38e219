/**
 * Reductions, scans, top_k, scatter_add and dot_general on WebGPU against the
 * interpreter. The interpreter accumulates f32 in float64, the device in f32, so float
 * tolerances grow with the number of terms (values are in [-1, 1]); integers are exact.
 */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { type DType, sizeOf } from "../../ir/dtype.js";
import { REDUCE_OPS } from "../../ir/primitives.js";
import { RUNS, fill, permArb, rng, seedArb, shapeArb } from "./webgpu-arbitraries.js";
import { EXACT, expectMatch, gpu, oneNode } from "./webgpu-helpers.js";

const numeric = fc.constantFrom<DType>("f32", "i32", "u32");
/** Shapes with one long axis, so both the per-output and the workgroup-tree strategies run. */
const reduceShape = fc.oneof(shapeArb({ minRank: 1 }), shapeArb({ minRank: 1, maxRank: 3, dims: [1, 3, 129, 300, 1031], maxSize: 40000 }));
const sumTol = (terms: number) => ({ rtol: 1e-5, atol: 2e-7 * terms });

describe.skipIf(!gpu)("webgpu reductions and contractions", () => {
  test("reduce_sum, reduce_max and reduce_min over any set of axes", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...REDUCE_OPS), numeric, reduceShape, seedArb, async (op, dtype, shape, seed) => {
        const r = rng(seed);
        const axes = shape.map((_, i) => i).filter(() => r() < 0.5);
        const x = fill(dtype, shape, seed, dtype === "f32" ? -1 : dtype === "u32" ? 0 : -20, dtype === "f32" ? 1 : 20);
        const terms = sizeOf(axes.map((a) => shape[a]!));
        await expectMatch(oneNode(op, [x], { axes }), [x], dtype === "f32" && op === "reduce_sum" ? sumTol(terms) : EXACT);
      }),
      { numRuns: 30 },
    );
  });

  test("argmax returns the first maximum, ties included", async () => {
    await fc.assert(
      fc.asyncProperty(numeric, reduceShape, seedArb, async (dtype, shape, seed) => {
        const axis = seed % shape.length;
        if (shape[axis] === 0) return;
        const x = fill(dtype, shape, seed, 0, 5);
        await expectMatch(oneNode("argmax", [x], { axis }), [x]);
      }),
      { numRuns: 20 },
    );
  });

  test("cumsum forwards and in reverse along any axis", async () => {
    await fc.assert(
      fc.asyncProperty(numeric, shapeArb({ minRank: 1 }), seedArb, fc.boolean(), async (dtype, shape, seed, reverse) => {
        const axis = seed % shape.length;
        const x = fill(dtype, shape, seed, dtype === "f32" ? -1 : 0, dtype === "f32" ? 1 : 9);
        await expectMatch(oneNode("cumsum", [x], { axis, reverse }), [x], dtype === "f32" ? sumTol(shape[axis]!) : EXACT);
      }),
      RUNS,
    );
  });

  test("top_k gives values and indices in descending order, ties to the lower index", async () => {
    await fc.assert(
      fc.asyncProperty(numeric, shapeArb({ minRank: 1, maxSize: 3000 }), seedArb, async (dtype, shape, seed) => {
        const n = shape[shape.length - 1]!;
        const k = 1 + (seed % n);
        const x = fill(dtype, shape, seed, 0, 6);
        await expectMatch(oneNode("top_k", [x], { k }), [x]);
      }),
      RUNS,
    );
  });

  test("scatter_add sums duplicate indices and drops out-of-range ones", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom<DType>("f32", "i32"), shapeArb({ minRank: 1, maxRank: 3, maxSize: 1500 }), shapeArb({ maxRank: 2, maxSize: 30 }), seedArb,
        async (dtype, shape, idxShape, seed) => {
          const axis = seed % shape.length;
          const x = fill(dtype, shape, seed);
          const idx = fill("i32", idxShape, seed + 1, -1, shape[axis]!);
          const updShape = [...shape.slice(0, axis), ...idxShape, ...shape.slice(axis + 1)];
          const upd = fill(dtype, updShape, seed + 2);
          await expectMatch(oneNode("scatter_add", [x, idx, upd], { axis }), [x, idx, upd], dtype === "f32" ? { rtol: 1e-5, atol: 1e-5 } : EXACT);
        }),
      RUNS,
    );
  });

  test("dot_general with batch dims, transposed operands and sizes off the tile", async () => {
    const dims = fc.constantFrom(1, 2, 7, 16, 33, 65, 67);
    await fc.assert(
      fc.asyncProperty(fc.nat(2), dims, dims, dims, seedArb, permArb(3), permArb(3), fc.constantFrom<DType>("f32", "i32"),
        async (nb, m, n, k, seed, lp, rp, dtype) => {
          const batch = [2, 3].slice(0, nb % 3);
          // Canonical lhs [batch..., m, k] and rhs [batch..., k, n], then permute the non-batch axes.
          const lhsAxes = ["m", "k"], rhsAxes = ["k", "n"];
          const lperm = lp.filter((p) => p < 2), rperm = rp.filter((p) => p < 2);
          const size: Record<string, number> = { m, n, k };
          const lhsShape = [...batch, ...lperm.map((p) => size[lhsAxes[p]!]!)];
          const rhsShape = [...batch, ...rperm.map((p) => size[rhsAxes[p]!]!)];
          const nbat = batch.length;
          const params = {
            lhs_batch: batch.map((_, i) => i), rhs_batch: batch.map((_, i) => i),
            lhs_contract: [nbat + lperm.indexOf(1)], rhs_contract: [nbat + rperm.indexOf(0)],
          };
          const a = fill(dtype, lhsShape, seed, -1, 1), b = fill(dtype, rhsShape, seed + 1, -1, 1);
          await expectMatch(oneNode("dot_general", [a, b], params), [a, b], dtype === "f32" ? sumTol(k) : EXACT);
        }),
      { numRuns: 15 },
    );
  });

  test("dot_general on integers and with several free and contracting dims", async () => {
    const a = fill("i32", [3, 5, 2, 7], 1, -9, 9), b = fill("i32", [7, 2, 4, 3], 2, -9, 9);
    await expectMatch(oneNode("dot_general", [a, b], { lhs_contract: [3, 2], rhs_contract: [0, 1], lhs_batch: [0], rhs_batch: [3] }), [a, b]);
    const x = fill("f32", [4, 6, 5], 3, -1, 1), y = fill("f32", [5, 6, 3], 4, -1, 1);
    await expectMatch(oneNode("dot_general", [x, y], { lhs_contract: [1, 2], rhs_contract: [1, 0], lhs_batch: [], rhs_batch: [] }), [x, y], sumTol(30));
  });

  test("a launch past 65,535 workgroups is split across grid dimensions and stays correct", async () => {
    // 70,000 rows of 130: one workgroup per row (130 > the serial limit), so 70,000 workgroups.
    const x = fill("f32", [70000, 130], 5, -1, 1);
    const g = oneNode("reduce_sum", [x], { axes: [1] });
    const exe = gpu!.compile(g);
    expect(exe.kernels[0]!.workgroups[1]).toBeGreaterThan(1);
    await expectMatch(g, [x], sumTol(130));
  });
});
