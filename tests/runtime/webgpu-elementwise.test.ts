/**
 * Every elementwise primitive on WebGPU against the interpreter, on generated shapes and
 * values. Tolerances are per op: exact where Vulkan requires correct rounding (add, mul,
 * comparisons, casts, floor...), a few ulp for division and sqrt, and the approximation
 * error of the transcendental functions elsewhere (sin/cos: Vulkan allows 2^-11 absolute).
 */
import fc from "fast-check";
import { describe, test } from "vitest";
import { type DType, hostArray } from "../../ir/dtype.js";
import type { BinaryOp, CompareOp, UnaryOp } from "../../ir/primitives.js";
import { RUNS, fill, seedArb, shapeArb } from "./webgpu-arbitraries.js";
import { EXACT, type Tolerance, expectMatch, gpu, oneNode } from "./webgpu-helpers.js";

const FLOAT_UNARY: { op: UnaryOp; lo: number; hi: number; tol: Tolerance }[] = [
  { op: "neg", lo: -10, hi: 10, tol: EXACT },
  { op: "abs", lo: -10, hi: 10, tol: EXACT },
  { op: "sign", lo: -2, hi: 2, tol: EXACT },
  { op: "floor", lo: -10, hi: 10, tol: EXACT },
  { op: "ceil", lo: -10, hi: 10, tol: EXACT },
  { op: "round", lo: -10, hi: 10, tol: EXACT },
  { op: "exp", lo: -20, hi: 20, tol: { rtol: 2e-6, atol: 0 } },
  { op: "expm1", lo: -20, hi: 20, tol: { rtol: 2e-6, atol: 0 } },
  { op: "log", lo: 1e-3, hi: 1e3, tol: { rtol: 1e-6, atol: 1e-6 } },
  { op: "sin", lo: -10, hi: 10, tol: { rtol: 0, atol: 5e-4 } },
  { op: "cos", lo: -10, hi: 10, tol: { rtol: 0, atol: 5e-4 } },
  { op: "tanh", lo: -30, hi: 30, tol: { rtol: 1e-5, atol: 1e-6 } },
  { op: "logistic", lo: -30, hi: 30, tol: { rtol: 1e-5, atol: 1e-7 } },
  { op: "sqrt", lo: 0, hi: 100, tol: { rtol: 1e-6, atol: 0 } },
  { op: "rsqrt", lo: 1e-3, hi: 100, tol: { rtol: 2e-6, atol: 0 } },
  { op: "erf", lo: -5, hi: 5, tol: { rtol: 0, atol: 1e-6 } },
];

const BINARY: { op: BinaryOp; dtypes: DType[]; tol: Tolerance; lo?: number; hi?: number }[] = [
  { op: "add", dtypes: ["f32", "i32", "u32"], tol: EXACT },
  { op: "sub", dtypes: ["f32", "i32", "u32"], tol: EXACT },
  { op: "mul", dtypes: ["f32", "i32", "u32"], tol: EXACT },
  { op: "div", dtypes: ["f32", "i32", "u32"], tol: { rtol: 4e-7, atol: 0 } },
  { op: "max", dtypes: ["f32", "i32", "u32"], tol: EXACT },
  { op: "min", dtypes: ["f32", "i32", "u32"], tol: EXACT },
  { op: "pow", dtypes: ["f32"], tol: { rtol: 1e-5, atol: 1e-6 }, lo: 0, hi: 3 },
  { op: "atan2", dtypes: ["f32"], tol: { rtol: 1e-5, atol: 1e-6 } },
];

const COMPARE: CompareOp[] = ["eq", "ne", "lt", "le", "gt", "ge"];

describe.skipIf(!gpu)("webgpu elementwise", () => {
  test("every float unary op matches the interpreter within its tolerance", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...FLOAT_UNARY), shapeArb(), seedArb, async ({ op, lo, hi, tol }, shape, seed) => {
        const x = fill("f32", shape, seed, lo, hi);
        await expectMatch(oneNode(op, [x], {}), [x], tol);
      }),
      { numRuns: 45 },
    );
  });

  test("neg, abs and sign on integers are exact", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom<UnaryOp>("neg", "abs", "sign"), fc.constantFrom<DType>("i32", "u32"), shapeArb(), seedArb, async (op, dtype, shape, seed) => {
        if (op === "neg" && dtype === "u32") return;
        const x = fill(dtype, shape, seed, dtype === "u32" ? 0 : -1000, 1000);
        await expectMatch(oneNode(op, [x], {}), [x]);
      }),
      RUNS,
    );
  });

  test("binary arithmetic matches on f32, i32 and u32 (integer division by zero gives 0)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...BINARY), fc.nat(2), shapeArb(), seedArb, async (c, d, shape, seed) => {
        const dtype = c.dtypes[d % c.dtypes.length]!;
        const lo = c.lo ?? (dtype === "u32" ? 0 : -50), hi = c.hi ?? 50;
        const a = fill(dtype, shape, seed, lo, hi), b = fill(dtype, shape, seed + 1, c.op === "pow" ? -3 : lo, hi);
        await expectMatch(oneNode(c.op, [a, b], {}), [a, b], dtype === "f32" ? c.tol : EXACT);
      }),
      { numRuns: 40 },
    );
  });

  test("expm1 keeps its relative accuracy near 0, where exp(x) - 1 would cancel, and at the polynomial's edge", async () => {
    const xs = [1e-10, -1e-10, 1e-7, -3e-5, 1e-3, -0.01, 0.2, -0.49, 0.4999, 0.5, -0.5, 0.51, 2, -20, 88, 100, -0, NaN];
    const x = hostArray("f32", [xs.length], xs);
    await expectMatch(oneNode("expm1", [x], {}), [x], { rtol: 2e-6, atol: 0 });
  });

  test("atan2 gives the angle in every quadrant, on the axes and at signed zeros", async () => {
    const y = hostArray("f32", [10], [1, 1, -1, -1, 0, -0, 0, 1, -1, 3]);
    const x = hostArray("f32", [10], [1, -1, -1, 1, -1, -1, 1, 0, 0, 1e-6]);
    await expectMatch(oneNode("atan2", [y, x], {}), [y, x], { rtol: 1e-5, atol: 1e-6 });
  });

  test("pow takes the sign of a negative base from an integral exponent's parity", async () => {
    const a = hostArray("f32", [8], [-2, -2, -2, -0.5, 0, 0, 1, -1]);
    const b = hostArray("f32", [8], [3, 2, 0.5, -3, 0, 2, NaN, 4]);
    await expectMatch(oneNode("pow", [a, b], {}), [a, b], { rtol: 1e-6, atol: 0 });
  });

  test("f32 max and min propagate NaN from either operand, like the interpreter", async () => {
    const a = hostArray("f32", [8], [NaN, 1, NaN, -2, 0, Infinity, -Infinity, 3]);
    const b = hostArray("f32", [8], [1, NaN, NaN, -3, -0, NaN, 5, 3]);
    for (const op of ["max", "min"] as const) await expectMatch(oneNode(op, [a, b], {}), [a, b]);
  });

  test("comparisons give bool results, ties included", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...COMPARE), fc.constantFrom<DType>("f32", "i32", "u32"), shapeArb(), seedArb, async (op, dtype, shape, seed) => {
        const a = fill(dtype, shape, seed, 0, 3), b = fill(dtype, shape, seed + 7, 0, 3);
        await expectMatch(oneNode(op, [a, b], {}), [a, b]);
      }),
      { numRuns: 20 },
    );
  });

  test("and, or, not and select work on bool arrays stored as words", async () => {
    await fc.assert(
      fc.asyncProperty(shapeArb(), seedArb, fc.constantFrom<DType>("f32", "i32", "bool"), async (shape, seed, dtype) => {
        const p = fill("bool", shape, seed), q = fill("bool", shape, seed + 1);
        await expectMatch(oneNode("and", [p, q], {}), [p, q]);
        await expectMatch(oneNode("or", [p, q], {}), [p, q]);
        await expectMatch(oneNode("not", [p], {}), [p]);
        const x = fill(dtype, shape, seed + 2), y = fill(dtype, shape, seed + 3);
        await expectMatch(oneNode("select", [p, x, y], {}), [p, x, y]);
      }),
      RUNS,
    );
  });

  test("cast between every pair of dtypes saturates like the interpreter (NaN → 0, out of range → the bound)", async () => {
    const special = [NaN, Infinity, -Infinity, 3e9, -3e9, 2147483520, -2147483648, 4294967040, -0.5, 0.5, 1.5, -7.9, 0];
    for (const from of ["f32", "i32", "u32", "bool"] as DType[])
      for (const to of ["f32", "i32", "u32", "bool"] as DType[]) {
        const x = from === "f32" ? hostArray("f32", [special.length], special) : fill(from, [37], 11, from === "u32" ? 0 : -3000, 3000);
        await expectMatch(oneNode("cast", [x], { dtype: to }), [x]);
      }
  });
});
