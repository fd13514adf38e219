/**
 * Compiled programs own their device constants and free them when dropped: `dispose()` on an
 * executable or a compileIR result, a jit cache bounded by `cacheSize` (evicting the least
 * recently used signature), `f.clearCache()` and `clearCaches()`. Deterministic: no test
 * waits for the garbage collector.
 */
import { beforeAll, describe, expect, test } from "vitest";
import type { Tensor } from "../../frontend/core.js";
import { fromHost } from "../../frontend/creation.js";
import { initBackend } from "../../frontend/init.js";
import { DEFAULT_JIT_CACHE_SIZE, clearCaches, compileIR, jit, memoryStats } from "../../frontend/jit.js";
import * as np from "../../frontend/np.js";
import { hostArray } from "../../ir/dtype.js";
import { parseIRSync } from "../../ir/parse.js";
import { gpu } from "./webgpu-helpers.js";

const WITH_CONSTANT = `func @addc(%arg0: f32[4]) -> (f32[4]) {
  %0 = constant {value=[1, 2, 3, 4], shape=[4], dtype=f32} : f32[4]
  %1 = add %arg0, %0 : f32[4]
  return %1
}`;

describe.skipIf(!gpu)("compiled programs free their constants on webgpu", () => {
  beforeAll(async () => {
    await initBackend("webgpu");
  });

  test("an executable's dispose() frees its constants, and running it afterwards is a clear error", async () => {
    const before = gpu!.memoryStats();
    const exe = await gpu!.compileAsync(parseIRSync(WITH_CONSTANT));
    expect(gpu!.memoryStats(before).liveBuffers).toBe(1);
    const x = gpu!.upload(hostArray("f32", [4], [10, 20, 30, 40]));
    const [y] = exe.run([x]);
    expect(Array.from((await gpu!.read(y!)).data)).toEqual([11, 22, 33, 44]);
    gpu!.free(x);
    gpu!.free(y!);
    expect(exe.disposed).toBe(false);
    exe.dispose();
    exe.dispose();
    expect(exe.disposed).toBe(true);
    expect(gpu!.memoryStats(before)).toMatchObject({ liveBuffers: 0, liveBytes: 0 });
    expect(() => exe.run([gpu!.upload(hostArray("f32", [4]))])).toThrow(/@addc was disposed/);
  });

  test("200 compileIR results, each run and disposed, leave no live buffer", async () => {
    const before = memoryStats("webgpu");
    const x = fromHost("f32", [4], Float32Array.of(1, 1, 1, 1), "webgpu");
    for (let i = 0; i < 200; i++) {
      const f = compileIR(parseIRSync(WITH_CONSTANT), { backend: "webgpu" });
      const y = f(x);
      if (i === 199) expect(Array.from(await y.data())).toEqual([2, 3, 4, 5]);
      y.dispose();
      f.dispose();
    }
    x.dispose();
    expect(memoryStats("webgpu", before)).toMatchObject({ liveBuffers: 0, liveBytes: 0 });
  });

  test("a jit cache of size 4 called with 10 shapes keeps 4 programs; evicted ones free their constants", async () => {
    const before = memoryStats("webgpu");
    // The captured 4-element array is inlined into the graph: one device constant per compiled program.
    const offsets = fromHost("f32", [4], Float32Array.of(1, 2, 3, 4), "webgpu");
    const f = jit((x: Tensor) => np.add(x, offsets), { backend: "webgpu", cacheSize: 4 });
    const after = memoryStats("webgpu");
    for (let n = 1; n <= 10; n++) {
      const x = fromHost("f32", [n, 4], new Float32Array(4 * n), "webgpu");
      const y = f(x);
      if (n === 10) expect(Array.from((await y.data()).slice(-4))).toEqual([1, 2, 3, 4]);
      x.dispose();
      y.dispose();
    }
    expect(f.cacheSize).toBe(4);
    expect(f.traceCount).toBe(10);
    expect(memoryStats("webgpu", after).liveBuffers).toBe(4);
    // The most recently used signature is still cached: no new trace.
    const x10 = fromHost("f32", [10, 4], new Float32Array(40), "webgpu");
    f(x10).dispose();
    x10.dispose();
    expect(f.traceCount).toBe(10);
    f.clearCache();
    expect(f.cacheSize).toBe(0);
    expect(memoryStats("webgpu", after).liveBuffers).toBe(0);
    offsets.dispose();
    expect(memoryStats("webgpu", before).liveBuffers).toBe(0);
  });

  test("clearCaches() frees the programs of every jitted function, and they still run afterwards", async () => {
    const offsets = fromHost("f32", [4], Float32Array.of(1, 2, 3, 4), "webgpu");
    const f = jit((x: Tensor) => np.multiply(x, offsets), { backend: "webgpu" });
    const g = jit((x: Tensor) => np.subtract(x, offsets), { backend: "webgpu" });
    const x = fromHost("f32", [4], Float32Array.of(1, 1, 1, 1), "webgpu");
    const mark = memoryStats("webgpu");
    f(x).dispose();
    g(x).dispose();
    expect(memoryStats("webgpu", mark).liveBuffers).toBe(2);
    clearCaches();
    expect(memoryStats("webgpu", mark).liveBuffers).toBe(0);
    expect(Array.from(await f(x).data())).toEqual([1, 2, 3, 4]);
    expect(DEFAULT_JIT_CACHE_SIZE).toBe(64);
  });

  test("memoryStats reports the buffers the pool keeps idle", () => {
    const before = gpu!.memoryStats();
    const a = gpu!.upload(hostArray("f32", [1000]));
    gpu!.free(a);
    const after = gpu!.memoryStats(before);
    expect(after.liveBuffers).toBe(0);
    expect(after.pooledBuffers).toBeGreaterThanOrEqual(1);
    expect(after.pooledBytes).toBeGreaterThanOrEqual(4000);
  });
});
