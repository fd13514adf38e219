/**
 * Transformed functions compile like any other: jit(valueAndGrad(loss)) of an MLP
 * and jit(vmap(grad f)) give the interpreter's numbers on WebGPU (f32; rtol 1e-4).
 * Skips without an adapter (see tests/runtime/webgpu-helpers.ts).
 */
import { beforeAll, describe, test } from "vitest";
import type { Tensor } from "../../frontend/core.js";
import { fromHost } from "../../frontend/creation.js";
import { initBackend } from "../../frontend/init.js";
import { jit } from "../../frontend/jit.js";
import * as nn from "../../frontend/nn.js";
import * as np from "../../frontend/np.js";
import { grad, valueAndGrad } from "../../frontend/vjp.js";
import { vmap } from "../../frontend/vmap.js";
import { fill } from "../runtime/webgpu-arbitraries.js";
import { gpu } from "../runtime/webgpu-helpers.js";
import { expectClose } from "./helpers.js";

const on = (backend: string, a: ReturnType<typeof fill>) => fromHost(a.dtype, a.shape, a.data.slice(), backend);

describe.skipIf(!gpu)("transformations on webgpu", () => {
  beforeAll(async () => {
    await initBackend("interp");
    await initBackend("webgpu");
  });

  const loss = (p: { w1: Tensor; b1: Tensor; w2: Tensor }, x: Tensor, y: Tensor) =>
    nn.crossEntropy(np.matmul(nn.gelu(np.add(np.matmul(x, p.w1), p.b1)), p.w2), y);
  const data = [fill("f32", [16, 8], 1, -1, 1), fill("f32", [8, 32], 2, -0.3, 0.3), fill("f32", [32], 3, -0.1, 0.1), fill("f32", [32, 4], 4, -0.3, 0.3)];
  const labels = fill("i32", [16], 5, 0, 4);

  async function both(f: (backend: "webgpu" | "interp", t: (i: number) => Tensor, y: Tensor) => Tensor[]): Promise<void> {
    const run = (backend: "webgpu" | "interp") => f(backend, (i) => on(backend, data[i]!), on(backend, labels));
    const [got, want] = [run("webgpu"), run("interp")];
    for (const [i, g] of got.entries()) expectClose(Array.from(await g.data()), Array.from(await want[i]!.data()), 1e-4, 1e-5);
  }

  test("jit(valueAndGrad) of an MLP cross-entropy loss", async () => {
    await both((backend, t, y) => {
      const step = jit((p: { w1: Tensor; b1: Tensor; w2: Tensor }, x: Tensor, y: Tensor) => valueAndGrad(loss)(p, x, y), { backend });
      const [value, g] = step({ w1: t(1), b1: t(2), w2: t(3) }, t(0), y) as [Tensor, { w1: Tensor; b1: Tensor; w2: Tensor }];
      return [value, g.w1, g.b1, g.w2];
    });
  });

  test("jit(vmap(grad f)) with the weights unbatched", async () => {
    await both((backend, t) => {
      const f = (x: Tensor, w: Tensor) => np.sum(np.tanh(np.matmul(x, w)));
      return [jit(vmap(grad(f), { inAxes: [0, null] }), { backend })(t(0), t(1)) as Tensor];
    });
  });
});
