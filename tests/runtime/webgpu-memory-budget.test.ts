/**
 * The device memory budget, `init({ memoryLimit })`: an allocation past it (an upload, or a
 * call's intermediates and results) is a DeviceOutOfMemoryError naming the request, the budget
 * and what is live, never a crash; nothing of the failed call stays allocated, and smaller
 * work goes on.
 */
import { beforeAll, describe, expect, test } from "vitest";
import type { Tensor } from "../../frontend/core.js";
import { fromHost } from "../../frontend/creation.js";
import { init } from "../../frontend/init.js";
import { jit, memoryStats } from "../../frontend/jit.js";
import * as np from "../../frontend/np.js";
import { DeviceOutOfMemoryError } from "../../index.js";
import type { WebGPUBackend } from "../../runtime/webgpu.js";
import { gpu } from "./webgpu-helpers.js";

const MiB = 2 ** 20;

describe.skipIf(!gpu)("a device memory budget on webgpu", () => {
  let be: WebGPUBackend;
  beforeAll(async () => {
    be = (await init({ backend: "webgpu", memoryLimit: MiB })) as WebGPUBackend;
  });

  test("an upload past the budget is a DeviceOutOfMemoryError naming the request, the budget and what is live", async () => {
    const before = memoryStats("webgpu");
    const small = fromHost("f32", [1024], new Float32Array(1024).fill(3), "webgpu");
    let err: unknown;
    try {
      fromHost("f32", [512 * 1024], new Float32Array(512 * 1024), "webgpu");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DeviceOutOfMemoryError);
    const oom = err as DeviceOutOfMemoryError;
    expect(oom.requestedBytes).toBe(2 * MiB);
    expect(oom.limitBytes).toBe(MiB);
    expect(oom.liveBytes).toBeGreaterThanOrEqual(4096);
    expect(oom.message).toMatch(/allocating 2\.0 MiB/);
    expect(oom.message).toMatch(/budget 1\.0 MiB/);
    expect(oom.message).toMatch(/live in \d+ buffer/);
    expect(memoryStats("webgpu", before).liveBuffers).toBe(1);
    // The backend carries on: the small tensor is intact and new work runs.
    expect(Array.from(await np.add(small, 1).data()).slice(0, 2)).toEqual([4, 4]);
    small.dispose();
  });

  test("a call whose result passes the budget fails cleanly, frees what it took, and smaller calls still work", async () => {
    const outer = jit((x: Tensor) => np.multiply(np.reshape(x, [-1, 1]), np.reshape(x, [1, -1])), { backend: "webgpu" });
    const big = fromHost("f32", [1024], Float32Array.from({ length: 1024 }, (_, i) => i), "webgpu");
    const mark = memoryStats("webgpu");
    const inUse = be.ctx.pool.inUseBytes;
    expect(() => outer(big)).toThrow(DeviceOutOfMemoryError);
    expect(() => outer(big)).toThrow(/allocating 4\.0 MiB.*budget 1\.0 MiB/);
    expect(memoryStats("webgpu", mark).liveBuffers).toBe(0);
    expect(be.ctx.pool.inUseBytes).toBe(inUse);
    big.dispose();
    const x = fromHost("f32", [3], Float32Array.of(1, 2, 3), "webgpu");
    expect(Array.from(await outer(x).data())).toEqual([1, 2, 3, 2, 4, 6, 3, 6, 9]);
  });

  test("init rejects a memoryLimit that is not a positive number of bytes", async () => {
    await expect(init({ backend: "webgpu", memoryLimit: -1 })).rejects.toThrow(/memoryLimit/);
  });
});
