/**
 * Shared by the transformation suites: seeded random tensors, host-side reads,
 * and the central-difference gradient check.
 */
import { expect } from "vitest";
import { type DType, type Shape, allocHost, sizeOf } from "../../ir/dtype.js";
import type { Tensor } from "../../frontend/core.js";
import { fromHost } from "../../frontend/creation.js";
import { jit } from "../../frontend/jit.js";
import * as lax from "../../frontend/lax.js";
import { grad } from "../../frontend/vjp.js";
import { rng } from "../rng.js";
export { rng };


/** A tensor from values (storage follows allocHost: Float64Array for f32 in float64 mode). */
export function tensor(shape: Shape, values: ArrayLike<number>, dtype: DType = "f32"): Tensor {
  const data = allocHost(dtype, sizeOf(shape));
  data.set(values);
  return fromHost(dtype, shape, data);
}

/** Uniform in [lo, hi). */
export function uniform(shape: Shape, seed: number, lo = -1, hi = 1): Tensor {
  const r = rng(seed);
  return tensor(shape, Array.from({ length: sizeOf(shape) }, () => lo + (hi - lo) * r()));
}

/** Random integers in [0, n). */
export function ints(shape: Shape, seed: number, n: number): Tensor {
  const r = rng(seed);
  return tensor(shape, Array.from({ length: sizeOf(shape) }, () => Math.floor(r() * n)), "i32");
}

export const read = async (t: Tensor): Promise<number[]> => Array.from(await t.data());

export function expectClose(actual: readonly number[], expected: readonly number[], rtol: number, atol = rtol): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => {
    const e = expected[i]!;
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e)))
      expect.fail(`element ${i}: got ${a}, expected ${e} (|diff| ${Math.abs(a - e)} > ${atol} + ${rtol}·|expected|)`);
  });
}

/**
 * Checks grad against central differences for every floating-point argument.
 * A non-scalar `f` is contracted with fixed random weights first, so every
 * output element's cotangent is exercised. Meant for float64 mode (eps 1e-5 ⇒
 * truncation ~1e-10, rounding ~1e-11).
 */
export async function checkGrad(
  f: (...xs: Tensor[]) => Tensor,
  args: Tensor[],
  { eps = 1e-5, rtol = 1e-6, seed = 99 } = {},
): Promise<void> {
  const out = f(...args);
  const w = out.shape.length ? uniform(out.shape, seed) : null;
  const scalarF = (...xs: Tensor[]) => {
    const y = f(...xs);
    return w ? lax.reduceSum(lax.mul(y, w), y.shape.map((_, i) => i)) : y;
  };
  const diff = args.map((a, i) => [a, i] as const).filter(([a]) => a.dtype === "f32").map(([, i]) => i);
  const grads = grad(scalarF, { argnums: diff })(...args) as Tensor[];
  const evalF = jit(scalarF);
  for (const [k, i] of diff.entries()) {
    const x = await read(args[i]!);
    const numeric: number[] = [];
    for (let j = 0; j < x.length; j++) {
      const at = (delta: number) => {
        const xs = [...args];
        const y = [...x];
        y[j] = y[j]! + delta;
        xs[i] = tensor(args[i]!.shape, y);
        return evalF(...xs).item();
      };
      numeric.push(((await at(eps)) - (await at(-eps))) / (2 * eps));
    }
    expectClose(await read(grads[k]!), numeric, rtol);
  }
}
