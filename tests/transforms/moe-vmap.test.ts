/**
 * vmap of nn.moe: each token is routed on its own, so a batch over x is more tokens. With x
 * the only batched operand the layer runs once on the joined tokens (and jit(vmap(...)) still
 * holds one dense form the moe pass routes); with anything else batched, or a capacity (which
 * is per call), every op is batched as usual. Both must equal the layer applied per batch
 * element, on the interpreter.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { Tensor } from "../../frontend/core.js";
import { init } from "../../frontend/init.js";
import { jit } from "../../frontend/jit.js";
import * as lax from "../../frontend/lax.js";
import * as nn from "../../frontend/nn.js";
import * as np from "../../frontend/np.js";
import { vmap } from "../../frontend/vmap.js";
import { grad } from "../../frontend/vjp.js";
import { uniform } from "./helpers.js";

const B = 3, T = 5, d = 4, E = 4, h = 6, k = 2;
let x: Tensor, gate: Tensor, w1: Tensor, w2: Tensor, b1: Tensor;

beforeAll(async () => {
  await init({ backend: "interp" });
  [x, gate, w1, w2, b1] = [uniform([B, T, d], 1), uniform([d, E], 2), uniform([E, d, h], 3), uniform([E, h, d], 4), uniform([E, h], 5)];
});
const layer = (xx: Tensor, g: Tensor = gate) => nn.moe(xx, g, { w1, b1, w2 }, k, { activation: nn.relu });

/** The layer on each batch element (axis `axis` of x), stacked on axis 0. */
const perElement = (f: (xb: Tensor, i: number) => Tensor, xs: Tensor, axis = 0) =>
  np.stack(Array.from({ length: xs.shape[axis]! }, (_, i) => f(np.take(xs, i, axis), i)));

async function expectClose(got: Tensor, want: Tensor, tol = 1e-5): Promise<void> {
  expect(got.shape).toEqual(want.shape);
  const [a, b] = [await got.data(), await want.data()];
  for (let i = 0; i < a.length; i++) expect(Math.abs(Number(a[i]) - Number(b[i])), `element ${i}`).toBeLessThanOrEqual(tol * (1 + Math.abs(Number(b[i]))));
}

describe("vmap of nn.moe", () => {
  it("over x (axis 0 and axis 1) equals the layer per batch element", async () => {
    await expectClose(vmap((xx: Tensor) => layer(xx))(x), perElement((xb) => layer(xb), x));
    const xT = np.transpose(x, [1, 0, 2]);
    await expectClose(vmap((xx: Tensor) => layer(xx), { inAxes: 1 })(xT), perElement((xb) => layer(xb), xT, 1));
  });

  it("under jit the batch joins the tokens: one moe_ffn over B·T tokens, equal to the dense program", async () => {
    const f = jit(vmap((xx: Tensor) => layer(xx)));
    const dump = f.lower(x).dump("moe");
    expect(dump).toMatch(new RegExp(`moe_ffn over ${B * T} tokens × ${d}, ${E} experts of hidden ${h}, top-${k}`));
    await expectClose(f(x), perElement((xb) => layer(xb), x));
    // Nested: vmap of vmap joins both batch axes.
    const x4 = np.reshape(np.concatenate([x, x]), [2, B, T, d]);
    const g2 = jit(vmap(vmap((xx: Tensor) => layer(xx))));
    expect(g2.lower(x4).dump("moe")).toMatch(new RegExp(`moe_ffn over ${2 * B * T} tokens`));
    await expectClose(g2(x4), np.stack([0, 1].map((i) => perElement((xb) => layer(xb), np.take(x4, i, 0)))));
  });

  it("batched router weights, a closure over a batched value, or a capacity: every op batched, still equal per element", async () => {
    const gates = uniform([B, d, E], 6);
    await expectClose(vmap((xx: Tensor, g: Tensor) => layer(xx, g))(x, gates), perElement((xb, i) => layer(xb, np.take(gates, i, 0)), x));
    const noise = uniform([B, E, T, h], 7);
    const noisy = (xx: Tensor, n: Tensor) => nn.moe(xx, gate, { w1, w2 }, k, { activation: (u) => lax.add(nn.relu(u), n) });
    await expectClose(vmap(noisy)(x, noise), perElement((xb, i) => noisy(xb, np.take(noise, i, 0)), x));
    const capped = (xx: Tensor) => nn.moe(xx, gate, { w1, w2 }, k, { capacityFactor: 0.5 });
    await expectClose(vmap(capped)(x), perElement((xb) => capped(xb), x));
    const f = jit(vmap(capped));
    expect(f.lower(x).dump("moe")).not.toMatch(/moe_ffn over/);
  });

  it("grad of a loss through vmap(nn.moe) equals the sum of per-element gradients", async () => {
    const loss = (g: Tensor) => np.sum(np.square(vmap((xx: Tensor) => layer(xx, g))(x)));
    const perLoss = (g: Tensor) => np.sum(np.square(perElement((xb) => layer(xb, g), x)));
    await expectClose(grad(loss)(gate), grad(perLoss)(gate), 1e-4);
  });
});
