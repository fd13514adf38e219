/**
 * Fused vs unfused steady time on WebGPU (or SMELT_BACKEND=cuda) for the fusion workloads
 * (W1 elementwise chain, W2 softmax, W3 layer norm, W5 MLP at DESIGN's sizes): the two
 * variants are called alternately, one timed call each per round, so a busy machine slows
 * both alike. Each call waits for the device (no read-back).
 *
 *   npx tsx scripts/fusion-speed.ts [runs=15] [W1,W2,...]
 */
import { type Tensor, getBackend, jit, np } from "../index.js";
import { initBackend } from "../frontend/init.js";
import type { BackendName } from "../runtime/backend.js";
import { median } from "../bench/timing.js";
import { type WorkloadId, workload } from "../bench/workloads.js";

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 15);
  const ids = (process.argv[3] ?? "W1,W2,W3,W5").split(",") as WorkloadId[];
  await initBackend((process.env.SMELT_BACKEND as BackendName | undefined) ?? "webgpu");
  const backend = getBackend();
  for (const id of ids) {
    const w = workload(id);
    const xs: Tensor[] = w.inputs().map((i) => np.array(i.data, { shape: i.shape }));
    const variants = [true, false].map((fuse) => ({ fuse, f: jit(w.fn, { fuse, name: `${id}_${fuse ? "fused" : "unfused"}` }), ms: [] as number[] }));
    for (const v of variants) {
      for (let i = 0; i < 2; i++) v.f(...xs).dispose();
      await backend.synchronize();
    }
    for (let r = 0; r < runs; r++)
      for (const v of variants) {
        const t0 = performance.now();
        const y = v.f(...xs);
        await backend.synchronize();
        v.ms.push(performance.now() - t0);
        y.dispose();
      }
    const [fused, unfused] = variants.map((v) => ({ ms: median(v.ms), kernels: v.f.lower(...xs).kernels.length }));
    console.log(
      `${id} ${w.title}: fused ${fused!.ms.toFixed(2)} ms (${fused!.kernels} kernels), unfused ${unfused!.ms.toFixed(2)} ms ` +
        `(${unfused!.kernels} kernels), speed-up ${(unfused!.ms / fused!.ms).toFixed(2)}× · median of ${runs}, interleaved`,
    );
    for (const x of xs) x.dispose();
  }
}

await main();
process.exit(0);
