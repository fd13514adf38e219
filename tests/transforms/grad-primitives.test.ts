/**
 * Gradient of every differentiable primitive against central finite differences,
 * in float64 on the interpreter (see f64.ts): eps 1e-5, relative tolerance 1e-6.
 * Inputs stay away from kinks (abs at 0, max/min ties, sqrt/log at 0); ties are
 * checked separately against JAX's even split.
 */
import { describe, expect, test, vi } from "vitest";
import type { Tensor } from "../../frontend/core.js";
import { jit } from "../../frontend/jit.js";
import { jvp } from "../../frontend/jvp.js";
import * as lax from "../../frontend/lax.js";
import { grad } from "../../frontend/vjp.js";
import { allPrimitives, type Primitive } from "../../ir/primitives.js";
import { checkGrad, expectClose, ints, read, tensor, uniform } from "./helpers.js";
import { init } from "../../frontend/init.js";

vi.mock("../../ir/dtype.js", async (orig) => (await import("./f64.js")).f64Dtype(await orig()));
vi.mock("../../runtime/interp/host.js", async (orig) => (await import("./f64.js")).f64Host(await orig()));

await init({ backend: "interp" });

const u = uniform;
const pos = (shape: number[], seed: number) => uniform(shape, seed, 0.5, 2);
/** Distinct values 0.1·k shuffled, so max/min/top_k never tie. */
const distinct = (shape: number[], seed: number) => {
  const n = shape.reduce((a, b) => a * b, 1);
  const vals = Array.from({ length: n }, (_, k) => 0.1 * (k + 1) - 0.05 * n);
  let s = seed;
  for (let i = n - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const j = s % (i + 1);
    [vals[i], vals[j]] = [vals[j]!, vals[i]!];
  }
  return tensor(shape, vals);
};

interface Case {
  prim: Primitive;
  name?: string;
  f: (...xs: Tensor[]) => Tensor;
  args: () => Tensor[];
}

const cases: Case[] = [
  { prim: "neg", f: lax.neg, args: () => [u([2, 3], 1)] },
  { prim: "abs", f: lax.abs, args: () => [distinct([2, 3], 2)] },
  { prim: "exp", f: lax.exp, args: () => [u([2, 3], 3)] },
  { prim: "log", f: lax.log, args: () => [pos([2, 3], 4)] },
  { prim: "sin", f: lax.sin, args: () => [u([2, 3], 5)] },
  { prim: "cos", f: lax.cos, args: () => [u([2, 3], 6)] },
  { prim: "tanh", f: lax.tanh, args: () => [u([2, 3], 7)] },
  { prim: "logistic", f: lax.logistic, args: () => [u([2, 3], 8)] },
  { prim: "sqrt", f: lax.sqrt, args: () => [pos([2, 3], 9)] },
  { prim: "rsqrt", f: lax.rsqrt, args: () => [pos([2, 3], 10)] },
  { prim: "erf", f: lax.erf, args: () => [u([2, 3], 11)] },
  { prim: "expm1", f: (x) => lax.unary("expm1", x), args: () => [u([2, 3], 80)] },
  // y anywhere, x > 0: away from the branch cut on the negative x axis and from the origin.
  { prim: "atan2", f: (y, x) => lax.binary("atan2", y, x), args: () => [u([2, 3], 81), pos([2, 3], 82)] },
  { prim: "add", f: lax.add, args: () => [u([2, 3], 12), u([2, 3], 13)] },
  { prim: "sub", f: lax.sub, args: () => [u([2, 3], 14), u([2, 3], 15)] },
  { prim: "mul", f: lax.mul, args: () => [u([2, 3], 16), u([2, 3], 17)] },
  { prim: "div", f: lax.div, args: () => [u([2, 3], 18), pos([2, 3], 19)] },
  { prim: "pow", f: lax.pow, args: () => [pos([2, 3], 20), u([2, 3], 21)] },
  { prim: "max", f: lax.max, args: () => [distinct([2, 3], 22), distinct([2, 3], 23)] },
  { prim: "min", f: lax.min, args: () => [distinct([2, 3], 24), distinct([2, 3], 25)] },
  {
    prim: "select",
    f: (a, b) => lax.select(lax.gt(a, b), lax.mul(a, a), lax.sin(b)),
    args: () => [u([2, 3], 26), u([2, 3], 27)],
  },
  {
    prim: "broadcast_in_dim",
    f: (x) => lax.broadcastInDim(x, [2, 3, 4], [1, 2]),
    args: () => [u([3, 1], 28)],
  },
  { prim: "reshape", f: (x) => lax.reshape(x, [3, 2, 2]), args: () => [u([2, 6], 29)] },
  { prim: "transpose", f: (x) => lax.transpose(x, [2, 0, 1]), args: () => [u([2, 3, 4], 30)] },
  { prim: "slice", f: (x) => lax.slice(x, [0, 1], [4, 5], [2, 2]), args: () => [u([4, 5], 31)] },
  { prim: "slice", name: "slice (unit strides)", f: (x) => lax.slice(x, [1, 0], [3, 2]), args: () => [u([4, 3], 32)] },
  { prim: "pad", f: (x) => lax.pad(x, [1, 0], [0, 2], 1.5), args: () => [u([2, 3], 33)] },
  {
    prim: "concatenate",
    f: (a, b, c) => lax.concatenate([a, b, c], 1),
    args: () => [u([2, 1], 34), u([2, 3], 35), u([2, 2], 36)],
  },
  { prim: "reduce_sum", f: (x) => lax.reduceSum(x, [0, 2]), args: () => [u([2, 3, 2], 37)] },
  { prim: "reduce_max", f: (x) => lax.reduceMax(x, [1]), args: () => [distinct([3, 4], 38)] },
  { prim: "reduce_min", f: (x) => lax.reduceMin(x, [0, 1]), args: () => [distinct([3, 4], 39)] },
  { prim: "cumsum", f: (x) => lax.cumsum(x, 1), args: () => [u([2, 4], 40)] },
  { prim: "cumsum", name: "cumsum (reverse)", f: (x) => lax.cumsum(x, 0, true), args: () => [u([3, 2], 41)] },
  { prim: "top_k", f: (x) => lax.topK(x, 2)[0], args: () => [distinct([3, 4], 42)] },
  {
    prim: "dot_general",
    f: (a, b) => lax.dotGeneral(a, b, { lhsContract: [2], rhsContract: [1], lhsBatch: [0], rhsBatch: [0] }),
    args: () => [u([2, 3, 4], 43), u([2, 4, 5], 44)],
  },
  {
    prim: "dot_general",
    name: "dot_general (contracting dims out of order)",
    f: (a, b) => lax.dotGeneral(a, b, { lhsContract: [0, 2], rhsContract: [2, 0] }),
    args: () => [u([4, 2, 3], 45), u([3, 5, 4], 46)],
  },
  { prim: "gather", f: (x, i) => lax.gather(x, i, 1), args: () => [u([2, 4], 47), tensor([3], [3, 0, 3], "i32")] },
  {
    prim: "scatter_add",
    f: (x, i, v) => lax.scatterAdd(x, i, lax.mul(v, v), 0),
    args: () => [u([4, 2], 48), tensor([3], [1, 3, 1], "i32"), u([3, 2], 49)],
  },
  {
    prim: "jit",
    f: jit((x: Tensor, y: Tensor) => lax.mul(lax.sin(x), lax.exp(y))),
    args: () => [u([2, 3], 50), u([2, 3], 51)],
  },
];

/** Primitives whose outputs are piecewise constant or not floating point: zero tangents. */
const zeroTangent: Partial<Record<Primitive, Case>> = {
  sign: { prim: "sign", f: lax.sign, args: () => [u([4], 60)] },
  floor: { prim: "floor", f: lax.floor, args: () => [u([4], 61)] },
  ceil: { prim: "ceil", f: lax.ceil, args: () => [u([4], 62)] },
  round: { prim: "round", f: lax.round, args: () => [u([4], 63)] },
  cast: { prim: "cast", f: (x) => lax.cast(lax.cast(x, "i32"), "f32"), args: () => [u([4], 64, -5, 5)] },
  argmax: { prim: "argmax", f: (x) => lax.cast(lax.argmax(x, 1), "f32"), args: () => [u([2, 3], 65)] },
  // No operands: their values never depend on the inputs.
  iota: { prim: "iota", f: () => lax.cast(lax.iota([4], 0), "f32"), args: () => [u([4], 66)] },
  constant: { prim: "constant", f: () => lax.constant([1, 2, 3, 4], [4], "f32"), args: () => [u([4], 67)] },
};
for (const op of ["eq", "ne", "lt", "le", "gt", "ge"] as const)
  zeroTangent[op] = { prim: op, f: (a, b) => lax.cast(lax.binary(op, a, b), "f32"), args: () => [u([4], 68), u([4], 69)] };
for (const op of ["and", "or"] as const)
  zeroTangent[op] = {
    prim: op,
    f: (a, b) => lax.cast(lax.binary(op, lax.gt(a, b), lax.lt(a, b)), "f32"),
    args: () => [u([4], 70), u([4], 71)],
  };
zeroTangent.not = { prim: "not", f: (a) => lax.cast(lax.not(lax.gt(a, lax.zerosLike(a))), "f32"), args: () => [u([4], 72)] };

describe("grad matches central differences in float64", () => {
  test("float64 mode is active: f32 storage holds float64 values", async () => {
    const x = tensor([1], [1 / 3]);
    expect((await lax.mul(x, x).data()) instanceof Float64Array).toBe(true);
    expect((await lax.mul(x, x).item())).toBe(1 / 9);
  });

  for (const c of cases)
    test(`${c.name ?? c.prim}`, async () => {
      await checkGrad(c.f, c.args());
    });
});

describe("primitives without a derivative give zero tangents", () => {
  for (const [prim, c] of Object.entries(zeroTangent))
    test(prim, async () => {
      const args = c!.args();
      const [, t] = jvp((...xs: Tensor[]) => c!.f(...xs), args, args.map((a) => lax.fullLike(a, 1)));
      expect(await read(t as Tensor)).toEqual(await read(lax.zerosLike(c!.f(...args))));
    });
});

describe("ties split the gradient evenly, as JAX does", () => {
  test("max and min: 1/2 to each operand where they are equal", async () => {
    const x = tensor([3], [1, 2, 3]), y = tensor([3], [1, 5, 0]);
    const sum = (f: (a: Tensor, b: Tensor) => Tensor) => (a: Tensor, b: Tensor) => lax.reduceSum(f(a, b), [0]);
    const [gx, gy] = grad(sum(lax.max), { argnums: [0, 1] })(x, y) as Tensor[];
    expect(await read(gx!)).toEqual([0.5, 0, 1]);
    expect(await read(gy!)).toEqual([0.5, 1, 0]);
    const [hx, hy] = grad(sum(lax.min), { argnums: [0, 1] })(x, y) as Tensor[];
    expect(await read(hx!)).toEqual([0.5, 1, 0]);
    expect(await read(hy!)).toEqual([0.5, 0, 1]);
  });

  test("reduce_max: the gradient is shared by every position attaining the maximum", async () => {
    const x = tensor([2, 3], [1, 4, 4, 2, 2, 2]);
    const g = grad((x: Tensor) => lax.reduceSum(lax.reduceMax(x, [1]), [0]))(x) as Tensor;
    expectClose(await read(g), [0, 0.5, 0.5, 1 / 3, 1 / 3, 1 / 3], 1e-12);
  });
});

test("every primitive is either checked here or made only by passes", () => {
  const covered = new Set<string>([...cases.map((c) => c.prim), ...Object.keys(zeroTangent)]);
  // The tangent and backward nodes of flash_attention and moe_ffn are made by their rules (tests/transforms/attention-grad.test.ts, moe-grad.test.ts).
  const passOnly = new Set(["fusion", "flash_attention", "flash_attention_jvp", "flash_attention_bwd", "moe_ffn", "moe_ffn_jvp", "moe_ffn_bwd"]);
  expect(allPrimitives().filter((p) => !covered.has(p) && !passOnly.has(p))).toEqual([]);
});
