import fc from "fast-check";
import { beforeAll, describe, expect, test } from "vitest";
import { init } from "../../frontend/init.js";
import { jit } from "../../frontend/jit.js";
import * as np from "../../frontend/np.js";
import type { Tensor } from "../../frontend/core.js";
import { RUNS, type Ref, at, broadcastRef, build, checkBoth, expectShapeError, randomF32, broadcastableTo, shapeArb } from "./np-helpers.js";

beforeAll(async () => {
  await init({ backend: "interp" });
});

const FILE = "np-linalg.test.ts";

/** numpy.matmul by its definition: vectors promoted to matrices, batch axes broadcast. */
function matmulRef(a: Ref, b: Ref): Ref {
  const A = a.shape.length === 1 ? { shape: [1, a.shape[0]!], data: a.data } : a;
  const B = b.shape.length === 1 ? { shape: [b.shape[0]!, 1], data: b.data } : b;
  const [m, k] = A.shape.slice(-2) as [number, number];
  const n = B.shape[B.shape.length - 1]!;
  const batch = broadcastRef(A.shape.slice(0, -2), B.shape.slice(0, -2));
  const out = build([...batch, m, n], (i) => {
    const bi = i.slice(0, -2), [r, c] = i.slice(-2) as [number, number];
    let s = 0;
    for (let j = 0; j < k; j++) s += at(A, [...bi, r, j]) * at(B, [...bi, j, c]);
    return s;
  });
  let shape = out.shape;
  if (a.shape.length === 1) shape = [...shape.slice(0, -2), shape[shape.length - 1]!];
  if (b.shape.length === 1) shape = shape.slice(0, -1);
  return { shape, data: out.data };
}

/** Operand shapes for matmul: vectors, matrices, and batches that broadcast. */
const matmulArb = fc
  .tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), shapeArb(2, 3), fc.nat())
  .chain(([m, k, n, batch, seed]) =>
    fc.tuple(
      fc.oneof(fc.constant([k]), broadcastableTo(batch).map((b) => [...b, m, k])),
      fc.oneof(fc.constant([k]), broadcastableTo(batch).map((b) => [...b, k, n])),
      fc.constant(seed),
    ),
  );

describe("matmul", () => {
  test("matches numpy semantics for vectors, matrices and broadcast batches, eagerly and under jit", async () => {
    await fc.assert(
      fc.asyncProperty(matmulArb, async ([sa, sb, seed]) => {
        const [a, ra] = randomF32(sa, seed);
        const [b, rb] = randomF32(sb, seed + 1);
        await checkBoth(np.matmul, [a, b], matmulRef(ra, rb), { rtol: 1e-5, atol: 1e-5 });
      }),
      RUNS,
    );
  });

  test("x·W with a 2-D W is one dot_general without broadcasting", () => {
    const text = jit((x: Tensor, w: Tensor) => np.matmul(x, w)).lower(np.zeros([2, 5, 3]), np.zeros([3, 4])).text();
    expect(text).toContain("dot_general %x, %w {lhs_contract=[2], rhs_contract=[0], lhs_batch=[], rhs_batch=[]}");
    expect(text).not.toContain("broadcast_in_dim");
  });

  test("mismatched contracting or batch dims raise ShapeErrors naming matmul and both shapes", () => {
    expectShapeError(() => np.matmul(np.zeros([2, 3]), np.zeros([4, 5])), "matmul", ["[2,3]", "[4,5]"], FILE);
    expectShapeError(() => np.matmul(np.zeros([2, 2, 3]), np.zeros([3, 3, 5])), "matmul", ["[2,2,3]", "[3,3,5]"], FILE);
    expectShapeError(() => np.matmul(np.zeros([]), np.zeros([3])), "matmul", ["f32[]", "f32[3]"], FILE);
    const f = jit((a: Tensor, b: Tensor) => a.matmul(b));
    expectShapeError(() => f(np.zeros([2, 3]), np.zeros([2, 3])), "matmul", ["[2,3]"], FILE);
  });
});

describe("dot, outer, einsum", () => {
  test("dot contracts the last axis of x with the second-to-last of y", async () => {
    const [a, ra] = randomF32([2, 3, 4], 1);
    const [b, rb] = randomF32([5, 4, 2], 2);
    const want = build([2, 3, 5, 2], ([i, j, k, m]) => {
      let s = 0;
      for (let c = 0; c < 4; c++) s += at(ra, [i!, j!, c]) * at(rb, [k!, c, m!]);
      return s;
    });
    await checkBoth(np.dot, [a, b], want, { rtol: 1e-5, atol: 1e-5 });
    expect(await np.dot(np.array([1, 2]), np.array([3, 4])).item()).toBe(11);
    expect(await np.dot(2, np.array([3, 4])).tolist()).toEqual([6, 8]);
    expectShapeError(() => np.dot(np.zeros([2, 3]), np.zeros([2, 3])), "dot", ["[2,3]"], FILE);
  });

  test("outer multiplies every pair", async () => {
    expect(await np.outer(np.array([1, 2]), np.array([3, 4, 5])).tolist()).toEqual([[3, 4, 5], [6, 8, 10]]);
  });

  test("einsum matches explicit loops for matmul, batch matmul, transposes, traces of products and sums", async () => {
    const [a, ra] = randomF32([2, 3, 4], 3);
    const [b, rb] = randomF32([2, 4, 5], 4);
    const bmm = build([2, 3, 5], ([n, i, j]) => {
      let s = 0;
      for (let k = 0; k < 4; k++) s += at(ra, [n!, i!, k]) * at(rb, [n!, k, j!]);
      return s;
    });
    await checkBoth((x, y) => np.einsum("nik,nkj->nij", x, y), [a, b], bmm, { rtol: 1e-5, atol: 1e-5 });
    const bmmT = build([5, 2, 3], ([j, n, i]) => bmm.data[(n! * 3 + i!) * 5 + j!]!);
    await checkBoth((x, y) => np.einsum("nik,nkj->jni", x, y), [a, b], bmmT, { rtol: 1e-5, atol: 1e-5 });
    const total = ra.data.reduce((s, v) => s + v, 0);
    await checkBoth((x) => np.einsum("nik->", x), [a], { shape: [], data: [total] }, { rtol: 1e-5, atol: 1e-5 });
    await checkBoth((x) => np.einsum("nik->kn", x), [a], build([4, 2], ([k, n]) => [0, 1, 2].reduce((s, i) => s + at(ra, [n!, i, k!]), 0)), { rtol: 1e-5, atol: 1e-5 });
    // Implicit output: letters seen once, sorted.
    expect([...np.einsum("ij,jk", np.zeros([2, 3]), np.zeros([3, 4])).shape]).toEqual([2, 4]);
  });

  test("three-operand einsum contracts left to right", async () => {
    const [a, ra] = randomF32([2, 3], 5);
    const [b, rb] = randomF32([3, 4], 6);
    const [c, rc] = randomF32([4], 7);
    const want = build([2], ([i]) => {
      let s = 0;
      for (let j = 0; j < 3; j++) for (let k = 0; k < 4; k++) s += at(ra, [i!, j]) * at(rb, [j, k]) * at(rc, [k]);
      return s;
    });
    await checkBoth((x, y, z) => np.einsum("ij,jk,k->i", x, y, z), [a, b, c], want, { rtol: 1e-5, atol: 1e-5 });
  });

  test("einsum size mismatches and bad subscripts are ShapeErrors", () => {
    expectShapeError(() => np.einsum("ij,jk->ik", np.zeros([2, 3]), np.zeros([4, 5])), "einsum", ["[2,3]", "[4,5]"], FILE);
    expectShapeError(() => np.einsum("ii->i", np.zeros([2, 2])), "einsum", ["repeated subscript"], FILE);
    expectShapeError(() => np.einsum("ij->ik", np.zeros([2, 2])), "einsum", ["'k'"], FILE);
  });
});
