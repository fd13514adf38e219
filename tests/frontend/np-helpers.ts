/**
 * Helpers for the np/nn suites: float64 reference arrays with numpy-broadcast
 * indexing, seeded data, shape generators for fast-check, and a runner that
 * checks an op eagerly and under jit against the same reference.
 */
import fc from "fast-check";
import { expect } from "vitest";
import type { Tensor } from "../../frontend/core.js";
import { fromHost } from "../../frontend/creation.js";
import { jit } from "../../frontend/jit.js";
import { ShapeError } from "../../ir/errors.js";
import { rng } from "../rng.js";
export { rng };

/** A float64 reference array, row-major. */
export interface Ref {
  shape: number[];
  data: number[];
}

export const size = (shape: readonly number[]) => shape.reduce((n, d) => n * d, 1);

export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) (s[i] = acc), (acc *= shape[i]!);
  return s;
}

/** Every multi-index of `shape`, row-major. */
export function* indices(shape: readonly number[]): Generator<number[]> {
  const n = size(shape);
  const st = stridesOf(shape);
  for (let f = 0; f < n; f++) yield shape.map((d, i) => Math.floor(f / st[i]!) % d);
}

/** Builds a reference array from a function of the multi-index. */
export function build(shape: readonly number[], f: (idx: number[]) => number): Ref {
  return { shape: [...shape], data: [...indices(shape)].map(f) };
}

/** `r` read at `idx` under numpy broadcasting: idx aligned right, size-1 axes read index 0. */
export function at(r: Ref, idx: readonly number[]): number {
  const off = idx.length - r.shape.length;
  let flat = 0;
  r.shape.forEach((d, i) => (flat = flat * d + (d === 1 ? 0 : idx[off + i]!)));
  return r.data[flat]!;
}

/** numpy's broadcast of shapes, written independently of np-broadcast.ts. */
export function broadcastRef(...shapes: (readonly number[])[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  return Array.from({ length: rank }, (_, i) =>
    Math.max(...shapes.map((s) => s[s.length - rank + i] ?? 1)),
  );
}


/** A seeded f32 reference array uniform in [lo, hi), with its tensor. */
export function randomF32(shape: readonly number[], seed: number, lo = -2, hi = 2): [Tensor, Ref] {
  const r = rng(seed);
  const data = Array.from({ length: size(shape) }, () => Math.fround(lo + (hi - lo) * r()));
  return [fromHost("f32", [...shape], Float32Array.from(data)), { shape: [...shape], data }];
}

export function randomI32(shape: readonly number[], seed: number, lo: number, hi: number): [Tensor, Ref] {
  const r = rng(seed);
  const data = Array.from({ length: size(shape) }, () => lo + Math.floor((hi - lo) * r()));
  return [fromHost("i32", [...shape], Int32Array.from(data)), { shape: [...shape], data }];
}

export const tensorOf = (ref: Ref, dtype: "f32" | "i32" = "f32") =>
  fromHost(dtype, ref.shape, dtype === "f32" ? Float32Array.from(ref.data) : Int32Array.from(ref.data));

/** Asserts `t` has the reference's shape and values within rtol/atol (NaN matches NaN). */
export async function expectClose(t: Tensor, ref: Ref, tol: { rtol?: number; atol?: number } = {}): Promise<void> {
  expect([...t.shape]).toEqual(ref.shape);
  const got = Array.from(await t.data());
  const rtol = tol.rtol ?? 1e-5, atol = tol.atol ?? 1e-6;
  got.forEach((g, i) => {
    const w = ref.data[i]!;
    if (Number.isNaN(w)) return expect(g, `element ${i}`).toBeNaN();
    if (!Number.isFinite(w)) return expect(g, `element ${i}`).toBe(w);
    if (Math.abs(g - w) > atol + rtol * Math.abs(w))
      expect.fail(`element ${i} of [${ref.shape}]: got ${g}, want ${w} (rtol ${rtol}, atol ${atol})`);
  });
}

/**
 * Runs `fn` eagerly and under jit on the same tensors and checks both against
 * `ref`: every op must give the same numbers staged as it does eagerly.
 */
export async function checkBoth(
  fn: (...xs: Tensor[]) => Tensor,
  args: Tensor[],
  ref: Ref,
  tol?: { rtol?: number; atol?: number },
): Promise<void> {
  await expectClose(fn(...args), ref, tol);
  await expectClose(jit(fn)(...args), ref, tol);
}

/** The ShapeError `fn` throws, checked to name the op, the given shapes and this test file. */
export function expectShapeError(fn: () => unknown, op: string, shapes: readonly string[], file: string): ShapeError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, `${op} should throw`).toBeInstanceOf(ShapeError);
  const e = err as ShapeError;
  expect(e.message).toContain(`${op}:`);
  for (const s of shapes) expect(e.message).toContain(s);
  expect(e.message).toContain(file);
  return e;
}

/** A shape of rank 0..maxRank with axes 1..maxDim. */
export const shapeArb = (maxRank = 4, maxDim = 4) => fc.array(fc.integer({ min: 1, max: maxDim }), { maxLength: maxRank });

/** A shape that broadcasts to `base`: a suffix of it with some axes set to 1. */
export const broadcastableTo = (base: readonly number[]) =>
  fc
    .tuple(fc.integer({ min: 0, max: base.length }), fc.array(fc.boolean(), { minLength: base.length, maxLength: base.length }))
    .map(([drop, ones]) => base.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d)));

/** Two shapes that broadcast together, with a seed for their data. */
export const broadcastPairArb = shapeArb().chain((base) =>
  fc.tuple(broadcastableTo(base), broadcastableTo(base), fc.integer({ min: 0, max: 2 ** 31 - 1 })),
);

export const RUNS = { numRuns: 25 };
