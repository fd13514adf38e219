/**
 * fast-check arbitraries for the WebGPU property suites: shapes made of awkward sizes (1,
 * odd, prime, one past a tile), ranks 0 to 4, and seeded array contents.
 */
import fc from "fast-check";
import { type DType, type HostArray, type Shape, hostArray, sizeOf } from "../../ir/dtype.js";
import { rng } from "../rng.js";
export { rng };

/** Sizes that are 1, odd, prime, or just off a power of two (tiles are 16/64/256). */
export const DIMS = [1, 2, 3, 5, 7, 13, 17, 31, 33, 64, 65];

export function shapeArb(opts: { minRank?: number; maxRank?: number; maxSize?: number; dims?: number[] } = {}): fc.Arbitrary<number[]> {
  const { minRank = 0, maxRank = 4, maxSize = 6000, dims = DIMS } = opts;
  return fc.array(fc.constantFrom(...dims), { minLength: minRank, maxLength: maxRank }).filter((s) => sizeOf(s) <= maxSize);
}


/** Values uniform in [lo, hi] (integers for integer dtypes, 0/1 for bool). */
export function fill(dtype: DType, shape: Shape, seed: number, lo = -4, hi = 4): HostArray {
  const r = rng(seed);
  const n = sizeOf(shape);
  const data = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const u = r();
    data[i] = dtype === "bool" ? (u < 0.5 ? 0 : 1) : dtype === "f32" ? lo + (hi - lo) * u : Math.floor(lo + (hi - lo + 1) * u);
  }
  return hostArray(dtype, shape, data);
}

export const seedArb = fc.integer({ min: 0, max: 2 ** 31 - 1 });

/** A random permutation of 0..n-1. */
export function permArb(n: number): fc.Arbitrary<number[]> {
  return fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n });
}

/** Runs a property with a modest number of cases: each case compiles kernels on the device. */
export const RUNS = { numRuns: 12 };
