import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type HostArray, sizeOf } from "../../ir/dtype.js";
import { arr, bool, ev, f32, i32, u32, values } from "./interp-helpers.js";

/** An f32 array of a random shape (rank 1..maxRank, sides 0..3) with arbitrary f32 data. */
const f32Array = (minRank = 1, maxRank = 4, minSide = 0) =>
  fc.array(fc.integer({ min: minSide, max: 3 }), { minLength: minRank, maxLength: maxRank }).chain((shape) =>
    fc.array(fc.float(), { minLength: sizeOf(shape), maxLength: sizeOf(shape) }).map((d) => f32(shape, d)),
  );

const permutationOf = (r: number) =>
  fc.shuffledSubarray([...Array(r).keys()], { minLength: r, maxLength: r });

describe("interp: iota and constant", () => {
  it("iota counts along its dim", () => {
    expect(values(ev("iota", [], { shape: [2, 3], dim: 1, dtype: "i32" }))).toEqual([0, 1, 2, 0, 1, 2]);
    expect(values(ev("iota", [], { shape: [2, 3], dim: 0, dtype: "f32" }))).toEqual([0, 0, 0, 1, 1, 1]);
  });
  it("constant with one value is a splat", () => {
    const out = ev("constant", [], { value: [0.1], shape: [2, 2], dtype: "f32" });
    expect(values(out)).toEqual(Array(4).fill(Math.fround(0.1)));
  });
  it("constant with every value stores them row-major, cast to its dtype", () => {
    expect(values(ev("constant", [], { value: [1, -2.7, 3e9], shape: [3], dtype: "i32" }))).toEqual([1, -2, 2147483647]);
    expect(values(ev("constant", [], { value: [2, 0, NaN], shape: [3], dtype: "bool" }))).toEqual([1, 0, 1]);
  });
  it("a constant may be a scalar or empty", () => {
    expect(values(ev("constant", [], { value: [5], shape: [], dtype: "u32" }))).toEqual([5]);
    expect(values(ev("constant", [], { value: [5], shape: [0, 2], dtype: "f32" }))).toEqual([]);
  });
});

describe("interp: broadcast_in_dim", () => {
  it("maps operand axes to the named output axes and repeats along the others", () => {
    expect(values(ev("broadcast_in_dim", [f32([2], [1, 2])], { shape: [2, 3], dims: [0] }))).toEqual([1, 1, 1, 2, 2, 2]);
    expect(values(ev("broadcast_in_dim", [f32([3], [1, 2, 3])], { shape: [2, 3], dims: [1] }))).toEqual([1, 2, 3, 1, 2, 3]);
  });
  it("broadcasts size-1 operand axes", () => {
    const out = ev("broadcast_in_dim", [i32([3, 1], [1, 2, 3])], { shape: [2, 3, 4], dims: [1, 2] });
    const row = [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3];
    expect(values(out)).toEqual([...row, ...row]);
  });
  it("broadcasts a scalar to any shape", () => {
    expect(values(ev("broadcast_in_dim", [bool([], [1])], { shape: [2, 2], dims: [] }))).toEqual([1, 1, 1, 1]);
  });
});

describe("interp: reshape and transpose", () => {
  it("reshape keeps the row-major data", () => {
    const out = ev("reshape", [u32([2, 3], [1, 2, 3, 4, 5, 6])], { shape: [3, 1, 2] });
    expect(out.shape).toEqual([3, 1, 2]);
    expect(values(out)).toEqual([1, 2, 3, 4, 5, 6]);
  });
  it("transpose of a matrix swaps rows and columns", () => {
    expect(values(ev("transpose", [f32([2, 3], [1, 2, 3, 4, 5, 6])], { perm: [1, 0] }))).toEqual([1, 4, 2, 5, 3, 6]);
  });
  it("transpose of rank 4 puts operand axis perm[i] at output axis i", () => {
    const x = f32([2, 1, 3, 2], [...Array(12).keys()]);
    const out = ev("transpose", [x], { perm: [2, 0, 3, 1] });
    expect(out.shape).toEqual([3, 2, 2, 1]);
    // out[a,b,c,0] = x[b,0,a,c] = 6b + 2a + c
    expect(values(out)).toEqual([0, 1, 6, 7, 2, 3, 8, 9, 4, 5, 10, 11]);
  });
  it("transpose with the identity permutation copies", () => {
    const x = f32([2], [1, 2]);
    const out = ev("transpose", [x], { perm: [0] });
    expect(values(out)).toEqual([1, 2]);
    expect(out.data).not.toBe(x.data);
  });
  it("transpose then the inverse permutation is the identity (property)", () => {
    fc.assert(
      fc.property(f32Array().chain((x) => permutationOf(x.shape.length).map((p) => [x, p] as const)), ([x, perm]) => {
        const inv = perm.map((_, i) => perm.indexOf(i));
        const back = ev("transpose", [ev("transpose", [x], { perm })], { perm: inv });
        expect(back.shape).toEqual(x.shape);
        expect(values(back)).toEqual(values(x));
      }),
    );
  });
  it("reshape to flat and back preserves the data (property)", () => {
    fc.assert(
      fc.property(f32Array(), (x) => {
        const flat = ev("reshape", [x], { shape: [sizeOf(x.shape)] });
        expect(values(ev("reshape", [flat], { shape: [...x.shape] }))).toEqual(values(x));
      }),
    );
  });
});

describe("interp: slice", () => {
  const x = f32([3, 5], [...Array(15).keys()]);
  it("takes [start, limit) on each axis", () => {
    expect(values(ev("slice", [x], { start: [1, 2], limit: [3, 4], strides: [1, 1] }))).toEqual([7, 8, 12, 13]);
  });
  it("steps by its strides", () => {
    const out = ev("slice", [x], { start: [0, 1], limit: [3, 5], strides: [2, 3] });
    expect(out.shape).toEqual([2, 2]);
    expect(values(out)).toEqual([1, 4, 11, 14]);
  });
  it("with start = limit is empty", () => {
    expect(ev("slice", [x], { start: [0, 2], limit: [3, 2], strides: [1, 1] }).shape).toEqual([3, 0]);
  });
});

describe("interp: pad", () => {
  it("surrounds the operand with the pad value", () => {
    const out = ev("pad", [f32([2, 2], [1, 2, 3, 4])], { low: [1, 0], high: [0, 2], value: -1 });
    expect(out.shape).toEqual([3, 4]);
    expect(values(out)).toEqual([-1, -1, -1, -1, 1, 2, -1, -1, 3, 4, -1, -1]);
  });
  it("casts the pad value to the operand dtype", () => {
    expect(values(ev("pad", [i32([1], [7])], { low: [1], high: [1], value: -2.5 }))).toEqual([-2, 7, -2]);
  });
  it("pad then slice recovers the operand (property)", () => {
    const arb = f32Array().chain((x) => {
      const side = fc.array(fc.integer({ min: 0, max: 2 }), { minLength: x.shape.length, maxLength: x.shape.length });
      return fc.tuple(fc.constant(x), side, side);
    });
    fc.assert(
      fc.property(arb, ([x, low, high]) => {
        const p = ev("pad", [x], { low, high, value: 9 });
        const s = ev("slice", [p], { start: low, limit: low.map((l, i) => l + x.shape[i]!), strides: low.map(() => 1) });
        expect(values(s)).toEqual(values(x));
      }),
    );
  });
});

describe("interp: concatenate", () => {
  it("joins along a middle axis, including empty operands", () => {
    const a = f32([2, 1], [1, 2]), b = f32([2, 2], [3, 4, 5, 6]), c = f32([2, 0], []);
    const out = ev("concatenate", [a, b, c], { axis: 1 });
    expect(out.shape).toEqual([2, 3]);
    expect(values(out)).toEqual([1, 3, 4, 2, 5, 6]);
  });
  it("slices of a concatenation recover its parts (property)", () => {
    const arb = fc
      .tuple(fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 }), fc.nat(), fc.array(fc.nat({ max: 3 }), { minLength: 1, maxLength: 3 }))
      .map(([shape, ax, sizes]) => {
        const axis = ax % shape.length;
        let k = 0;
        const parts: HostArray[] = sizes.map((s) => {
          const sh = shape.map((d, i) => (i === axis ? s : d));
          return arr("i32", sh, Array.from({ length: sizeOf(sh) }, () => k++));
        });
        return { axis, parts };
      });
    fc.assert(
      fc.property(arb, ({ axis, parts }) => {
        const whole = ev("concatenate", parts, { axis });
        let at = 0;
        for (const p of parts) {
          const start = whole.shape.map((_, i) => (i === axis ? at : 0));
          const limit = whole.shape.map((d, i) => (i === axis ? at + p.shape[axis]! : d));
          expect(values(ev("slice", [whole], { start, limit, strides: start.map(() => 1) }))).toEqual(values(p));
          at += p.shape[axis]!;
        }
      }),
    );
  });
});
