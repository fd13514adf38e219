/**
 * What a GPU would make of a CUDA kernel, found without one: nvcc compiles the kernel to PTX
 * (compute_80, the virtual architecture CUDA_SM80_TARGET renders for), ptxas assembles that
 * PTX for sm_80 and sm_90 and reports registers, spills, stack and static shared memory (the
 * runtime builds an H100's SASS from compute_90 PTX, which for these kernels differs from
 * compute_80's only in its .target line),
 * theoretical occupancy follows from those figures and each architecture's limits, and the
 * PTX of the main loop gives its instruction mix: FMAs, and loads by memory space and width.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compileCudaModule, findNvcc, findPtxas } from "./cuda-compile.js";

/**
 * An architecture's occupancy limits. Figures: CUDA C++ Programming Guide, "Technical
 * Specifications per Compute Capability" (8.0 and 9.0), and the allocation rules of the
 * occupancy calculator as the toolkit ships them in cuda_occupancy.h
 * (cudaOccMaxBlocksPerSMRegsLimit, cudaOccMaxBlocksPerSMSmemLimit).
 */
export interface SmLimits {
  readonly sm: number;
  readonly gpu: string;
  readonly regsPerSM: number;
  readonly regsPerBlock: number;
  /** Registers are granted per warp in units of this many (cudaOccRegAllocationGranularity). */
  readonly regAllocUnit: number;
  readonly maxRegsPerThread: number;
  /** The register file is split across this many sub-partitions, each holding whole warps. */
  readonly subPartitions: number;
  readonly maxThreadsPerSM: number;
  readonly maxThreadsPerBlock: number;
  readonly maxBlocksPerSM: number;
  /** The largest shared-memory carveout; the driver picks the carveout a launch needs. */
  readonly sharedPerSM: number;
  readonly sharedPerBlock: number;
  /** Shared memory the driver reserves for each resident block (reservedSharedMemPerBlock). */
  readonly reservedSharedPerBlock: number;
  readonly sharedAllocUnit: number;
}

const KB = 1024;
export const SM80: SmLimits = {
  sm: 80, gpu: "A100", regsPerSM: 65536, regsPerBlock: 65536, regAllocUnit: 256, maxRegsPerThread: 255, subPartitions: 4,
  maxThreadsPerSM: 2048, maxThreadsPerBlock: 1024, maxBlocksPerSM: 32,
  sharedPerSM: 164 * KB, sharedPerBlock: 163 * KB, reservedSharedPerBlock: 1 * KB, sharedAllocUnit: 128,
};
export const SM90: SmLimits = {
  sm: 90, gpu: "H100", regsPerSM: 65536, regsPerBlock: 65536, regAllocUnit: 256, maxRegsPerThread: 255, subPartitions: 4,
  maxThreadsPerSM: 2048, maxThreadsPerBlock: 1024, maxBlocksPerSM: 32,
  sharedPerSM: 228 * KB, sharedPerBlock: 227 * KB, reservedSharedPerBlock: 1 * KB, sharedAllocUnit: 128,
};
export const STATS_ARCHS: readonly SmLimits[] = [SM80, SM90];

export type OccupancyLimiter = "registers" | "shared" | "threads" | "blocks";

export interface Occupancy {
  readonly blocksPerSM: number;
  readonly warpsPerSM: number;
  readonly maxWarpsPerSM: number;
  /** warpsPerSM / maxWarpsPerSM. */
  readonly fraction: number;
  /** The limits that allow no more blocks than blocksPerSM (ties name several). */
  readonly limitedBy: readonly OccupancyLimiter[];
  /** Blocks per SM each resource alone would allow. */
  readonly limits: { readonly [L in OccupancyLimiter]: number };
}

const roundUp = (n: number, unit: number) => Math.ceil(n / unit) * unit;

/** Theoretical occupancy, as cuda_occupancy.h computes it (partitioned global caching off). */
export function occupancy(arch: SmLimits, use: { registers: number; sharedBytes: number; threads: number }): Occupancy {
  const warpSize = 32;
  const warpsPerBlock = Math.ceil(use.threads / warpSize);
  const maxWarpsPerSM = arch.maxThreadsPerSM / warpSize;
  const regsPerWarp = roundUp(use.registers * warpSize, arch.regAllocUnit);
  // The hardware check assumes a block's warps are spread over every sub-partition.
  const regsFit = use.registers <= arch.maxRegsPerThread &&
    regsPerWarp * roundUp(warpsPerBlock, arch.subPartitions) <= arch.regsPerBlock;
  const warpsPerSubPartition = Math.floor(arch.regsPerSM / arch.subPartitions / regsPerWarp);
  const registers = !regsFit ? 0 : regsPerWarp === 0 ? Infinity
    : Math.floor((warpsPerSubPartition * arch.subPartitions) / warpsPerBlock);
  // The reserved kilobyte counts against the SM's shared memory but not against the per-block cap (cudaOccSMemPerBlock adds it to the cap).
  const sharedPerBlock = roundUp(use.sharedBytes + arch.reservedSharedPerBlock, arch.sharedAllocUnit);
  const shared = sharedPerBlock > arch.sharedPerBlock + arch.reservedSharedPerBlock ? 0 : Math.floor(arch.sharedPerSM / sharedPerBlock);
  const threads = use.threads > arch.maxThreadsPerBlock ? 0 : Math.floor(maxWarpsPerSM / warpsPerBlock);
  const limits = { registers, shared, threads, blocks: arch.maxBlocksPerSM };
  const blocksPerSM = Math.min(...Object.values(limits));
  const warpsPerSM = blocksPerSM * warpsPerBlock;
  return {
    blocksPerSM, warpsPerSM, maxWarpsPerSM, fraction: warpsPerSM / maxWarpsPerSM, limits,
    limitedBy: (Object.keys(limits) as OccupancyLimiter[]).filter((l) => limits[l] === blocksPerSM),
  };
}

/** What ptxas -v reports for one entry function on one architecture. */
export interface PtxasUsage {
  readonly registers: number;
  readonly spillStores: number;
  readonly spillLoads: number;
  readonly stackFrame: number;
  readonly sharedBytes: number;
  readonly barriers: number;
}

/** Reads ptxas -v's report of `entry` (its lines after "Compiling entry function 'entry'"). */
export function parsePtxasUsage(report: string, entry: string): PtxasUsage {
  const sections = report.split(/^.*Compiling entry function '/m).slice(1);
  const text = sections.find((s) => s.startsWith(`${entry}'`));
  if (!text) throw new Error(`ptxas reported nothing for entry function ${entry}:\n${report}`);
  const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
  return {
    registers: num(/Used (\d+) registers/),
    spillStores: num(/(\d+) bytes spill stores/),
    spillLoads: num(/(\d+) bytes spill loads/),
    stackFrame: num(/(\d+) bytes stack frame/),
    sharedBytes: num(/(\d+) bytes smem/),
    barriers: num(/used (\d+) barriers/),
  };
}

/** Instruction counts; a load or store is counted per instruction, by the bits one thread moves. */
export interface InstructionMix {
  readonly instructions: number;
  /** fma by opcode (fma.rn.f32, fma.rn.f16x2, ...). */
  readonly fma: Readonly<Record<string, number>>;
  /** ld.shared and ldmatrix, by bits per thread. */
  readonly ldShared: Readonly<Record<number, number>>;
  /** ld.global (and .nc), by bits per thread. */
  readonly ldGlobal: Readonly<Record<number, number>>;
  readonly stShared: Readonly<Record<number, number>>;
  readonly stGlobal: Readonly<Record<number, number>>;
  /** cp.async global→shared copies, by bits (4, 8 or 16 bytes). */
  readonly cpAsync: Readonly<Record<number, number>>;
  /** Block-wide barriers: bar.sync, barrier.sync, bar.arrive, bar.red. */
  readonly barriers: number;
}

const TYPE_BITS: Readonly<Record<string, number>> = {
  b8: 8, u8: 8, s8: 8, b16: 16, u16: 16, s16: 16, f16: 16, bf16: 16,
  b32: 32, u32: 32, s32: 32, f32: 32, f16x2: 32, bf16x2: 32, tf32: 32,
  b64: 64, u64: 64, s64: 64, f64: 64, b128: 128,
};

/** Bits one thread moves with a ld/st opcode such as `ld.global.nc.v4.f32` or `ldmatrix.sync.aligned.m8n8.x4.shared.b16`. */
function accessBits(parts: readonly string[]): number {
  const type = TYPE_BITS[parts[parts.length - 1]!] ?? 0;
  const vec = Number(parts.find((p) => /^v\d$/.test(p))?.slice(1) ?? 1);
  if (parts[0] === "ldmatrix") return 32 * Number(parts.find((p) => /^x\d$/.test(p))?.slice(1) ?? 1);
  return type * vec;
}

const tally = (m: Record<number | string, number>, key: number | string) => void (m[key] = (m[key] ?? 0) + 1);

/** The mix of some PTX instruction lines (labels, directives and comments are skipped). */
export function instructionMix(lines: readonly string[]): InstructionMix {
  const mix: { -readonly [K in keyof InstructionMix]: InstructionMix[K] } = {
    instructions: 0, fma: {}, ldShared: {}, ldGlobal: {}, stShared: {}, stGlobal: {}, cpAsync: {}, barriers: 0,
  };
  for (const line of lines) {
    const m = /^\s*(?:@!?%\w+\s+)?([a-z][\w.:]*)(.*)$/.exec(line.replace(/\/\/.*/, ""));
    if (!m || line.trimEnd().endsWith(":")) continue;
    const [, opcode, operands] = m as unknown as [string, string, string];
    mix.instructions++;
    const parts = opcode.split(".");
    const space = parts.find((p) => /^(shared|global)(::\w+)?$/.test(p))?.replace(/::.*/, "");
    if (parts[0] === "fma") tally(mix.fma, opcode);
    else if ((parts[0] === "ld" || parts[0] === "ldmatrix") && space === "shared") tally(mix.ldShared, accessBits(parts));
    else if (parts[0] === "ld" && space === "global") tally(mix.ldGlobal, accessBits(parts));
    else if (parts[0] === "st" && space === "shared") tally(mix.stShared, accessBits(parts));
    else if (parts[0] === "st" && space === "global") tally(mix.stGlobal, accessBits(parts));
    else if (parts[0] === "cp" && parts[1] === "async" && (parts[2] === "ca" || parts[2] === "cg"))
      tally(mix.cpAsync, 8 * Number(operands.split(",")[2]?.trim().replace(/;$/, "") ?? 0));
    else if (/^bar(rier)?$/.test(parts[0]!) && parts[1] !== "warp") mix.barriers++;
  }
  return mix;
}

const count = (widths: Readonly<Record<number | string, number>>) => Object.values(widths).reduce((a, b) => a + b, 0);

/** A loop in PTX: a label that a later branch jumps back to; its body runs to the last such branch. */
export interface PtxLoop {
  readonly label: string;
  /** Line indices of the label and of the last backward branch to it. */
  readonly start: number;
  readonly end: number;
  /** How many loops enclose this one (0: outermost). */
  readonly depth: number;
  /** Labels of the loops inside this one. */
  readonly contains: readonly string[];
  /** Static counts over the body, each nested loop's body counted once. */
  readonly mix: InstructionMix;
}

/** The instruction lines of entry function `entry` (the whole text when it has no such entry). */
function entryLines(ptx: string, entry: string | undefined): string[] {
  const lines = ptx.split("\n");
  const head = entry === undefined ? -1 : lines.findIndex((l) => new RegExp(`\\.entry\\s+${entry}\\s*\\(`).test(l));
  if (head < 0) return lines;
  let depth = 0, open = -1;
  for (let i = head; i < lines.length; i++) {
    for (const ch of lines[i]!.replace(/\/\/.*/, "")) {
      if (ch === "{") depth++, open = open < 0 ? i : open;
      else if (ch === "}" && --depth === 0 && open >= 0) return lines.slice(open + 1, i);
    }
  }
  return lines.slice(head);
}

/** Every loop of an entry function (or of the whole PTX), outer loops first. */
export function ptxLoops(ptx: string, entry?: string): PtxLoop[] {
  const lines = entryLines(ptx, entry);
  const labels = new Map<string, number>();
  lines.forEach((l, i) => {
    const m = /^\s*([$%\w]+):/.exec(l);
    if (m) labels.set(m[1]!, i);
  });
  const ends = new Map<string, number>();
  lines.forEach((l, i) => {
    const m = /^\s*(?:@!?%\w+\s+)?bra(?:\.uni)?\s+([$%\w]+)\s*;/.exec(l);
    const at = m ? labels.get(m[1]!) : undefined;
    if (m && at !== undefined && at < i) ends.set(m[1]!, Math.max(ends.get(m[1]!) ?? 0, i));
  });
  const spans = [...ends].map(([label, end]) => ({ label, start: labels.get(label)!, end })).sort((a, b) => a.start - b.start);
  const inside = (a: { start: number; end: number }, b: { start: number; end: number }) => a !== b && b.start <= a.start && a.end <= b.end;
  return spans.map((s) => ({
    ...s,
    depth: spans.filter((o) => inside(s, o)).length,
    contains: spans.filter((o) => inside(o, s)).map((o) => o.label),
    mix: instructionMix(lines.slice(s.start + 1, s.end + 1)),
  }));
}

const globalLoads = (mix: InstructionMix) => count(mix.ldGlobal) + count(mix.cpAsync);

/**
 * The main loop: the loop with the most FMAs, then the most global loads (a reduction's),
 * then the outermost, so that in a tiled matmul it is the loop over k tiles with its tile
 * copies rather than the loop over one tile nested in it.
 */
export function mainLoop(loops: readonly PtxLoop[]): PtxLoop | undefined {
  const key = (l: PtxLoop) => [count(l.mix.fma), globalLoads(l.mix), -l.depth];
  return loops.reduce<PtxLoop | undefined>((best, l) => {
    if (!best) return l;
    const [a, b] = [key(l), key(best)];
    const i = a.findIndex((x, j) => x !== b[j]);
    return i >= 0 && a[i]! > b[i]! ? l : best;
  }, undefined);
}

export interface ArchStats extends PtxasUsage {
  readonly arch: SmLimits;
  readonly occupancy: Occupancy;
}

export interface KernelStats {
  readonly name: string;
  readonly block: readonly number[];
  readonly threads: number;
  /** sm_80 then sm_90. */
  readonly archs: readonly ArchStats[];
  readonly loops: readonly PtxLoop[];
  readonly mainLoop: PtxLoop | undefined;
  /** The whole kernel's instructions (what a kernel without loops, a fully unrolled row, is judged by). */
  readonly kernelMix: InstructionMix;
}

/** Per-thread FMAs per shared-memory load instruction in a loop (Infinity with no shared load). */
export function fmasPerSharedLoad(mix: InstructionMix): number {
  return count(mix.fma) / count(mix.ldShared);
}

/** Runs ptxas -v on PTX for one architecture. */
function ptxasUsage(ptxas: string, ptx: string, sm: number, entry: string): PtxasUsage {
  const dir = mkdtempSync(join(tmpdir(), "smelt-ptxas-"));
  try {
    const file = join(dir, "kernel.ptx");
    writeFileSync(file, ptx);
    const r = spawnSync(ptxas, ["-v", `-arch=sm_${sm}`, "-o", join(dir, "kernel.cubin"), file], { encoding: "utf8" });
    const report = `${r.stdout ?? ""}${r.stderr ?? ""}${r.error?.message ?? ""}`;
    if (r.status !== 0) throw new Error(`ptxas failed on ${entry} for sm_${sm}:\n${report}`);
    return parsePtxasUsage(report, entry);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const statsCache = new Map<string, KernelStats>();

/**
 * Statistics of one rendered CUDA kernel: nvcc → PTX (cached on disk as compiled modules are),
 * ptxas -v for sm_80 and sm_90, occupancy from those, and the PTX's loops. Cached in memory
 * by the source. Throws when nvcc or ptxas is missing or rejects the kernel.
 */
export function cudaKernelStats(source: string, name: string, block: readonly number[], dynamicSharedBytes = 0): KernelStats {
  const key = createHash("sha256").update(`${name}\n${block.join(",")}\n${dynamicSharedBytes}\n${source}`).digest("hex");
  const hit = statsCache.get(key);
  if (hit) return hit;
  const nvcc = findNvcc();
  if (!nvcc) throw new Error("kernel statistics need nvcc (set SMELT_NVCC or CUDA_HOME, or put the CUDA toolkit's bin on PATH)");
  const ptxas = findPtxas(nvcc);
  if (!ptxas) throw new Error(`kernel statistics need ptxas, which is not beside ${nvcc}`);
  const image = compileCudaModule({ source, kernels: [name], sm: 80, format: "ptx", nvcc }).image;
  const ptx = new TextDecoder().decode(image[image.length - 1] === 0 ? image.subarray(0, -1) : image);
  const threads = block.reduce((a, b) => a * b, 1);
  const archs = STATS_ARCHS.map((arch) => {
    const usage = ptxasUsage(ptxas, ptx, arch.sm, name);
    return { ...usage, arch, occupancy: occupancy(arch, { registers: usage.registers, sharedBytes: usage.sharedBytes + dynamicSharedBytes, threads }) };
  });
  const loops = ptxLoops(ptx, name);
  const stats: KernelStats = { name, block, threads, archs, loops, mainLoop: mainLoop(loops), kernelMix: instructionMix(entryLines(ptx, name)) };
  statsCache.set(key, stats);
  return stats;
}

/** `32×32-bit 4×128-bit`, widest first; `none` for no access. */
function widths(w: Readonly<Record<number, number>>): string {
  const keys = Object.keys(w).map(Number).sort((a, b) => b - a);
  return keys.length ? keys.map((bits) => `${w[bits]}×${bits}-bit`).join(" ") : "none";
}

/** One block of text per kernel: resources and occupancy per architecture, then the main loop's mix. */
export function formatKernelStats(s: KernelStats): string {
  const rows: [string, (a: ArchStats) => string][] = [
    ["registers/thread", (a) => `${a.registers}`],
    ["spills st/ld", (a) => `${a.spillStores} / ${a.spillLoads} B`],
    ["stack frame", (a) => `${a.stackFrame} B`],
    ["shared memory", (a) => `${a.sharedBytes} B`],
    ["blocks/SM", (a) => `${a.occupancy.blocksPerSM} (${a.occupancy.limitedBy.join(", ")})`],
    ["warps/SM", (a) => `${a.occupancy.warpsPerSM}/${a.occupancy.maxWarpsPerSM} = ${Math.round(a.occupancy.fraction * 100)}%`],
  ];
  const col = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(18) : c.padEnd(24))).join("").trimEnd();
  const out = [
    `${s.name}: block ${s.block.join("×")} = ${s.threads} threads`,
    `  ${col(["", ...s.archs.map((a) => `sm_${a.arch.sm} (${a.arch.gpu})`)])}`,
    ...rows.map(([label, cell]) => `  ${col([label, ...s.archs.map(cell)])}`),
  ];
  const l = s.mainLoop;
  if (!l) out.push(`  main loop: none (no backward branch in the PTX)`);
  else {
    const fma = Object.entries(l.mix.fma).map(([op, n]) => `${n} ${op}`).join(" ") || "0 fma";
    const ratio = fmasPerSharedLoad(l.mix);
    out.push(
      `  main loop ${l.label}${l.contains.length ? ` (contains ${l.contains.join(", ")})` : ""}, static counts over its body:`,
      `    ${fma}; ${l.mix.instructions} instructions; FMAs per shared load ${Number.isFinite(ratio) ? ratio.toFixed(1) : "n/a"}`,
      `    ld.shared ${widths(l.mix.ldShared)}; ld.global ${widths(l.mix.ldGlobal)}${count(l.mix.cpAsync) ? `; cp.async ${widths(l.mix.cpAsync)}` : ""}`,
      `    st.shared ${widths(l.mix.stShared)}; st.global ${widths(l.mix.stGlobal)}; barriers ${l.mix.barriers}`,
    );
  }
  return out.join("\n");
}

/** What a kernel is judged as: a tiled product (a matmul, or flash attention's two per key tile) or a row reduction. */
export type GpuGradeKind = "matmul" | "attention" | "reduction";

/**
 * The issue-16 static bar a kernel must clear to be called GPU-grade, as messages naming what
 * falls short (empty when it clears it): no spills on sm_80 or sm_90; a matmul's or flash
 * attention's main loop (for attention, the loop over key tiles) does ≥ 8 FMAs per shared
 * load, loads shared and global memory only 128 bits at a time, the kernel keeps no stack
 * frame (no per-invocation array in local memory) and ≥ 2 blocks per SM on sm_90; a
 * reduction's main loop loads global memory only 128 bits at a time.
 */
export function gpuGradeViolations(stats: KernelStats, { kind }: { kind: GpuGradeKind }): string[] {
  const v: string[] = [];
  const at = `${stats.name}`;
  const tiled = kind !== "reduction";
  for (const a of stats.archs) {
    if (a.spillStores || a.spillLoads) v.push(`${at}: spills on sm_${a.arch.sm} (${a.spillStores} B stores, ${a.spillLoads} B loads)`);
    if (tiled && a.stackFrame) v.push(`${at}: a ${a.stackFrame} B stack frame on sm_${a.arch.sm} (local memory)`);
  }
  const l = stats.mainLoop;
  // A reduction whose rows are unrolled into registers has no loop: all of it is its main loop.
  const body = l ?? (kind === "reduction" ? { label: "(the whole kernel, no loop)", mix: stats.kernelMix } : undefined);
  if (!body || (tiled && count(body.mix.fma) === 0)) {
    v.push(`${at}: no main loop${tiled ? " with FMAs" : ""} found in the PTX`);
    return v;
  }
  const narrow = (w: Readonly<Record<number, number>>) => Object.entries(w).filter(([bits]) => Number(bits) !== 128);
  const loads = (what: string, w: Readonly<Record<number, number>>) => {
    const n = narrow(w);
    if (n.length) v.push(`${at}: main loop ${body.label} loads ${what} narrower than 128 bits (${n.map(([b, c]) => `${c}×${b}-bit`).join(", ")})`);
  };
  if (tiled) {
    const ratio = fmasPerSharedLoad(body.mix);
    if (ratio < 8) v.push(`${at}: main loop ${body.label} does ${ratio.toFixed(1)} FMAs per shared load (needs ≥ 8)`);
    loads("shared memory", body.mix.ldShared);
  }
  loads("global memory", body.mix.ldGlobal);
  loads("global memory by cp.async", body.mix.cpAsync);
  if (tiled) {
    const h = stats.archs.find((a) => a.arch.sm === 90)!;
    if (h.occupancy.blocksPerSM < 2)
      v.push(`${at}: ${h.occupancy.blocksPerSM} block(s) per SM on sm_90 (needs ≥ 2; limited by ${h.occupancy.limitedBy.join(", ")})`);
  }
  return v;
}
