/**
 * Forward and reverse mode agree: ⟨u, J v⟩ = ⟨Jᵀ u, v⟩ for random directions u, v
 * (fast-check draws the seeds), in float64 (see f64.ts), on functions that
 * between them use every differentiable primitive.
 */
import fc from "fast-check";
import { describe, test, vi } from "vitest";
import type { Tensor } from "../../frontend/core.js";
import { init } from "../../frontend/init.js";
import { jit } from "../../frontend/jit.js";
import { jvp } from "../../frontend/jvp.js";
import * as lax from "../../frontend/lax.js";
import * as nn from "../../frontend/nn.js";
import { vjp } from "../../frontend/vjp.js";
import { expectClose, read, tensor, uniform } from "./helpers.js";

vi.mock("../../ir/dtype.js", async (orig) => (await import("./f64.js")).f64Dtype(await orig()));
vi.mock("../../runtime/interp/host.js", async (orig) => (await import("./f64.js")).f64Host(await orig()));

await init({ backend: "interp" });

interface Fn {
  name: string;
  f: (...xs: Tensor[]) => Tensor;
  shapes: number[][];
}

const idx = () => tensor([3], [2, 0, 2], "i32");
const fns: Fn[] = [
  {
    name: "elementwise chain",
    f: (x, y) =>
      lax.add(
        lax.mul(lax.erf(x), lax.logistic(y)),
        lax.div(lax.sin(lax.mul(x, y)), lax.add(lax.exp(lax.neg(lax.abs(y))), lax.pow(lax.add(lax.mul(x, x), lax.fullLike(x, 1)), lax.cos(y)))),
      ),
    shapes: [[2, 3], [2, 3]],
  },
  {
    name: "sqrt, rsqrt, log, tanh, max, min, select",
    f: (x, y) => {
      const p = lax.add(lax.mul(x, x), lax.fullLike(x, 0.5));
      const m = lax.max(lax.tanh(x), lax.min(y, lax.log(p)));
      return lax.select(lax.gt(x, y), lax.mul(lax.sqrt(p), m), lax.sub(lax.rsqrt(p), m));
    },
    shapes: [[4], [4]],
  },
  {
    name: "layout: broadcast, reshape, transpose, slice, pad, concatenate",
    f: (x, y) => {
      const b = lax.broadcastInDim(x, [2, 3, 4], [0, 2]);
      const t = lax.transpose(lax.reshape(b, [6, 4]), [1, 0]);
      const s = lax.slice(t, [0, 1], [4, 6], [2, 2]);
      return lax.concatenate([lax.pad(s, [1, 0], [0, 1], 2), lax.reshape(y, [3, 3])], 1);
    },
    shapes: [[2, 4], [9]],
  },
  {
    name: "reductions, cumsum, top_k",
    f: (x) =>
      lax.concatenate(
        [lax.reduceMax(x, [1]), lax.reduceMin(x, [1]), lax.reduceSum(lax.cumsum(x, 1, true), [1]), lax.reduceSum(lax.topK(x, 2)[0], [1])],
        0,
      ),
    shapes: [[3, 4]],
  },
  {
    name: "dot_general, gather, scatter_add inside jit",
    f: jit((x: Tensor, w: Tensor, e: Tensor) => {
      const h = lax.dotGeneral(x, w, { lhsContract: [1], rhsContract: [0] });
      const g = lax.gather(e, idx(), 0);
      return lax.scatterAdd(h, idx(), lax.mul(g, g), 0);
    }),
    shapes: [[3, 4], [4, 5], [3, 5]],
  },
  {
    name: "attention and layer norm",
    f: (q, k, v) => nn.layerNorm(nn.attention(q, k, v, { causal: true })),
    shapes: [[2, 3, 4], [2, 3, 4], [2, 3, 4]],
  },
];

const dot = async (a: Tensor[], b: Tensor[]) => {
  let s = 0;
  for (const [i, x] of a.entries()) {
    const [p, q] = [await read(x), await read(b[i]!)];
    p.forEach((v, j) => (s += v * q[j]!));
  }
  return s;
};

describe("⟨u, J v⟩ = ⟨Jᵀ u, v⟩ on random directions", () => {
  for (const { name, f, shapes } of fns)
    test(name, async () => {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: 1 << 30 }), async (seed) => {
          const xs = shapes.map((s, i) => uniform(s, seed + i));
          const vs = shapes.map((s, i) => uniform(s, seed + 100 + i));
          const [y, jv] = jvp(f, xs, vs);
          const u = uniform(y.shape, seed + 200);
          const [, pull] = vjp(f, ...xs);
          const jtu = pull(u) as Tensor[];
          expectClose([await dot([u], [jv])], [await dot(jtu, vs)], 1e-10);
        }),
        { numRuns: 8 },
      );
    });
});
