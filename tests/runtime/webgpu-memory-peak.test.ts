/**
 * One memory story: the bytes a call takes from the device's pool at its peak are the
 * memory plan's peak, which is what the compiled program and the memory-plan pass report,
 * for every benchmark workload at test sizes, fused and unfused (with kernel scratch, which
 * the lowering adds and the dump then reports).
 */
import { beforeAll, describe, expect, test } from "vitest";
import { WORKLOAD_IDS, TINY_SIZES, workload } from "../../bench/workloads.js";
import { initBackend } from "../../frontend/init.js";
import { ShapeDtype, jit } from "../../frontend/jit.js";
import { getBackend } from "../../index.js";
import { inlineCalls } from "../../ir/inline.js";
import { planMemory } from "../../ir/memory-plan.js";
import type { WebGPUBackend } from "../../runtime/webgpu.js";
import { gpu } from "./webgpu-helpers.js";

describe.skipIf(!gpu)("memory plan on webgpu", () => {
  beforeAll(async () => {
    await initBackend("webgpu");
  });

  for (const id of WORKLOAD_IDS)
    for (const fuse of [true, false])
      test(`${id} ${fuse ? "fused" : "unfused"}: the pool's high-water mark during one call is the plan's peak`, async () => {
        const be = getBackend("webgpu") as WebGPUBackend;
        const w = workload(id, TINY_SIZES[id]);
        const host = w.inputs();
        const lowered = jit(w.fn, { backend: "webgpu", fuse }).lower(...host.map((h) => new ShapeDtype(h.shape, "f32")));
        const inputs = host.map((h) => be.upload({ dtype: "f32", shape: [...h.shape], data: h.data }));
        const pool = be.ctx.pool;
        const held = pool.inUseBytes;
        pool.resetHighWater();
        const outs = lowered.executable.run(inputs);
        const callPeak = pool.highWaterBytes - held;
        await Promise.all(outs.map((o) => be.read(o)));
        for (const b of [...inputs, ...outs]) be.free(b);
        console.log(`${id} ${fuse ? "fused" : "unfused"}: plan peak ${lowered.peakBytes} B, pool high-water ${callPeak} B`);
        expect(callPeak).toBe(lowered.peakBytes);
        // Kernel scratch (flash-decoding's partials, MoE's routing tables) joins the plan at lowering;
        // the dump then states the raised peak, so what it says is what a call takes.
        const passPeak = planMemory(inlineCalls(lowered.optimized)).peakBytes;
        expect(lowered.peakBytes).toBeGreaterThanOrEqual(passPeak);
        const dumped = [...lowered.dump("memory-plan").matchAll(/peak ([\d.]+ (?:B|KiB|MiB))/g)].map((m) => m[1]);
        expect(dumped.at(-1)).toBe(formatPeak(lowered.peakBytes));
      });
});

function formatPeak(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
