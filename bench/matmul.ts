/**
 * W4: f32 1024×1024×1024 matmul through the generated dot_general kernel, with a plain copy
 * kernel's bandwidth measured in the same run so the two can be compared on any machine.
 * A benchmark, not a test: it prints; nothing asserts on time.
 *
 * The two are timed alternately (copy, matmul, copy, ...) so both see the same machine
 * load, and besides wall time each launch's process CPU time is recorded: on a CPU adapter
 * (lavapipe runs kernels on this process's threads) GFLOP per CPU-second, times the core
 * count, is what the kernel would reach on an idle machine, and stays readable on a shared one.
 */
import { availableParallelism, loadavg } from "node:os";
import { matmulKernel, type MatmulTile } from "../codegen/matmul.js";
import { BodyBuilder, type Kernel, add, id, imul, iadd, load, lt, u32 } from "../codegen/kernel.js";
import { gridFor, linearGroupId } from "../codegen/indexing.js";
import { renderWGSL } from "../codegen/render/wgsl.js";
import { GPUDeviceContext, type Launch } from "../runtime/webgpu-device.js";

export interface MatmulBenchResult {
  readonly device: string;
  readonly size: number;
  /** Median over `runs` timed launches, after warm-up. */
  readonly gflops: number;
  readonly matmulMs: number;
  readonly copyGBs: number;
  readonly copyMs: number;
  readonly runs: number;
  readonly maxError: number;
  /** gflops / copyGBs: comparable across machines and loads. */
  readonly ratio: number;
  /** GFLOP per CPU-second × cores (CPU adapters: the idle-machine rate); undefined when CPU time is not this process's. */
  readonly cpuGflops: number;
  /** 1-minute load average at the end of the run. */
  readonly load: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Copies n f32 with 256 invocations per workgroup: the bandwidth yardstick. */
export function copyKernel(n: number, ctx: GPUDeviceContext): Kernel {
  const grid = gridFor(Math.ceil(n / 256), ctx.target);
  const b = new BodyBuilder();
  const i = b.let("i", iadd(imul(linearGroupId(grid), u32(256)), id("local", 0)));
  b.if(lt(i, u32(n)), (x) => x.store("dst", i, load("f32", "src", i)));
  return {
    name: "copy", source: `copy f32[${n}]`, workgroupSize: [256, 1, 1], grid, shared: [],
    bindings: [{ name: "src", dtype: "f32", access: "read" }, { name: "dst", dtype: "f32", access: "read_write" }],
    body: b.stmts,
  };
}

export function matmulBenchKernel(size: number, ctx: GPUDeviceContext, tile?: MatmulTile): Kernel {
  return matmulKernel({
    name: "dot_general", source: `dot_general f32[${size},${size}] x f32[${size},${size}]`, dtype: "f32",
    batch: 1, m: size, n: size, k: size,
    bindings: [
      { name: "lhs", dtype: "f32", access: "read" },
      { name: "rhs", dtype: "f32", access: "read" },
      { name: "out", dtype: "f32", access: "read_write" },
    ],
    lhs: { name: "lhs", kContiguous: true, addr: (_b, _bat, m, k) => add(imul(m, u32(size)), k), strides: { row: size, col: 1, baseAlign: 0 } },
    rhs: { name: "rhs", nContiguous: true, addr: (_b, _bat, k, n) => add(imul(k, u32(size)), n), strides: { row: size, col: 1, baseAlign: 0 } },
    out: "out",
  }, ctx.target, tile);
}

interface LaunchTime {
  readonly wallMs: number;
  readonly cpuMs: number;
}

async function timeOnce(ctx: GPUDeviceContext, launch: Launch): Promise<LaunchTime> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const err = ctx.submit([launch], launch.name);
  await ctx.synchronize();
  const e = await err;
  if (e) throw e;
  const c = process.cpuUsage(c0);
  return { wallMs: performance.now() - t0, cpuMs: (c.user + c.system) / 1000 };
}

/** `runs` timed launches of each, alternating, after two warm-ups each. */
async function timeAlternating(ctx: GPUDeviceContext, a: Launch, b: Launch, runs: number): Promise<[LaunchTime[], LaunchTime[]]> {
  const ta: LaunchTime[] = [], tb: LaunchTime[] = [];
  for (let r = -2; r < runs; r++) {
    const x = await timeOnce(ctx, a), y = await timeOnce(ctx, b);
    if (r >= 0) ta.push(x), tb.push(y);
  }
  return [ta, tb];
}

/**
 * The copy kernel's bandwidth over `bytes` (read and written, as benchMatmul's copyGBs):
 * median of `runs` launches after two warm-ups, on a device of its own.
 */
export async function copyBandwidth(bytes: number, runs: number): Promise<{ gbs: number; ms: number }> {
  const ctx = await GPUDeviceContext.open();
  const n = Math.ceil(bytes / 4);
  const src = ctx.acquire(4 * n), dst = ctx.acquire(4 * n);
  try {
    ctx.write(src, new Float32Array(n).fill(1));
    const ck = copyKernel(n, ctx);
    const copy: Launch = { name: "copy", source: renderWGSL(ck), access: ["read", "read_write"], grid: ck.grid, buffers: [src, dst] };
    const times: number[] = [];
    for (let r = -2; r < runs; r++) {
      const t = await timeOnce(ctx, copy);
      if (r >= 0) times.push(t.wallMs);
    }
    const ms = median(times);
    return { gbs: (2 * 4 * n) / (ms * 1e6), ms };
  } finally {
    src.destroy(), dst.destroy();
    ctx.destroy();
  }
}

export async function benchMatmul(options: { size?: number; runs?: number; tile?: MatmulTile; quiet?: boolean } = {}): Promise<MatmulBenchResult> {
  const size = options.size ?? 1024;
  const runs = options.runs ?? 11;
  const ctx = await GPUDeviceContext.open();
  const n = size * size;
  const a = new Float32Array(n), bm = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a[i] = ((i * 7919) % 13) / 13 - 0.5;
    bm[i] = ((i * 104729) % 17) / 17 - 0.5;
  }
  const bufA = ctx.acquire(4 * n), bufB = ctx.acquire(4 * n), bufC = ctx.acquire(4 * n);
  ctx.write(bufA, a);
  ctx.write(bufB, bm);

  const mk = matmulBenchKernel(size, ctx, options.tile);
  const mm: Launch = { name: mk.name, source: renderWGSL(mk), access: ["read", "read", "read_write"], grid: mk.grid, buffers: [bufA, bufB, bufC] };
  const compileErr = await ctx.pipeline(mm.name, mm.source, mm.access).status;
  if (compileErr) throw compileErr;
  const ck = copyKernel(n, ctx);
  const copy: Launch = { name: "copy", source: renderWGSL(ck), access: ["read", "read_write"], grid: ck.grid, buffers: [bufA, bufC] };
  const [copyTimes, mmTimes] = await timeAlternating(ctx, copy, mm, runs);

  // Spot-check a few entries against a float64 dot product (the matmul ran last).
  const c = new Float32Array(await ctx.read(bufC, 4 * n));
  let maxError = 0;
  for (const [i, j] of [[0, 0], [size - 1, size - 1], [size >> 1, 3], [7, size - 2]] as const) {
    let s = 0;
    for (let k = 0; k < size; k++) s += a[i * size + k]! * bm[k * size + j]!;
    maxError = Math.max(maxError, Math.abs(s - c[i * size + j]!));
  }

  const matmulMs = median(mmTimes.map((x) => x.wallMs)), copyMs = median(copyTimes.map((x) => x.wallMs));
  const gflops = (2 * size ** 3) / (matmulMs * 1e6), copyGBs = (2 * 4 * n) / (copyMs * 1e6);
  const result: MatmulBenchResult = {
    device: ctx.description, size, runs, matmulMs, copyMs, maxError, gflops, copyGBs,
    ratio: gflops / copyGBs,
    cpuGflops: ((2 * size ** 3) / (median(mmTimes.map((x) => x.cpuMs)) * 1e6)) * availableParallelism(),
    load: loadavg()[0]!,
  };
  for (const buf of [bufA, bufB, bufC]) buf.destroy();
  ctx.destroy();
  if (!options.quiet)
    console.log(
      `matmul f32 ${size}³: ${result.gflops.toFixed(1)} GFLOP/s (${matmulMs.toFixed(1)} ms) · ` +
        `copy: ${result.copyGBs.toFixed(2)} GB/s (${copyMs.toFixed(2)} ms) · ratio ${result.ratio.toFixed(2)} GFLOP/GB · ` +
        `${result.cpuGflops.toFixed(1)} GFLOP per CPU-second × ${availableParallelism()} cores · median of ${runs} · ` +
        `load ${result.load.toFixed(2)} · max |err| ${maxError.toExponential(1)} · ${result.device}`,
    );
  return result;
}
