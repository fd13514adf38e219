/**
 * Jitted functions on WebGPU: an MLP forward and a softmax match the interpreter, a
 * thousand calls leak nothing, and two functions called alternately with their reads
 * awaited out of order give the right results.
 */
import { beforeAll, describe, expect, test } from "vitest";
import type { Tensor } from "../../frontend/core.js";
import { fromHost } from "../../frontend/creation.js";
import { initBackend } from "../../frontend/init.js";
import { jit, memoryStats } from "../../frontend/jit.js";
import * as nn from "../../frontend/nn.js";
import * as np from "../../frontend/np.js";
import type { HostArray } from "../../ir/dtype.js";
import { fill } from "./webgpu-arbitraries.js";
import { gpu, mismatch } from "./webgpu-helpers.js";

const on = (backend: string, a: HostArray) => fromHost(a.dtype, a.shape, a.data.slice(), backend);

async function host(t: Tensor, like: HostArray): Promise<HostArray> {
  return { dtype: like.dtype, shape: t.shape, data: await t.data() } as HostArray;
}

describe.skipIf(!gpu)("jit on webgpu", () => {
  beforeAll(async () => {
    await initBackend("interp");
    await initBackend("webgpu");
  });

  const mlp = (x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor) =>
    np.add(np.matmul(nn.gelu(np.add(np.matmul(x, w1), b1)), w2), b2);

  test("an MLP forward, gelu(x·W1 + b1)·W2 + b2, matches the interpreter", async () => {
    const args = [fill("f32", [33, 64], 1, -1, 1), fill("f32", [64, 130], 2, -0.2, 0.2), fill("f32", [130], 3, -0.1, 0.1),
      fill("f32", [130, 17], 4, -0.2, 0.2), fill("f32", [17], 5, -0.1, 0.1)];
    const run = (backend: "webgpu" | "interp") => {
      const [x, w1, b1, w2, b2] = args.map((a) => on(backend, a)) as Tensor[];
      return jit(mlp, { backend })(x!, w1!, b1!, w2!, b2!);
    };
    const gpuOut = run("webgpu");
    const ref = run("interp");
    const want = await host(ref, args[0]!);
    expect(mismatch(await host(gpuOut, args[0]!), want, { rtol: 1e-4, atol: 1e-5 })).toBeUndefined();
  });

  test("softmax over the last axis matches the interpreter and rows sum to one", async () => {
    const x = fill("f32", [7, 1031], 9, -20, 20);
    const f = (t: Tensor) => nn.softmax(t, -1);
    const got = await host(jit(f, { backend: "webgpu" })(on("webgpu", x)), x);
    const want = await host(jit(f, { backend: "interp" })(on("interp", x)), x);
    expect(mismatch(got, want, { rtol: 1e-5, atol: 1e-7 })).toBeUndefined();
    for (let r = 0; r < 7; r++) {
      let s = 0;
      for (let j = 0; j < 1031; j++) s += got.data[r * 1031 + j]!;
      expect(s).toBeCloseTo(1, 4);
    }
  });

  test("1,000 calls of a jitted function leave memoryStats where it started", async () => {
    const f = jit((x: Tensor, w: Tensor) => nn.relu(np.add(np.matmul(x, w), 1)), { backend: "webgpu" });
    const x = on("webgpu", fill("f32", [8, 16], 1)), w = on("webgpu", fill("f32", [16, 5], 2));
    const warm = f(x, w);
    await warm.data();
    warm.dispose();
    const before = memoryStats("webgpu");
    for (let i = 0; i < 1000; i++) {
      const y = f(x, w);
      if (i % 100 === 99) await y.data();
      y.dispose();
    }
    await gpu!.synchronize();
    expect(memoryStats("webgpu", before)).toMatchObject({ liveBuffers: 0, liveBytes: 0 });
  });

  test("two jitted functions called alternately, reads awaited out of order, give the right results", async () => {
    const f = jit((x: Tensor) => np.add(np.multiply(x, 2), 1), { backend: "webgpu" });
    const g = jit((x: Tensor) => np.sum(x, -1), { backend: "webgpu" });
    const pending: { got: Promise<ArrayLike<number>>; want: number[] }[] = [];
    for (let i = 0; i < 6; i++) {
      const xs = Array.from({ length: 12 }, (_, j) => i * 12 + j);
      const x = fromHost("f32", [3, 4], Float32Array.from(xs), "webgpu");
      pending.push({ got: f(x).data(), want: xs.map((v) => 2 * v + 1) });
      pending.push({ got: g(x).data(), want: [0, 1, 2].map((r) => xs.slice(4 * r, 4 * r + 4).reduce((a, b) => a + b, 0)) });
    }
    for (const p of [...pending].reverse()) expect(Array.from(await p.got)).toEqual(p.want);
  });
});
