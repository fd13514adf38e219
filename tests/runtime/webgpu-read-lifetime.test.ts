/**
 * A pending read keeps what it reads: `p = y.data(); y.dispose(); <another op>` resolves to
 * y's values, though y's buffer goes back to the pool and the next upload or call reuses it.
 */
import { beforeAll, describe, expect, test } from "vitest";
import type { Tensor } from "../../frontend/core.js";
import { fromHost } from "../../frontend/creation.js";
import { initBackend } from "../../frontend/init.js";
import { jit } from "../../frontend/jit.js";
import * as np from "../../frontend/np.js";
import { hostArray } from "../../ir/dtype.js";
import { gpu } from "./webgpu-helpers.js";

const ROUNDS = 20;

describe.skipIf(!gpu)("reads pending across dispose on webgpu", () => {
  beforeAll(async () => {
    await initBackend("webgpu");
  });

  test("a read resolves to its buffer's values when the buffer is freed and reused by an upload before it settles", async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const y = gpu!.upload(hostArray("f32", [64], Array.from({ length: 64 }, (_, j) => i * 100 + j)));
      const p = gpu!.read(y);
      gpu!.free(y);
      const z = gpu!.upload(hostArray("f32", [64], new Array(64).fill(-1)));
      expect(Array.from((await p).data)).toEqual(Array.from({ length: 64 }, (_, j) => i * 100 + j));
      gpu!.free(z);
    }
  });

  test("y.data() then y.dispose() then another jitted call: the read gives y's values, every time", async () => {
    const f = jit((x: Tensor) => np.add(np.multiply(x, 2), 1), { backend: "webgpu" });
    const x = fromHost("f32", [256], Float32Array.from({ length: 256 }, (_, j) => j), "webgpu");
    for (let i = 0; i < ROUNDS; i++) {
      const y = f(x);
      const p = y.data();
      y.dispose();
      const other = f(fromHost("f32", [256], new Float32Array(256).fill(i + 1000), "webgpu"));
      expect(Array.from(await p)).toEqual(Array.from({ length: 256 }, (_, j) => 2 * j + 1));
      other.dispose();
    }
  });
});
