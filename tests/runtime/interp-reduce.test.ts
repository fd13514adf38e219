import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sizeOf } from "../../ir/dtype.js";
import { evAll, ev, f32, i32, u32, values } from "./interp-helpers.js";

const INT_MIN = -2147483648;
const INT_MAX = 2147483647;

describe("interp: reductions", () => {
  const x = f32([2, 3, 4], [...Array(24).keys()]);
  it("reduce_sum over several axes keeps the others in order", () => {
    // Σ_{i,k} (12i + 4j + k) = 32j + 60
    const out = ev("reduce_sum", [x], { axes: [2, 0] });
    expect(out.shape).toEqual([3]);
    expect(values(out)).toEqual([60, 92, 124]);
  });
  it("reduce_max and reduce_min over one axis", () => {
    const y = f32([2, 3], [1, 5, 2, 4, -5, 0]);
    expect(values(ev("reduce_max", [y], { axes: [1] }))).toEqual([5, 4]);
    expect(values(ev("reduce_min", [y], { axes: [0] }))).toEqual([1, -5, 0]);
  });
  it("reducing over every axis gives a scalar", () => {
    const out = ev("reduce_sum", [x], { axes: [0, 1, 2] });
    expect(out.shape).toEqual([]);
    expect(values(out)).toEqual([276]);
  });
  it("an empty axes list is the identity", () => {
    expect(values(ev("reduce_max", [x], { axes: [] }))).toEqual(values(x));
  });
  it("an empty reduction gives 0, -inf and +inf on f32", () => {
    const e = f32([2, 0], []);
    expect(values(ev("reduce_sum", [e], { axes: [1] }))).toEqual([0, 0]);
    expect(values(ev("reduce_max", [e], { axes: [1] }))).toEqual([-Infinity, -Infinity]);
    expect(values(ev("reduce_min", [e], { axes: [1] }))).toEqual([Infinity, Infinity]);
  });
  it("an empty reduction gives the integer type's min and max", () => {
    expect(values(ev("reduce_max", [i32([0], [])], { axes: [0] }))).toEqual([INT_MIN]);
    expect(values(ev("reduce_min", [i32([0], [])], { axes: [0] }))).toEqual([INT_MAX]);
    expect(values(ev("reduce_max", [u32([0], [])], { axes: [0] }))).toEqual([0]);
    expect(values(ev("reduce_min", [u32([0], [])], { axes: [0] }))).toEqual([4294967295]);
  });
  it("f32 sums accumulate in float64 and round once", () => {
    // Accumulating in f32 would lose the 1: fl(1e8 + 1) = 1e8.
    expect(values(ev("reduce_sum", [f32([3], [1e8, 1, -1e8])], { axes: [0] }))).toEqual([1]);
  });
  it("integer sums wrap modulo 2^32", () => {
    expect(values(ev("reduce_sum", [i32([2], [INT_MAX, 1])], { axes: [0] }))).toEqual([INT_MIN]);
    expect(values(ev("reduce_sum", [u32([2], [4294967295, 2])], { axes: [0] }))).toEqual([1]);
  });
  it("reduce_max and reduce_min propagate NaN", () => {
    const y = f32([3], [1, NaN, 3]);
    expect(values(ev("reduce_max", [y], { axes: [0] }))).toEqual([NaN]);
    expect(values(ev("reduce_min", [y], { axes: [0] }))).toEqual([NaN]);
  });
  it("sum over all axes, in any order, equals the float64 sum of the data (property)", () => {
    const arb = fc
      .array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 4 })
      .chain((shape) =>
        fc.tuple(
          fc.constant(shape),
          fc.array(fc.integer({ min: -(2 ** 20), max: 2 ** 20 }), { minLength: sizeOf(shape), maxLength: sizeOf(shape) }),
          fc.shuffledSubarray([...shape.keys()], { minLength: shape.length, maxLength: shape.length }),
        ),
      );
    fc.assert(
      fc.property(arb, ([shape, data, axes]) => {
        const want = data.reduce((a, b) => a + b, 0);
        expect(values(ev("reduce_sum", [f32(shape, data)], { axes }))).toEqual([Math.fround(want)]);
      }),
    );
  });
});

describe("interp: argmax", () => {
  it("gives the first index of the maximum, as i32", () => {
    const out = ev("argmax", [f32([4], [3, 1, 3, 2])], { axis: 0 });
    expect(out.dtype).toBe("i32");
    expect(values(out)).toEqual([0]);
  });
  it("counts the first NaN as the maximum", () => {
    expect(values(ev("argmax", [f32([4], [1, NaN, 5, NaN])], { axis: 0 }))).toEqual([1]);
  });
  it("works along a leading axis and on all -inf", () => {
    expect(values(ev("argmax", [f32([2, 3], [1, 5, -Infinity, 4, 5, -Infinity])], { axis: 0 }))).toEqual([1, 0, 0]);
  });
  it("compares integers by value", () => {
    expect(values(ev("argmax", [u32([3], [1, 4294967295, 7])], { axis: 0 }))).toEqual([1]);
    expect(values(ev("argmax", [i32([3], [-1, -7, -1])], { axis: 0 }))).toEqual([0]);
  });
  it("picks an element equal to reduce_max (property)", () => {
    const arb = fc.array(fc.float({ noNaN: true }), { minLength: 1, maxLength: 12 });
    fc.assert(
      fc.property(arb, (d) => {
        const x = f32([d.length], d);
        const at = values(ev("argmax", [x], { axis: 0 }))[0]!;
        expect(x.data[at] === values(ev("reduce_max", [x], { axes: [0] }))[0]).toBe(true);
        expect(x.data.slice(0, at).every((v) => v < x.data[at]!)).toBe(true);
      }),
    );
  });
});

describe("interp: cumsum", () => {
  const x = f32([2, 3, 2], [...Array(12).keys()]);
  it("is the inclusive prefix sum", () => {
    expect(values(ev("cumsum", [f32([4], [1, 2, 3, 4])], { axis: 0, reverse: false }))).toEqual([1, 3, 6, 10]);
  });
  it("with reverse sums from the end", () => {
    expect(values(ev("cumsum", [f32([4], [1, 2, 3, 4])], { axis: 0, reverse: true }))).toEqual([10, 9, 7, 4]);
  });
  it("runs along a middle axis", () => {
    expect(values(ev("cumsum", [x], { axis: 1, reverse: false }))).toEqual([0, 1, 2, 4, 6, 9, 6, 7, 14, 16, 24, 27]);
  });
  it("runs along a middle axis in reverse", () => {
    expect(values(ev("cumsum", [x], { axis: 1, reverse: true }))).toEqual([6, 9, 6, 8, 4, 5, 24, 27, 18, 20, 10, 11]);
  });
  it("keeps a float64 running sum for f32", () => {
    expect(values(ev("cumsum", [f32([3], [1e8, 1, -1e8])], { axis: 0, reverse: false }))).toEqual([1e8, 1e8, 1]);
  });
  it("wraps on i32", () => {
    expect(values(ev("cumsum", [i32([2], [INT_MAX, 1])], { axis: 0, reverse: false }))).toEqual([INT_MAX, INT_MIN]);
  });
});

describe("interp: top_k", () => {
  it("gives the k largest of the last axis, descending, with i32 indices", () => {
    const [v, i] = evAll("top_k", [f32([2, 3], [1, 9, 5, -1, -3, -2])], { k: 2 });
    expect(values(v!)).toEqual([9, 5, -1, -2]);
    expect(i!.dtype).toBe("i32");
    expect(values(i!)).toEqual([1, 2, 0, 2]);
  });
  it("breaks ties toward the lower index", () => {
    const [v, i] = evAll("top_k", [f32([5], [1, 3, 2, 3, 3])], { k: 3 });
    expect(values(v!)).toEqual([3, 3, 3]);
    expect(values(i!)).toEqual([1, 3, 4]);
  });
  it("treats NaN as the largest", () => {
    const [v, i] = evAll("top_k", [f32([4], [1, NaN, Infinity, NaN])], { k: 3 });
    expect(values(v!)).toEqual([NaN, NaN, Infinity]);
    expect(values(i!)).toEqual([1, 3, 2]);
  });
  it("orders u32 as unsigned", () => {
    const [v, i] = evAll("top_k", [u32([3], [5, 4294967295, 0])], { k: 3 });
    expect(values(v!)).toEqual([4294967295, 5, 0]);
    expect(values(i!)).toEqual([1, 0, 2]);
  });
  it("returns distinct indices whose values are the descending values (property)", () => {
    const arb = fc
      .array(fc.integer({ min: -3, max: 3 }), { minLength: 1, maxLength: 10 })
      .chain((d) => fc.tuple(fc.constant(d), fc.integer({ min: 1, max: d.length })));
    fc.assert(
      fc.property(arb, ([d, k]) => {
        const [v, i] = evAll("top_k", [i32([d.length], d)], { k });
        const idx = values(i!);
        expect(new Set(idx).size).toBe(k);
        expect(idx.map((j) => d[j])).toEqual(values(v!));
        expect(values(v!)).toEqual([...d].sort((a, b) => b - a).slice(0, k));
      }),
    );
  });
});
