import { describe, expect, it } from "vitest";
import { erf } from "../../runtime/interp.js";
import { bool, ev, f32, i32, none, rounded, u32, values } from "./interp-helpers.js";

const INT_MIN = -2147483648;
const INT_MAX = 2147483647;

describe("interp: unary float ops compute in float64 and round to f32", () => {
  const x = f32([4], [1, -2, 0.5, 3]);
  it("neg flips the sign, giving -0 for 0", () => {
    expect(values(ev("neg", [f32([3], [1.5, 0, -2])], none))).toEqual([-1.5, -0, 2]);
  });
  it("abs takes the magnitude", () => {
    expect(values(ev("abs", [f32([3], [-1.5, -0, 2])], none))).toEqual([1.5, 0, 2]);
  });
  it("sign is -1, 0 or 1, keeps the sign of zero and NaN", () => {
    expect(values(ev("sign", [f32([5], [-3, 0, -0, 7, NaN])], none))).toEqual([-1, 0, -0, 1, NaN]);
  });
  it("exp matches float64 references", () => {
    expect(values(ev("exp", [f32([2], [1, -2])], none))).toEqual(rounded([2.718281828459045, 0.1353352832366127]));
  });
  it("log gives -inf at 0 and NaN below 0", () => {
    expect(values(ev("log", [f32([4], [2, 0.25, 0, -1])], none))).toEqual(
      rounded([0.6931471805599453, -1.3862943611198906, -Infinity, NaN]),
    );
  });
  it("sin and cos match float64 references", () => {
    expect(values(ev("sin", [x], none))).toEqual(rounded([0.8414709848078965, -0.9092974268256817, 0.479425538604203, 0.1411200080598672]));
    expect(values(ev("cos", [x], none))).toEqual(rounded([0.5403023058681398, -0.4161468365471424, 0.8775825618903728, -0.9899924966004454]));
  });
  it("tanh matches float64 references", () => {
    expect(values(ev("tanh", [f32([2], [0.5, -3])], none))).toEqual(rounded([0.46211715726000974, -0.9950547536867305]));
  });
  it("logistic is 1/(1+exp(-x)), 0.5 at 0 and saturating at the tails", () => {
    expect(values(ev("logistic", [f32([5], [1, -2, 0, 200, -200])], none))).toEqual(
      rounded([0.7310585786300049, 0.11920292202211756, 0.5, 1, 0]),
    );
  });
  it("sqrt and rsqrt match float64 references, with rsqrt(0) = inf", () => {
    expect(values(ev("sqrt", [f32([3], [2, 4, -1])], none))).toEqual(rounded([1.4142135623730951, 2, NaN]));
    expect(values(ev("rsqrt", [f32([3], [2, 4, 0])], none))).toEqual(rounded([0.7071067811865476, 0.5, Infinity]));
  });
  it("erf on f32 rounds the float64 erf", () => {
    expect(values(ev("erf", [f32([5], [0.5, 1, -2, 3, 0])], none))).toEqual(
      rounded([0.5204998778130465, 0.8427007929497149, -0.9953222650189527, 0.9999779095030014, 0]),
    );
  });
  it("floor and ceil round toward -inf and +inf", () => {
    const y = f32([4], [1.5, -1.5, -0.25, 2]);
    expect(values(ev("floor", [y], none))).toEqual([1, -2, -1, 2]);
    expect(values(ev("ceil", [y], none))).toEqual([2, -1, -0, 2]);
  });
  it("round is round-half-to-even and keeps the sign of zero", () => {
    const y = f32([9], [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999998, -0.3, 8388609]);
    expect(values(ev("round", [y], none))).toEqual([0, 2, 2, -0, -2, -2, 2, -0, 8388609]);
  });
  it("not negates a bool", () => {
    expect(values(ev("not", [bool([2], [1, 0])], none))).toEqual([0, 1]);
  });
});

describe("interp: erf in float64", () => {
  const refs: [number, number][] = [
    [0.5, 0.5204998778130465], [1, 0.8427007929497149], [-1.5, -0.9661051464753107], [0.1, 0.1124629160182849],
    [2.5, 0.999593047982555], [3, 0.9999779095030014], [4, 0.9999999845827421], [5, 0.9999999999984626],
    [1e-10, 1.1283791670955126e-10],
  ];
  it.each(refs)("erf(%d) matches its reference to 1e-15 relative", (x, want) => {
    expect(Math.abs(erf(x) - want) / Math.abs(want)).toBeLessThan(1e-15);
  });
  it("erf is odd, 0 at 0, ±1 far out and NaN at NaN", () => {
    expect(erf(-0.7)).toBe(-erf(0.7));
    expect(erf(0)).toBe(0);
    expect([erf(7), erf(-Infinity), erf(NaN)]).toEqual([1, -1, NaN]);
  });
});

describe("interp: unary integer ops wrap like int32", () => {
  it("neg and abs of INT_MIN wrap to INT_MIN", () => {
    expect(values(ev("neg", [i32([2], [INT_MIN, 5])], none))).toEqual([INT_MIN, -5]);
    expect(values(ev("abs", [i32([2], [INT_MIN, -5])], none))).toEqual([INT_MIN, 5]);
  });
  it("sign of integers is -1, 0 or 1, and of u32 0 or 1", () => {
    expect(values(ev("sign", [i32([3], [-9, 0, 9])], none))).toEqual([-1, 0, 1]);
    expect(values(ev("sign", [u32([2], [0, 4294967295])], none))).toEqual([0, 1]);
  });
});

describe("interp: binary ops", () => {
  it("f32 add rounds the float64 sum once", () => {
    const out = ev("add", [f32([2], [0.1, 16777216]), f32([2], [0.2, 1])], none);
    expect(values(out)).toEqual([Math.fround(Math.fround(0.1) + Math.fround(0.2)), 16777216]);
  });
  it("sub, mul and div on f32 follow IEEE, with x/0 = ±inf", () => {
    const a = f32([3], [1, -3, 0]), b = f32([3], [4, 0, 0]);
    expect(values(ev("sub", [a, b], none))).toEqual([-3, -3, 0]);
    expect(values(ev("mul", [a, b], none))).toEqual([4, -0, 0]);
    expect(values(ev("div", [a, b], none))).toEqual([0.25, -Infinity, NaN]);
  });
  it("i32 add, sub and mul wrap modulo 2^32", () => {
    expect(values(ev("add", [i32([1], [INT_MAX]), i32([1], [1])], none))).toEqual([INT_MIN]);
    expect(values(ev("sub", [i32([1], [INT_MIN]), i32([1], [1])], none))).toEqual([INT_MAX]);
    expect(values(ev("mul", [i32([3], [65536, INT_MAX, 46341]), i32([3], [65536, 2, 46341])], none))).toEqual([0, -2, -2147479015]);
  });
  it("u32 sub and mul wrap modulo 2^32", () => {
    expect(values(ev("sub", [u32([1], [0]), u32([1], [1])], none))).toEqual([4294967295]);
    expect(values(ev("mul", [u32([2], [4294967295, 65537]), u32([2], [4294967295, 65537])], none))).toEqual([1, 131073]);
  });
  it("integer div truncates toward zero and x/0 is 0", () => {
    const out = ev("div", [i32([5], [-7, 7, 7, -7, 5]), i32([5], [2, -2, 2, -2, 0])], none);
    expect(values(out)).toEqual([-3, -3, 3, 3, 0]);
    expect(values(ev("div", [u32([2], [4294967295, 9]), u32([2], [2, 0])], none))).toEqual([2147483647, 0]);
  });
  it("expm1 is Math.expm1 rounded to f32: exact to the last bit near 0, where exp(x) - 1 cancels", () => {
    const xs = [1e-10, -1e-7, 3e-4, -0, 0.5, -3, 20, 100, -Infinity, NaN];
    expect(values(ev("expm1", [f32([xs.length], xs)], none))).toEqual(rounded(xs.map((x) => Math.expm1(Math.fround(x)))));
    expect(values(ev("expm1", [f32([2], [1e-10, -0])], none))).toEqual([Math.fround(1e-10), -0]);
  });
  it("atan2(y, x) is the angle of (x, y) in each quadrant, with C's signed zeros and infinities", () => {
    const y = [1, 1, -1, -1, 0, -0, 0, -0, 1, Infinity, NaN];
    const x = [1, -1, -1, 1, -1, -1, 0, 1, 0, Infinity, 1];
    const want = [Math.PI / 4, (3 * Math.PI) / 4, (-3 * Math.PI) / 4, -Math.PI / 4, Math.PI, -Math.PI, 0, -0, Math.PI / 2, Math.PI / 4, NaN];
    expect(values(ev("atan2", [f32([11], y), f32([11], x)], none))).toEqual(rounded(want));
  });
  it("pow follows C: pow(1, NaN) = 1, pow(x, 0) = 1, negative base with fractional exponent is NaN", () => {
    const out = ev("pow", [f32([5], [2, 3, 1, NaN, -8]), f32([5], [0.5, -2, NaN, 0, 1 / 3])], none);
    expect(values(out)).toEqual(rounded([1.4142135623730951, 0.1111111111111111, 1, 1, NaN]));
  });
  it("max and min propagate NaN on floats", () => {
    const a = f32([3], [1, NaN, -2]), b = f32([3], [NaN, 3, 5]);
    expect(values(ev("max", [a, b], none))).toEqual([NaN, NaN, 5]);
    expect(values(ev("min", [a, b], none))).toEqual([NaN, NaN, -2]);
  });
  it("max and min compare u32 as unsigned", () => {
    const a = u32([2], [4294967295, 3]), b = u32([2], [1, 7]);
    expect(values(ev("max", [a, b], none))).toEqual([4294967295, 7]);
    expect(values(ev("min", [a, b], none))).toEqual([1, 3]);
  });
  it("and and or combine bools", () => {
    const a = bool([4], [0, 0, 1, 1]), b = bool([4], [0, 1, 0, 1]);
    expect(values(ev("and", [a, b], none))).toEqual([0, 0, 0, 1]);
    expect(values(ev("or", [a, b], none))).toEqual([0, 1, 1, 1]);
  });
});

describe("interp: comparisons give bool, and NaN compares unequal to everything", () => {
  const a = f32([3], [1, 2, NaN]), b = f32([3], [2, 2, NaN]);
  const cmp = (out: ReturnType<typeof ev>) => [out.dtype, values(out)];
  it("eq holds for equal numbers only", () => expect(cmp(ev("eq", [a, b], none))).toEqual(["bool", [0, 1, 0]]));
  it("ne holds for NaN", () => expect(cmp(ev("ne", [a, b], none))).toEqual(["bool", [1, 0, 1]]));
  it("lt is strict", () => expect(cmp(ev("lt", [a, b], none))).toEqual(["bool", [1, 0, 0]]));
  it("le includes equality", () => expect(cmp(ev("le", [a, b], none))).toEqual(["bool", [1, 1, 0]]));
  it("gt is strict", () => expect(cmp(ev("gt", [a, b], none))).toEqual(["bool", [0, 0, 0]]));
  it("ge includes equality", () => expect(cmp(ev("ge", [a, b], none))).toEqual(["bool", [0, 1, 0]]));
  it("comparisons on u32 are unsigned", () => {
    expect(values(ev("gt", [u32([1], [4294967295]), u32([1], [1])], none))).toEqual([1]);
  });
  it("comparisons on i32 are signed", () => {
    expect(values(ev("lt", [i32([1], [-1]), i32([1], [1])], none))).toEqual([1]);
  });
});

describe("interp: select", () => {
  it("takes the second operand where the predicate holds and the third elsewhere", () => {
    const out = ev("select", [bool([3], [1, 0, 1]), i32([3], [1, 2, 3]), i32([3], [-1, -2, -3])], none);
    expect(values(out)).toEqual([1, -2, 3]);
  });
});

describe("interp: cast", () => {
  it("f32 to i32 truncates toward zero", () => {
    expect(values(ev("cast", [f32([4], [-1.7, 2.9, -0.5, 7])], { dtype: "i32" }))).toEqual([-1, 2, 0, 7]);
  });
  it("f32 to i32 maps NaN to 0 and saturates out of range", () => {
    const out = ev("cast", [f32([5], [NaN, 3e9, -3e9, Infinity, -Infinity])], { dtype: "i32" });
    expect(values(out)).toEqual([0, INT_MAX, INT_MIN, INT_MAX, INT_MIN]);
  });
  it("f32 to u32 saturates at 0 and 2^32-1", () => {
    expect(values(ev("cast", [f32([4], [-1, 5e9, 3.5, NaN])], { dtype: "u32" }))).toEqual([0, 4294967295, 3, 0]);
  });
  it("i32 and u32 convert modulo 2^32", () => {
    expect(values(ev("cast", [i32([2], [-1, INT_MIN])], { dtype: "u32" }))).toEqual([4294967295, 2147483648]);
    expect(values(ev("cast", [u32([1], [4294967295])], { dtype: "i32" }))).toEqual([-1]);
  });
  it("i32 to f32 rounds to nearest even", () => {
    expect(values(ev("cast", [i32([2], [16777217, 16777219])], { dtype: "f32" }))).toEqual([16777216, 16777220]);
  });
  it("bool becomes 0 or 1", () => {
    expect(values(ev("cast", [bool([2], [1, 0])], { dtype: "f32" }))).toEqual([1, 0]);
    expect(values(ev("cast", [bool([2], [1, 0])], { dtype: "i32" }))).toEqual([1, 0]);
  });
  it("anything becomes bool as x != 0, so NaN is true and -0 false", () => {
    expect(values(ev("cast", [f32([4], [NaN, -0, 0.1, 0])], { dtype: "bool" }))).toEqual([1, 0, 1, 0]);
    expect(values(ev("cast", [i32([3], [-5, 0, 256])], { dtype: "bool" }))).toEqual([1, 0, 1]);
  });
  it("to the same dtype is the identity", () => {
    expect(values(ev("cast", [f32([2], [1.5, NaN])], { dtype: "f32" }))).toEqual([1.5, NaN]);
  });
});
