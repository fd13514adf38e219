/** `smelt kernels`: the kernel list of a compilation and each kernel's source, or (CUDA) its nvcc/ptxas statistics. */
import { renderGraphKernels } from "../codegen/render/index.js";
import { CUDA_SM80_TARGET } from "../codegen/target.js";
import type { Lowered } from "../frontend/jit.js";
import type { TunedChoice } from "../codegen/kernel.js";
import type { KernelInfo } from "../runtime/backend.js";
import { cudaKernelStats, formatKernelStats } from "../runtime/cuda-stats.js";

interface ListingOptions {
  /** Each kernel's registers, spills, shared memory, occupancy and main-loop mix instead of its source (CUDA only). */
  readonly stats?: boolean;
}

/** What `--target` lists: the kernels the active backend compiled, or a device-free compile for CUDA. */
const LISTINGS: { readonly [T in "wgsl" | "cuda"]: (lowered: Lowered, options: ListingOptions) => string } = {
  wgsl: (lowered, { stats }) => {
    if (stats) throw new Error("smelt kernels: --stats needs --target cuda (the statistics come from nvcc and ptxas)");
    const lines: string[] = [
      `// @${lowered.graph.name}: ${lowered.kernels.length} kernel(s) on ${lowered.backend}, peak ${lowered.peakBytes} bytes, ${formatFlops(lowered.flops)}`,
      ...summary(lowered.kernels),
    ];
    for (const k of lowered.kernels) {
      lines.push(`// kernel ${k.name}(${k.inputs.join(", ")}) -> (${k.outputs.join(", ")}) workgroups=[${k.workgroups.join(",")}]`);
      if (k.source) lines.push(k.source);
    }
    return lines.join("\n");
  },
  // CUDA source needs no device: the optimised graph is lowered for an sm_80-class target.
  cuda: (lowered, { stats }) => {
    const kernels = renderGraphKernels(lowered.optimized, CUDA_SM80_TARGET);
    return [
      `// @${lowered.graph.name}: ${kernels.length} CUDA kernel(s) for sm_80+`,
      ...kernels.flatMap((k) => [
        `// kernel ${k.name} grid=[${k.grid.join(",")}] block=[${k.block.join(",")}]`,
        stats ? formatKernelStats(cudaKernelStats(k.source, k.name, k.block)) : k.source,
      ]),
    ].join("\n");
  },
};

export function printKernels(lowered: Lowered, target: "wgsl" | "cuda", options: ListingOptions = {}): string {
  const listing = Object.hasOwn(LISTINGS, target) ? LISTINGS[target] : undefined;
  if (!listing) throw new Error(`smelt kernels: unknown --target '${target}' (expected ${Object.keys(LISTINGS).join(" or ")})`);
  return listing(lowered, options);
}

/**
 * One row per kernel: its source's lines, what creating its pipeline took in this process
 * (0 where an earlier kernel of the same code had made it, "-" where all were created together
 * ahead of time by `precompile`; a driver that compiles at the first dispatch, lavapipe, does
 * most of its work later) and, where the autotuner chose its tiling, the winner against the default.
 */
export function summary(kernels: readonly KernelInfo[]): string[] {
  const width = Math.max(6, ...kernels.map((k) => k.name.length));
  const rows = kernels.map((k) => {
    const lines = k.source ? k.source.split("\n").length : 0;
    const ms = k.pipelineMs === undefined ? "-" : k.pipelineMs.toFixed(1);
    const flops = k.flops ? shortCount(k.flops) : "-";
    return `// ${k.name.padEnd(width)} ${String(lines).padStart(6)} ${ms.padStart(12)} ${flops.padStart(7)}  ${k.tuned ? describeTuning(k.tuned) : ""}`.trimEnd();
  });
  return [`// ${"kernel".padEnd(width)} ${"lines".padStart(6)} ${"pipeline ms".padStart(12)} ${"FLOPs".padStart(7)}  tiling`, ...rows];
}

/** 3 significant digits and an SI prefix: 384, 3.07k, 2.15G. */
export function shortCount(n: number): string {
  const [div, unit] = n >= 1e12 ? [1e12, "T"] : n >= 1e9 ? [1e9, "G"] : n >= 1e6 ? [1e6, "M"] : n >= 1e3 ? [1e3, "k"] : [1, ""];
  return div === 1 ? String(n) : `${(n / div).toPrecision(3)}${unit}`;
}

/** A program's contraction FLOPs for a listing's header. */
export function formatFlops(flops: number): string {
  return `${shortCount(flops)} FLOPs in matrix and attention products`;
}

/** "16×32 subgroup tile (0.81× the default's time), autotuned: 32×32 subgroup tile 11.0 ms, 16×32 subgroup tile 8.9 ms, 8×32 subgroup tile 12.5 ms". */
export function describeTuning(t: TunedChoice): string {
  const win = t.times.find((x) => x.label === t.winner);
  const def = t.times[0]!;
  const gain = win && win !== def ? ` (${(win.ms / def.ms).toFixed(2)}× the default's time)` : " (the default)";
  const ms = (x: number) => (Number.isFinite(x) ? `${x < 10 ? x.toFixed(2) : x.toFixed(1)} ms` : "did not run");
  return `${t.winner}${gain}, autotuned: ${t.times.map((x) => `${x.label} ${ms(x.ms)}`).join(", ")}`;
}
