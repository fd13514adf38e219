/**
 * Timing kernel candidates on a WebGPU device for the autotuner (runtime/autotune.ts). All
 * candidates' pipelines are created at once; each then runs once untimed (a driver that
 * compiles at the first dispatch, lavapipe, does so there), and then in rounds where the
 * candidates take turns, each sample a submit of enough back-to-back dispatches to last
 * about SAMPLE_MS, timed from the host to the queue's completion.
 */
import type { Kernel } from "../codegen/kernel.js";
import { renderKernel } from "../codegen/render/index.js";
import type { KernelTimer } from "./autotune.js";
import { debugLog } from "./debug.js";
import type { WebGPUBackend } from "./webgpu.js";
import type { GPUDeviceContext, Launch } from "./webgpu-device.js";

/** Milliseconds one sample aims for, so the host's timing overhead stays small beside it. */
const SAMPLE_MS = 10;
/** Dispatches one sample holds at most. */
const MAX_REPEATS = 64;

export class WebGPUKernelTimer implements KernelTimer {
  readonly device: string;
  constructor(private readonly backend: WebGPUBackend) {
    this.device = backend.tuningDevice();
  }

  async time(kernels: readonly Kernel[], bytes: readonly number[], rounds: number): Promise<number[]> {
    const ctx = this.backend.alive();
    const access = kernels[0]!.bindings.map((b) => b.access);
    const sources = kernels.map((k) => renderKernel(ctx.target, k));
    const pipelines = await Promise.all(kernels.map((k, i) => ctx.pipelineAsync(k.name, sources[i]!, access)));
    const errors = await Promise.all(pipelines.map((p) => p.status));
    const buffers = bytes.map((b) => ctx.acquire(Math.max(4, b)));
    try {
      const launch = (i: number): Launch => ({
        name: kernels[i]!.name, source: sources[i]!, access, grid: kernels[i]!.grid, buffers, pipeline: pipelines[i]!,
      });
      const usable = kernels.map((k, i) => {
        if (errors[i]) debugLog(1, `autotune: a candidate of ${k.name} does not compile: ${errors[i]!.message}`);
        return !errors[i];
      });
      // Untimed first runs (the default must run), then one of the default's to size the samples.
      if (!usable[0]) return kernels.map(() => Infinity);
      await sample(ctx, launch(0), 1);
      for (let i = 1; i < kernels.length; i++)
        if (usable[i]) usable[i] = Number.isFinite(await sample(ctx, launch(i), 1).catch(() => Infinity));
      const once = await sample(ctx, launch(0), 1);
      const repeats = Math.max(1, Math.min(MAX_REPEATS, Math.ceil(SAMPLE_MS / Math.max(once, 1e-3))));
      const samples: number[][] = kernels.map(() => []);
      for (let r = 0; r < rounds; r++)
        for (let i = 0; i < kernels.length; i++) if (usable[i]) samples[i]!.push(await sample(ctx, launch(i), repeats));
      return samples.map((s, i) => (usable[i] ? median(s) : Infinity));
    } finally {
      for (const b of buffers) ctx.release(b);
    }
  }
}

/** Ms per dispatch of `repeats` dispatches of `l` in one submit, from submit to completion. */
async function sample(ctx: GPUDeviceContext, l: Launch, repeats: number): Promise<number> {
  const t0 = performance.now();
  const submitted = ctx.submit(Array.from({ length: repeats }, () => l), `autotune ${l.name}`);
  await ctx.synchronize();
  const err = await submitted;
  if (err) throw err;
  return (performance.now() - t0) / repeats;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}
