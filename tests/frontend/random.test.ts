import { beforeAll, describe, expect, test } from "vitest";
import type { Tensor } from "../../frontend/core.js";
import { init } from "../../frontend/init.js";
import { jit } from "../../frontend/jit.js";
import * as np from "../../frontend/np.js";
import * as random from "../../frontend/random.js";

beforeAll(async () => {
  await init({ backend: "interp" });
});

const values = async (t: Tensor) => Array.from(await t.data());
const meanOf = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const varOf = (v: number[]) => {
  const m = meanOf(v);
  return meanOf(v.map((x) => (x - m) ** 2));
};

describe("Threefry-2x32", () => {
  // Known-answer vectors of Threefry-2x32-20 from the Random123 distribution (also in JAX's tests).
  test.each([
    [[0, 0], [0, 0], [0x6b200159, 0x99ba4efe]],
    [[0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0x1cb996fc, 0xbb002be7]],
    [[0x13198a2e, 0x03707344], [0x243f6a88, 0x85a308d3], [0xc4923a9c, 0x483df7a0]],
  ] as const)("key %j, counter %j encrypts to the published block", (key, ctr, want) => {
    expect(random.threefry2x32(key, ctr)).toEqual(want);
  });
});

describe("keys", () => {
  test("are immutable and print their words", () => {
    const k = random.key(42);
    expect(Object.isFrozen(k)).toBe(true);
    expect(Object.isFrozen(k.data)).toBe(true);
    expect(String(k)).toBe("PRNGKey(000000000000002a)");
    expect(random.key(-1).data).toEqual([0xffffffff, 0xffffffff]);
  });

  test("split gives distinct keys deterministically; foldIn gives another", () => {
    const k = random.key(0);
    const ks = random.split(k, 4);
    expect(new Set(ks.map(String)).size).toBe(4);
    expect(random.split(k, 4).map(String)).toEqual(ks.map(String));
    expect(random.split(k, 2).map(String)).toEqual(ks.slice(0, 2).map(String));
    expect(String(random.foldIn(k, 1))).not.toBe(String(k));
    expect(ks.map(String)).not.toContain(String(random.foldIn(k, 1)));
  });

  test("a non-key argument is a TypeError", () => {
    expect(() => random.uniform({} as random.PRNGKey, [2])).toThrow(TypeError);
    expect(() => random.key(1.5)).toThrow(TypeError);
  });
});

describe("draws", () => {
  test("are deterministic across runs (golden values) and repeat for the same key", async () => {
    const k = random.key(0);
    expect(await values(random.uniform(k, [4]))).toEqual([0.41845703125, 0.6004990339279175, 0.21629536151885986, 0.804124116897583]);
    expect(await values(random.randint(k, [6], -3, 3))).toEqual([-3, -2, 0, -3, -1, 2]);
    expect(await values(random.normal(k, [3]))).toEqual(await values(random.normal(k, [3])));
  });

  test("different keys give different streams", async () => {
    const [a, b] = random.split(random.key(7));
    expect(await values(random.uniform(a!, [8]))).not.toEqual(await values(random.uniform(b!, [8])));
  });

  test("uniform stays in [minval, maxval) with the right mean and variance", async () => {
    const v = await values(random.uniform(random.key(1), [20000], { minval: -2, maxval: 3 }));
    expect(Math.min(...v)).toBeGreaterThanOrEqual(-2);
    expect(Math.max(...v)).toBeLessThan(3);
    expect(meanOf(v)).toBeCloseTo(0.5, 1);
    expect(varOf(v)).toBeCloseTo(25 / 12, 1);
  });

  test("normal has mean 0, variance 1 and Gaussian tails", async () => {
    const v = await values(random.normal(random.key(2), [20001]));
    expect(v.length).toBe(20001);
    expect(Math.abs(meanOf(v))).toBeLessThan(0.03);
    expect(Math.abs(varOf(v) - 1)).toBeLessThan(0.04);
    const within1 = v.filter((x) => Math.abs(x) < 1).length / v.length;
    expect(within1).toBeCloseTo(0.6827, 1);
    const shifted = await values(random.normal(random.key(2), [4], { mean: 10, stddev: 0.5 }));
    const base = v.slice(0, 4);
    shifted.forEach((s, i) => expect(s).toBeCloseTo(10 + 0.5 * base[i]!, 4));
  });

  test("randint covers [minval, maxval) evenly", async () => {
    const v = await values(random.randint(random.key(3), [12000], 5, 11));
    const counts = new Array(6).fill(0);
    for (const x of v) counts[x - 5]++;
    expect(Math.min(...v)).toBe(5);
    expect(Math.max(...v)).toBe(10);
    // χ² with 5 degrees of freedom; 20.5 is the 0.999 quantile.
    const chi2 = counts.reduce((s, c) => s + (c - 2000) ** 2 / 2000, 0);
    expect(chi2).toBeLessThan(20.5);
  });

  test("randint handles the full i32 range", async () => {
    const v = await values(random.randint(random.key(4), [1000], -(2 ** 31), 2 ** 31));
    expect(v.some((x) => x < 0) && v.some((x) => x > 0)).toBe(true);
  });

  test("bernoulli is true with probability p; permutation permutes", async () => {
    const b = await values(random.bernoulli(random.key(5), 0.3, [10000]));
    expect(meanOf(b)).toBeCloseTo(0.3, 1);
    const p = await values(random.permutation(random.key(6), 50));
    expect([...p].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(p).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  test("shapes are respected and dtypes are f32, i32, u32, bool", () => {
    const k = random.key(8);
    expect([...random.uniform(k, [2, 3]).shape]).toEqual([2, 3]);
    expect(random.normal(k, 5).dtype).toBe("f32");
    expect(random.randint(k, [2], 0, 4).dtype).toBe("i32");
    expect(random.bits(k, [2]).dtype).toBe("u32");
    expect(random.bernoulli(k, 0.5, [2]).dtype).toBe("bool");
  });

  test("inside jit a draw is a captured constant with the eager values", async () => {
    const k = random.key(9);
    const f = jit((x: Tensor) => np.add(x, random.normal(k, [32])));
    const zeros = np.zeros([32]);
    expect(await values(f(zeros))).toEqual(await values(random.normal(k, [32])));
    expect(f.lower(zeros).text()).toMatch(/%c0: f32\[32\]/);
  });

  test("a key passed to a jitted function is a static argument: a new key traces again", async () => {
    const f = jit((k: random.PRNGKey, x: Tensor) => np.add(x, random.uniform(k, [2])));
    const [k1, k2] = random.split(random.key(10));
    const x = np.zeros([2]);
    expect(await values(f(k1!, x))).toEqual(await values(random.uniform(k1!, [2])));
    expect(await values(f(k2!, x))).toEqual(await values(random.uniform(k2!, [2])));
    f(k1!, x);
    expect(f.traceCount).toBe(2);
  });
});
