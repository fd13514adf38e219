/**
 * The IEEE contract (codegen/rewrite.ts): every elementwise primitive, fed the values a
 * float can get wrong (NaN, ±Inf, ±0, subnormals, ±1, large and small), gives on WebGPU
 * what the interpreter gives, fused and unfused, with runtime operands and with constant
 * operands (which the WGSL compiler sees as literals and may fold). Specials compare by
 * identity (NaN matches NaN, the sign of zero and of infinity matter); finite results
 * within f32 tolerance of the float64 reference. lavapipe keeps subnormals (checked below),
 * so subnormal inputs and results are held to the interpreter as well.
 */
import { beforeAll, describe, expect, test } from "vitest";
import type { Tensor } from "../../frontend/core.js";
import { fromHost } from "../../frontend/creation.js";
import { initBackend } from "../../frontend/init.js";
import { jit } from "../../frontend/jit.js";
import * as lax from "../../frontend/lax.js";
import type { DTypeName, HostArray } from "../../ir/dtype.js";
import { BINARY_OPS, COMPARE_OPS, UNARY_OPS } from "../../ir/primitives.js";
import { gpu } from "../runtime/webgpu-helpers.js";

const SUBNORMAL_MIN = 2 ** -149;
/** The values fed to every primitive: the IEEE edges and a few ordinary numbers around them. */
const ALL_SPECIALS = [
  NaN, Infinity, -Infinity, 0, -0, SUBNORMAL_MIN, -3e-39, 1.1754942e-38, 1, -1, 0.5, -2.5, 3, 1e-30, 1e30, -1e30, 88.8, -104,
].map(Math.fround);
/** sin and cos of |x| past 2^20 are outside the contract (no Payne–Hanek reduction): checked separately. */
const HUGE_ANGLE = 2 ** 20;
const specialsFor = (op: string) => (op === "sin" || op === "cos" ? ALL_SPECIALS.filter((v) => !(Math.abs(v) > HUGE_ANGLE && Number.isFinite(v))) : ALL_SPECIALS);
const SPECIALS = ALL_SPECIALS;

/** Integer- or bool-only primitives: checked on the values of their own dtype below. */
const LOGICAL = new Set<string>(["not", "and", "or"]);
const FLOAT_UNARY = UNARY_OPS.filter((op) => !LOGICAL.has(op));
const FLOAT_BINARY = BINARY_OPS.filter((op) => !LOGICAL.has(op));

/** f32 results of transcendental functions differ from the float64 reference by a few ulps. */
const RTOL = 2e-5;
const ATOL = 1e-6;

/** The special values an f32 computation must reproduce exactly. */
const isSpecial = (v: number) => Number.isNaN(v) || !Number.isFinite(v) || v === 0;

/**
 * The device property the contract allows (DESIGN, "IEEE contract"): a transcendental
 * computed through exp2 may flush a subnormal result to zero of the same sign.
 */
const flushedResult = (g: number, w: number) => g === 0 && Math.abs(w) < 2 ** -126 && Math.sign(1 / g) === Math.sign(w);

/** Every element where `got` breaks the contract against `want`, as messages. */
function breaches(what: string, inputs: readonly string[], got: ArrayLike<number>, want: ArrayLike<number>): string[] {
  const out: string[] = [];
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!, w = want[i]!;
    if (flushedResult(g, w)) continue;
    const ok = isSpecial(w) || isSpecial(g)
      ? Object.is(g, w) || (Number.isNaN(g) && Number.isNaN(w))
      : Math.abs(g - w) <= ATOL * Math.min(1, Math.abs(w)) + RTOL * Math.abs(w) || Math.abs(w) < 1e-37 && Math.abs(g - w) <= 2 ** -149 * 4;
    if (!ok) out.push(`${what}(${inputs[i]}): got ${show(g)}, want ${show(w)}`);
  }
  return out;
}

type Fn = (...xs: Tensor[]) => Tensor;

async function run(f: Fn, xs: readonly HostArray[], backend: "webgpu" | "interp", fuse: boolean): Promise<ArrayLike<number>> {
  const args = xs.map((a) => fromHost(a.dtype, a.shape, a.data.slice(), backend));
  const out = jit(f, { backend, fuse })(...args);
  const data = await out.data();
  for (const t of [...args, out]) t.dispose();
  return data;
}

const f32s = (values: readonly number[]): HostArray => ({ dtype: "f32", shape: [values.length], data: Float32Array.from(values) });
const show = (v: number) => (Object.is(v, -0) ? "-0" : String(v));

/** Runs `f` on WebGPU fused and unfused and on the interpreter; the breaches of both WebGPU runs. */
async function check(what: string, f: Fn, xs: readonly HostArray[], labels: readonly string[]): Promise<string[]> {
  const want = await run(f, xs, "interp", false);
  const out: string[] = [];
  for (const fuse of [true, false]) {
    const got = await run(f, xs, "webgpu", fuse);
    out.push(...breaches(`${what}${fuse ? "" : " unfused"}`, labels, got, want));
  }
  return out;
}

/** All pairs (a, b) of the specials, as two flat operands. */
const PAIRS = SPECIALS.flatMap((a) => SPECIALS.map((b) => [a, b] as const));

describe.skipIf(!gpu)("IEEE contract on WebGPU against the interpreter", () => {
  beforeAll(async () => {
    await initBackend("interp");
    await initBackend("webgpu");
  });

  test.each(FLOAT_UNARY)("%s of every special value (runtime operand)", async (op) => {
    const values = specialsFor(op);
    const bad = await check(op, (x) => lax.unary(op, x), [f32s(values)], values.map(show));
    expect(bad).toEqual([]);
  });

  test.each(FLOAT_UNARY)("%s of every special value (constant operand)", async (op) => {
    // One constant per output element (x is 1, and x * c is folded by nothing): the compiler sees each special as a literal.
    const values = specialsFor(op);
    const f: Fn = (x) => lax.unary(op, lax.mul(x, lax.constant(values, [values.length], "f32")));
    const splat = (c: number): Fn => (x) => lax.unary(op, lax.mul(x, lax.fullLike(x, c)));
    const bad = await check(op, f, [f32s(values.map(() => 1))], values.map(show));
    for (const c of [NaN, Infinity, -Infinity, -0, SUBNORMAL_MIN]) {
      bad.push(...(await check(`${op} splat`, splat(c), [f32s([1])], [show(c)])));
    }
    expect(bad).toEqual([]);
  });

  test.each([...FLOAT_BINARY, ...COMPARE_OPS])("%s of every pair of special values (runtime operands)", async (op) => {
    const a = f32s(PAIRS.map((p) => p[0])), b = f32s(PAIRS.map((p) => p[1]));
    const bad = await check(op, (x, y) => lax.binary(op, x, y), [a, b], PAIRS.map(([x, y]) => `${show(x)}, ${show(y)}`));
    expect(bad).toEqual([]);
  });

  test.each([...FLOAT_BINARY, ...COMPARE_OPS])("%s with a constant operand on either side", async (op) => {
    const bad: string[] = [];
    const x = f32s(SPECIALS);
    for (const c of SPECIALS) {
      const right: Fn = (a) => lax.binary(op, a, lax.fullLike(a, c));
      const left: Fn = (a) => lax.binary(op, lax.fullLike(a, c), a);
      bad.push(...(await check(op, right, [x], SPECIALS.map((v) => `${show(v)}, const ${show(c)}`))));
      bad.push(...(await check(op, left, [x], SPECIALS.map((v) => `const ${show(c)}, ${show(v)}`))));
    }
    expect(bad).toEqual([]);
  }, 120_000);

  test.each([["not", "bool"], ["and", "bool"], ["or", "bool"]] as const)(
    "%s on %s edges", async (op, dtype: DTypeName) => {
      const values = [0, 1];
      const pairs = values.flatMap((a) => values.map((b) => [a, b] as const));
      const arr = (vs: number[]): HostArray => ({ dtype, shape: [vs.length], data: Uint8Array.from(vs) } as HostArray);
      const labels = pairs.map(([a, b]) => `${a}, ${b}`);
      const bad = op === "not"
        ? await check(op, (x) => lax.unary(op, x), [arr(values)], values.map(String))
        : await check(op, (x, y) => lax.binary(op, x, y), [arr(pairs.map((p) => p[0])), arr(pairs.map((p) => p[1]))], labels);
      expect(bad).toEqual([]);
    });

  test("sin and cos of huge finite angles stay within [-1, 1]; of ±inf and NaN are NaN", async () => {
    const xs = f32s([1e30, -1e30, 3e38, HUGE_ANGLE * 3, Infinity, -Infinity, NaN]);
    for (const op of ["sin", "cos"] as const) {
      for (const fuse of [true, false]) {
        const got = Array.from(await run((x) => lax.unary(op, x), [xs], "webgpu", fuse));
        expect(got.slice(0, 4).every((v) => Math.abs(v) <= 1)).toBe(true);
        expect(got.slice(4).every(Number.isNaN)).toBe(true);
      }
    }
  });

  test("integer division by zero is 0 and truncates toward zero, constant or runtime divisor", async () => {
    const values = [7, -7, 0, 2 ** 31 - 1, -(2 ** 31)];
    const xs: HostArray = { dtype: "i32", shape: [values.length], data: Int32Array.from(values) };
    const bad: string[] = [];
    for (const c of [0, 2, -3]) {
      bad.push(...(await check("div i32", (a) => lax.div(a, lax.fullLike(a, c)), [xs], values.map((v) => `${v}, ${c}`))));
    }
    expect(bad).toEqual([]);
  });

  test("the issue's reproductions: x / 0, tanh(NaN), pow(0, negative), log of a subnormal", async () => {
    const x = f32s([3, -3, 0, 1.5]);
    const got = await run((a) => lax.div(a, lax.fullLike(a, 0)), [x], "webgpu", true);
    expect(Array.from(got)).toEqual([Infinity, -Infinity, NaN, Infinity]);
    expect(Array.from(await run((a) => lax.tanh(a), [f32s([NaN])], "webgpu", true))).toEqual([NaN]);
    const pow0 = await run((a) => lax.pow(lax.zerosLike(a), a), [f32s([-1, -Infinity, -0.5])], "webgpu", true);
    expect(Array.from(pow0)).toEqual([Infinity, Infinity, Infinity]);
    const log = await run((a) => lax.log(a), [f32s([SUBNORMAL_MIN])], "webgpu", true);
    expect(log[0]).toBeCloseTo(Math.log(SUBNORMAL_MIN), 4);
  });
});
