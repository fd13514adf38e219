/**
 * Gradients of compositions (softmax, layer norm, attention, gelu, an MLP loss)
 * against central differences in float64 (see f64.ts), and the compositions of
 * transformations: grad(grad f), jit(grad f), grad(jit f), vmap(grad f),
 * vmap(jit f), jit(vmap f), over pytrees.
 */
import { describe, expect, test, vi } from "vitest";
import type { Tensor } from "../../frontend/core.js";
import { init } from "../../frontend/init.js";
import { jit } from "../../frontend/jit.js";
import { jvp } from "../../frontend/jvp.js";
import * as lax from "../../frontend/lax.js";
import * as nn from "../../frontend/nn.js";
import * as np from "../../frontend/np.js";
import { grad, valueAndGrad, vjp } from "../../frontend/vjp.js";
import { vmap } from "../../frontend/vmap.js";
import { checkGrad, expectClose, read, tensor, uniform } from "./helpers.js";

vi.mock("../../ir/dtype.js", async (orig) => (await import("./f64.js")).f64Dtype(await orig()));
vi.mock("../../runtime/interp/host.js", async (orig) => (await import("./f64.js")).f64Host(await orig()));

await init({ backend: "interp" });

const mlpLoss = (w1: Tensor, b1: Tensor, w2: Tensor, x: Tensor, y: Tensor) =>
  nn.crossEntropy(np.matmul(nn.gelu(np.add(np.matmul(x, w1), b1)), w2), y);

describe("gradients of compositions match central differences in float64", () => {
  test("softmax", async () => checkGrad((x) => nn.softmax(x), [uniform([3, 4], 1)]));
  test("log-softmax and logsumexp", async () => checkGrad((x) => np.add(nn.logSoftmax(x), nn.logsumexp(x, -1, true)), [uniform([3, 4], 2)]));
  test("layer norm with scale and shift", async () =>
    checkGrad((x, g, b) => nn.layerNorm(x, g, b), [uniform([3, 5], 3), uniform([5], 4), uniform([5], 5)]));
  test("gelu, exact and tanh-approximated", async () =>
    checkGrad((x) => np.add(nn.gelu(x, { approximate: false }), nn.gelu(x)), [uniform([2, 3], 6, -3, 3)]));
  test("causal attention with respect to q, k and v", async () =>
    checkGrad((q, k, v) => nn.attention(q, k, v, { causal: true }), [uniform([2, 3, 4], 7), uniform([2, 3, 4], 8), uniform([2, 3, 4], 9)]));
  test("an MLP cross-entropy loss with respect to every parameter", async () => {
    const y = tensor([4], [0, 2, 1, 2], "i32");
    await checkGrad((w1, b1, w2, x) => mlpLoss(w1, b1, w2, x, y), [uniform([3, 5], 10), uniform([5], 11), uniform([5, 3], 12), uniform([4, 3], 13)]);
  });
  test("grad(grad f): second derivatives of a scalar function", async () => {
    const f = (x: Tensor) => lax.reduceSum(lax.mul(lax.tanh(x), nn.softmax(x)), [0]);
    await checkGrad((x) => grad(f)(x) as Tensor, [uniform([4], 14)]);
  });
  test("grad of vmap", async () =>
    checkGrad((x, w) => vmap((r: Tensor) => lax.reduceSum(lax.mul(lax.sin(r), w), [0]))(x), [uniform([3, 4], 15), uniform([4], 16)]));
  test("grad of a function calling nested jit", async () => {
    const inner = jit((x: Tensor) => lax.mul(lax.exp(x), x));
    const outer = jit((x: Tensor, y: Tensor) => lax.reduceSum(lax.mul(inner(x), y), [1]));
    await checkGrad(outer, [uniform([2, 3], 17), uniform([2, 3], 18)]);
  });
});

describe("grad(grad f) for a scalar function", () => {
  test("d²/dx² of x³·sin x matches the closed form", async () => {
    const f = (x: Tensor) => lax.mul(lax.mul(lax.mul(x, x), x), lax.sin(x));
    const x0 = 0.7;
    const d2 = grad(grad(f))(tensor([], [x0])) as Tensor;
    const want = 6 * x0 * Math.sin(x0) + 6 * x0 * x0 * Math.cos(x0) - x0 ** 3 * Math.sin(x0);
    expectClose([await d2.item()], [want], 1e-12);
  });
  test("an inner grad closing over the outer variable (a captured outer tracer)", async () => {
    // d/dx [∂/∂y sin(x·y) at y = x] = d/dx [x·cos(x²)] = cos(x²) − 2x²·sin(x²)
    const h = (x: Tensor) => grad((y: Tensor) => lax.sin(lax.mul(x, y)))(x) as Tensor;
    const x0 = 0.8;
    expectClose([await (grad(h)(tensor([], [x0])) as Tensor).item()], [Math.cos(x0 ** 2) - 2 * x0 ** 2 * Math.sin(x0 ** 2)], 1e-12);
  });
  test("no perturbation confusion: d/dx [x · d/dy (x + y)] = 1", async () => {
    const h = (x: Tensor) => lax.mul(x, grad((y: Tensor) => lax.add(x, y))(tensor([], [1])) as Tensor);
    expect(await (grad(h)(tensor([], [1])) as Tensor).item()).toBe(1);
  });
  test("third derivative through jit", async () => {
    const f = jit((x: Tensor) => lax.exp(lax.mul(x, x)));
    const d3 = jit(grad(grad(grad(f))))(tensor([], [0.3])) as Tensor;
    const x = 0.3, e = Math.exp(x * x);
    expectClose([await d3.item()], [e * (12 * x + 8 * x ** 3)], 1e-12);
  });
});

describe("transformations compose", () => {
  const f = (x: Tensor, w: Tensor) => lax.reduceSum(lax.tanh(lax.dotGeneral(x, w, { lhsContract: [0], rhsContract: [0] })), [0]);
  const x = uniform([3], 20), w = uniform([3, 4], 21);

  test("jit(grad f) and grad(jit f) equal grad f", async () => {
    const g = await read(grad(f, { argnums: 1 })(x, w) as Tensor);
    expectClose(await read(jit(grad(f, { argnums: 1 }))(x, w) as Tensor), g, 1e-12);
    expectClose(await read(grad(jit(f), { argnums: 1 })(x, w) as Tensor), g, 1e-12);
  });

  test("vmap(grad f) equals grad f per example, with the weights unbatched", async () => {
    const xs = uniform([5, 3], 22);
    const batched = vmap(grad(f, { argnums: [0, 1] }), { inAxes: [0, null] })(xs, w) as Tensor[];
    const rows = await read(xs);
    for (let b = 0; b < 5; b++) {
      const [gx, gw] = grad(f, { argnums: [0, 1] })(tensor([3], rows.slice(3 * b, 3 * b + 3)), w) as Tensor[];
      expectClose((await read(batched[0]!)).slice(3 * b, 3 * b + 3), await read(gx!), 1e-12);
      expectClose((await read(batched[1]!)).slice(12 * b, 12 * b + 12), await read(gw!), 1e-12);
    }
  });

  test("vmap(jit f), jit(vmap f) and vmap(vmap f) equal the loop", async () => {
    const xs = uniform([4, 3], 23);
    const rows = await read(xs);
    const loop = await Promise.all(Array.from({ length: 4 }, (_, b) => f(tensor([3], rows.slice(3 * b, 3 * b + 3)), w).item()));
    expectClose(await read(vmap(jit(f), { inAxes: [0, null] })(xs, w)), loop, 1e-12);
    expectClose(await read(jit(vmap(f, { inAxes: [0, null] }))(xs, w)), loop, 1e-12);
    const ws = lax.broadcastInDim(w, [2, 3, 4], [1, 2]);
    const twice = vmap(vmap(f, { inAxes: [0, null] }), { inAxes: [null, 0] })(xs, ws);
    expect(twice.shape).toEqual([2, 4]);
    expectClose(await read(twice), [...loop, ...loop], 1e-12);
  });

  test("vmap(grad(jit f)) with inAxes on a non-leading axis", async () => {
    const xsT = uniform([3, 4], 24); // batch on axis 1
    const got = vmap(grad(jit(f)), { inAxes: [1, null], outAxes: 1 })(xsT, w) as Tensor;
    expect(got.shape).toEqual([3, 4]);
    const cols = await read(lax.transpose(xsT, [1, 0]));
    const want: number[][] = [];
    for (let b = 0; b < 4; b++) want.push(await read(grad(f)(tensor([3], cols.slice(3 * b, 3 * b + 3)), w) as Tensor));
    expectClose(await read(got), [0, 1, 2].flatMap((i) => want.map((r) => r[i]!)), 1e-12);
  });
});

describe("pytrees", () => {
  const params = { w: uniform([3, 2], 30), b: uniform([2], 31) };
  const x = uniform([4, 3], 32);
  const loss = (p: typeof params, x: Tensor) => np.mean(np.square(np.add(np.matmul(x, p.w), p.b)));

  test("valueAndGrad returns gradients shaped like the parameters, and aux untouched", async () => {
    const [[value, aux], g] = valueAndGrad((p: typeof params, x: Tensor) => [loss(p, x), { n: np.sum(x) }], { hasAux: true })(params, x) as [
      [Tensor, { n: Tensor }],
      typeof params,
    ];
    expectClose([await value.item()], [await loss(params, x).item()], 1e-12);
    expectClose([await aux.n.item()], [await np.sum(x).item()], 1e-12);
    expect(g.w.shape).toEqual([3, 2]);
    expect(g.b.shape).toEqual([2]);
    await checkGrad((w, b) => loss({ w, b }, x), [params.w, params.b]);
  });

  test("argnums as an array differentiates several arguments", async () => {
    const [gp, gx] = grad(loss, { argnums: [0, 1] })(params, x) as [typeof params, Tensor];
    expect(gp.w.shape).toEqual([3, 2]);
    expect(gx.shape).toEqual([4, 3]);
  });

  test("jvp and vjp over pytrees agree", async () => {
    const f = (p: typeof params) => ({ y: np.matmul(x, p.w), s: np.sum(np.exp(p.b)) });
    const tan = { w: uniform([3, 2], 33), b: uniform([2], 34) };
    const [out, tout] = jvp(f, [params], [tan]);
    const [out2, pull] = vjp(f, params);
    expectClose(await read(out2.y), await read(out.y), 1e-12);
    const ct = { y: uniform([4, 2], 35), s: tensor([], [0.7]) };
    const [gp] = pull(ct) as [typeof params];
    const lhs = (await read(np.sum(np.multiply(ct.y, tout.y)))).concat(await read(np.multiply(ct.s, tout.s)));
    const rhs = (await read(np.sum(np.multiply(gp.w, tan.w)))).concat(await read(np.sum(np.multiply(gp.b, tan.b))));
    expectClose([lhs[0]! + lhs[1]!], [rhs[0]! + rhs[1]!], 1e-12);
  });
});
