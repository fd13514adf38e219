/**
 * Row reductions whose error does not grow with the row (BlockedSum, codegen/reduce.ts):
 * one row of 2^24 f32 values, summed unfused and fused and passed through a fused softmax
 * on WebGPU, within 1e-4 (relative) of the interpreter's float64 accumulation. One f32
 * accumulator per invocation drifted by up to 2.5% here (issue 12). One row size, one run:
 * 64 MiB on lavapipe is slow.
 */
import { beforeAll, describe, expect, test } from "vitest";
import type { Tensor } from "../../frontend/core.js";
import { fromHost } from "../../frontend/creation.js";
import { initBackend } from "../../frontend/init.js";
import { jit } from "../../frontend/jit.js";
import * as nn from "../../frontend/nn.js";
import * as np from "../../frontend/np.js";
import { gpu } from "../runtime/webgpu-helpers.js";

const N = 2 ** 24;
/** Values whose repeated addition rounds the same way every time: the worst case for one accumulator. */
const row = Float32Array.from({ length: N }, (_, i) => 0.1 + (i % 3) * 0.05);

async function run(f: (x: Tensor) => Tensor, backend: "webgpu" | "interp", fuse: boolean): Promise<Float32Array> {
  const x = fromHost("f32", [1, N], row.slice(), backend);
  const out = jit(f, { backend, fuse })(x);
  const data = (await out.data()) as Float32Array;
  x.dispose();
  out.dispose();
  return data;
}

describe.skipIf(!gpu)("a row of 2^24 elements", () => {
  beforeAll(async () => {
    await initBackend("interp");
    await initBackend("webgpu");
  });

  test("np.sum, unfused and fused, within 1e-4 of the interpreter", async () => {
    const sum = (x: Tensor) => np.sum(x, 1);
    const [want] = await run(sum, "interp", false);
    for (const fuse of [false, true]) {
      const [got] = await run(sum, "webgpu", fuse);
      expect(Math.abs(got! - want!) / want!, `fuse ${fuse}: got ${got}, want ${want}`).toBeLessThan(1e-4);
    }
  }, 300_000);

  test("a fused softmax sums to 1 and matches the interpreter within 1e-4", async () => {
    const softmax = (x: Tensor) => nn.softmax(x, -1);
    const got = await run(softmax, "webgpu", true);
    let total = 0;
    for (let i = 0; i < N; i++) total += got[i]!;
    expect(Math.abs(total - 1)).toBeLessThan(1e-4);
    const want = await run(softmax, "interp", false);
    let worst = 0;
    for (let i = 0; i < N; i += 997) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / want[i]!);
    expect(worst).toBeLessThan(1e-4);
  }, 300_000);
});
