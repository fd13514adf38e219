/**
 * After the WebGPU device is lost, the next `init` (or `initBackend`) opens a new device under
 * the same backend: jitted functions compile again and run on it, while tensors of the lost
 * device throw a DeviceLostError saying they belonged to it.
 */
import { describe, expect, test } from "vitest";
import type { Tensor } from "../../frontend/core.js";
import { fromHost } from "../../frontend/creation.js";
import { init } from "../../frontend/init.js";
import { jit, memoryStats } from "../../frontend/jit.js";
import * as np from "../../frontend/np.js";
import { DeviceLostError } from "../../index.js";
import type { WebGPUBackend } from "../../runtime/webgpu.js";
import { gpu } from "./webgpu-helpers.js";

describe.skipIf(!gpu)("device loss on webgpu", () => {
  test("after loss, init() opens a new device; calls run on it; tensors of the lost device say so", async () => {
    const be = (await init({ backend: "webgpu" })) as WebGPUBackend;
    const f = jit((x: Tensor) => np.add(np.multiply(x, 2), 1), { backend: "webgpu" });
    const x = fromHost("f32", [4], Float32Array.of(1, 2, 3, 4), "webgpu");
    const y = f(x);
    expect(Array.from(await y.data())).toEqual([3, 5, 7, 9]);

    const lost = be.ctx;
    lost.destroy();
    await lost.lost;
    expect(be.deviceLost).toBe(true);
    expect(() => f(x)).toThrow(DeviceLostError);

    expect(await init({ backend: "webgpu" })).toBe(be);
    expect(be.ctx).not.toBe(lost);
    expect(be.deviceLost).toBe(false);
    // Buffers of the lost device no longer count as live.
    expect(memoryStats("webgpu").liveBuffers).toBe(0);

    await expect(y.data()).rejects.toThrow(DeviceLostError);
    await expect(y.data()).rejects.toThrow(/belonged to a WebGPU device that was lost/);
    expect(() => f(x)).toThrow(/belonged to a WebGPU device that was lost/);
    y.dispose();

    const x2 = fromHost("f32", [4], Float32Array.of(10, 20, 30, 40), "webgpu");
    expect(Array.from(await f(x2).data())).toEqual([21, 41, 61, 81]);
    expect(Array.from(await np.subtract(x2, 5).data())).toEqual([5, 15, 25, 35]);
  });

  test("a call on a lost device fails at once and starts opening a new one, which init() then waits for", async () => {
    const be = (await init({ backend: "webgpu" })) as WebGPUBackend;
    const lost = be.ctx;
    lost.destroy();
    await lost.lost;
    expect(() => fromHost("f32", [2], Float32Array.of(1, 2), "webgpu")).toThrow(/a new device is being opened/);
    await init({ backend: "webgpu" });
    expect(be.ctx).not.toBe(lost);
    const t = fromHost("f32", [2], Float32Array.of(1, 2), "webgpu");
    expect(Array.from(await np.negative(t).data())).toEqual([-1, -2]);
  });
});
