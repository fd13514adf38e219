/**
 * runtime/cuda-stats.ts: the PTX loop finder and instruction counters on hand-written PTX,
 * the occupancy arithmetic against hand-computed figures, the issue-16 rules on made-up
 * statistics, and one real smelt matmul through nvcc and ptxas. GPU-grade thresholds on real
 * kernels are asserted in cuda-static-checks.test.ts, not here.
 */
import { describe, expect, it } from "vitest";
import { printKernels } from "../../cli/kernels.js";
import { UsageError, main } from "../../cli/main.js";
import { renderGraphKernels } from "../../codegen/render/index.js";
import { CUDA_SM80_TARGET } from "../../codegen/target.js";
import type { Tensor } from "../../frontend/core.js";
import { init } from "../../frontend/init.js";
import { jit, spec } from "../../frontend/jit.js";
import * as np from "../../frontend/np.js";
import {
  type KernelStats, SM80, SM90, cudaKernelStats, fmasPerSharedLoad, formatKernelStats, gpuGradeViolations, instructionMix,
  mainLoop, occupancy, parsePtxasUsage, ptxLoops,
} from "../../runtime/cuda-stats.js";
import { REQUIRE_NVCC, nvccMissing } from "./cuda-nvcc.js";

const fmas = (n: number) => Array.from({ length: n }, (_, i) => `\tfma.rn.f32 \t%f${20 + i}, %f5, %f9, %f${20 + i};`).join("\n");

/** A k-tile loop (128-bit global → shared copy, barriers) around a loop over the tile (v4 shared loads, 16 FMAs). */
const NESTED = `
.visible .entry tiled(
\t.param .u64 tiled_param_0
)
.maxntid 256, 1, 1
{
\t.reg .pred \t%p<4>;
\tmov.u32 \t%r1, 0;
$L__BB0_1:
\tld.global.nc.v4.f32 \t{%f1, %f2, %f3, %f4}, [%rd1];
\tst.shared.v4.f32 \t[%r2], {%f1, %f2, %f3, %f4};
\tbar.sync \t0;
\tmov.u32 \t%r3, 0;
$L__BB0_2:
\tld.shared.v4.f32 \t{%f5, %f6, %f7, %f8}, [%r4];
\tld.shared.v4.f32 \t{%f9, %f10, %f11, %f12}, [%r5];
${fmas(16)}
\tadd.s32 \t%r3, %r3, 1;
\tsetp.lt.u32 \t%p1, %r3, 8;
\t@%p1 bra \t$L__BB0_2;
\tbar.sync \t0;
\tadd.s32 \t%r1, %r1, 1;
\tsetp.lt.u32 \t%p2, %r1, 64;
\t@%p2 bra \t$L__BB0_1;
\t@%p3 bra \t$L__BB0_4;
\tst.global.f32 \t[%rd2], %f20;
$L__BB0_4:
\tret;
}
`;

/** Two entries; the second has a loop with a `continue` (two backward branches) and scalar loads. */
const TWO_ENTRIES = `
.visible .entry first(
\t.param .u64 first_param_0
)
{
$L__BB0_1:
\tfma.rn.f32 \t%f1, %f1, %f1, %f1;
\t@%p1 bra \t$L__BB0_1;
\tret;
}
.visible .entry second(
\t.param .u64 second_param_0
)
{
\tmov.u32 \t%r1, 0;
$L__BB1_1:
\tld.global.nc.f32 \t%f1, [%rd1];
\t@!%p1 bra.uni \t$L__BB1_1;
\tld.global.v2.f32 \t{%f2, %f3}, [%rd2];
\tadd.f32 \t%f4, %f1, %f2;
\tbra.uni \t$L__BB1_1;
$L__BB1_3:
\tret;
}
`;

describe("the PTX loop finder", () => {
  it("finds nested loops by their backward branches, outer first, and ignores forward branches", () => {
    const loops = ptxLoops(NESTED, "tiled");
    expect(loops.map((l) => [l.label, l.depth, l.contains])).toEqual([
      ["$L__BB0_1", 0, ["$L__BB0_2"]],
      ["$L__BB0_2", 1, []],
    ]);
  });

  it("counts an inner loop's v4 shared loads and FMAs, and their ratio", () => {
    const inner = ptxLoops(NESTED, "tiled").find((l) => l.label === "$L__BB0_2")!;
    expect(inner.mix.fma).toEqual({ "fma.rn.f32": 16 });
    expect(inner.mix.ldShared).toEqual({ 128: 2 });
    expect(inner.mix.ldGlobal).toEqual({});
    expect(inner.mix.barriers).toBe(0);
    expect(fmasPerSharedLoad(inner.mix)).toBe(8);
  });

  it("counts an outer loop's body with the nested loop's once: ld.global.nc.v4, st.shared.v4, both bar.syncs", () => {
    const outer = ptxLoops(NESTED, "tiled")[0]!;
    expect(outer.mix.fma).toEqual({ "fma.rn.f32": 16 });
    expect(outer.mix.ldShared).toEqual({ 128: 2 });
    expect(outer.mix.ldGlobal).toEqual({ 128: 1 });
    expect(outer.mix.stShared).toEqual({ 128: 1 });
    expect(outer.mix.stGlobal).toEqual({});
    expect(outer.mix.barriers).toBe(2);
  });

  it("takes as main loop the one with the most FMAs, and of a nest holding them the outermost (the k-tile loop)", () => {
    expect(mainLoop(ptxLoops(NESTED, "tiled"))?.label).toBe("$L__BB0_1");
  });

  it("reads one entry of a module, and extends a loop to the last of several backward branches (bra.uni, @!%p)", () => {
    expect(ptxLoops(TWO_ENTRIES, "first").map((l) => l.label)).toEqual(["$L__BB0_1"]);
    const [loop, ...rest] = ptxLoops(TWO_ENTRIES, "second");
    expect(rest).toEqual([]);
    expect(loop!.label).toBe("$L__BB1_1");
    expect(loop!.mix.ldGlobal).toEqual({ 32: 1, 64: 1 });
    expect(loop!.mix.fma).toEqual({});
    expect(mainLoop([loop!])?.label).toBe("$L__BB1_1");
  });

  it("finds no main loop in straight-line PTX", () => {
    expect(mainLoop(ptxLoops("{\n\tld.global.f32 \t%f1, [%rd1];\n\tret;\n}\n"))).toBeUndefined();
  });
});

describe("the instruction counters", () => {
  it("count loads and stores by the bits one thread moves, whatever their qualifiers", () => {
    const mix = instructionMix([
      "\tld.global.nc.v4.f32 \t{%f1, %f2, %f3, %f4}, [%rd1];",
      "\tld.global.nc.L1::no_allocate.v4.u32 \t{%r1, %r2, %r3, %r4}, [%rd1];",
      "\tld.global.f32 \t%f1, [%rd1];",
      "\t@%p1 ld.global.nc.v2.f32 \t{%f1, %f2}, [%rd1];",
      "\tld.shared.u32 \t%r1, [%r2];",
      "\tld.shared.v2.b32 \t{%r1, %r2}, [%r3];",
      "\tld.shared::cta.v4.f32 \t{%f1, %f2, %f3, %f4}, [%r3];",
      "\tldmatrix.sync.aligned.m8n8.x4.shared.b16 \t{%r1, %r2, %r3, %r4}, [%r5];",
      "\tst.shared.v2.f32 \t[%r1], {%f1, %f2};",
      "\tst.global.v4.f32 \t[%rd1], {%f1, %f2, %f3, %f4};",
      "\tld.param.u64 \t%rd1, [k_param_0];",
      "\tld.local.f32 \t%f1, [%rd9];",
    ]);
    expect(mix.ldGlobal).toEqual({ 128: 2, 32: 1, 64: 1 });
    expect(mix.ldShared).toEqual({ 32: 1, 64: 1, 128: 2 });
    expect(mix.stShared).toEqual({ 64: 1 });
    expect(mix.stGlobal).toEqual({ 128: 1 });
    expect(mix.instructions).toBe(12);
  });

  it("count FMAs per opcode, block barriers but not warp syncs, and cp.async copies by size but not commits and waits", () => {
    const mix = instructionMix([
      "\tfma.rn.f32 \t%f1, %f2, %f3, %f1;",
      "\tfma.rn.ftz.f32 \t%f1, %f2, %f3, %f1;",
      "\tfma.rn.f16x2 \t%r1, %r2, %r3, %r1;",
      "\tmad.lo.s32 \t%r1, %r2, %r3, %r1;",
      "\tbar.sync \t0;",
      "\tbarrier.sync \t0;",
      "\tbar.warp.sync \t-1;",
      "\tcp.async.cg.shared.global [%r1], [%rd1], 16;",
      "\tcp.async.ca.shared.global [%r1], [%rd1], 4, %r9;",
      "\tcp.async.commit_group;",
      "\tcp.async.wait_group 0;",
      "$L__BB0_3:",
      "\t// a comment",
      "\t.reg .f32 \t%f<4>;",
    ]);
    expect(mix.fma).toEqual({ "fma.rn.f32": 1, "fma.rn.ftz.f32": 1, "fma.rn.f16x2": 1 });
    expect(mix.barriers).toBe(2);
    expect(mix.cpAsync).toEqual({ 128: 1, 32: 1 });
    expect(mix.instructions).toBe(11);
  });
});

describe("ptxas -v reports", () => {
  const report = `ptxas info    : 0 bytes gmem
ptxas info    : Compiling entry function 'small' for 'sm_90'
ptxas info    : Function properties for small
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 10 registers, used 0 barriers, 376 bytes cmem[0]
ptxas info    : Compiling entry function 'big' for 'sm_90'
ptxas info    : Function properties for big
    48 bytes stack frame, 40 bytes spill stores, 36 bytes spill loads
ptxas info    : Used 255 registers, used 1 barriers, 33792 bytes smem, 376 bytes cmem[0]
`;
  it("are read per entry function, absent shared memory being none", () => {
    expect(parsePtxasUsage(report, "small")).toEqual({ registers: 10, spillStores: 0, spillLoads: 0, stackFrame: 0, sharedBytes: 0, barriers: 0 });
    expect(parsePtxasUsage(report, "big")).toEqual({ registers: 255, spillStores: 40, spillLoads: 36, stackFrame: 48, sharedBytes: 33792, barriers: 1 });
    expect(() => parsePtxasUsage(report, "other")).toThrow(/nothing for entry function other/);
  });
});

describe("theoretical occupancy", () => {
  it("256 threads × 128 registers: 2 blocks per SM on sm_90, limited by registers (4096 per warp, 4 warps per sub-partition)", () => {
    const o = occupancy(SM90, { registers: 128, sharedBytes: 8192, threads: 256 });
    expect(o.blocksPerSM).toBe(2);
    expect(o.limitedBy).toEqual(["registers"]);
    expect(o.warpsPerSM).toBe(16);
    expect(o.fraction).toBe(0.25);
    // 8 KB + 1 KB reserved per block: 228 KB holds 25 of them, so shared memory does not limit.
    expect(o.limits).toEqual({ registers: 2, shared: 25, threads: 8, blocks: 32 });
  });

  it("rounds registers up to 256 per warp: 33 and 40 registers both give 6 blocks of 256 threads (48 of 64 warps)", () => {
    for (const registers of [33, 40]) {
      const o = occupancy(SM80, { registers, sharedBytes: 8192, threads: 256 });
      expect(o.limits.registers).toBe(6);
      expect(o.blocksPerSM).toBe(6);
      expect(o.fraction).toBe(0.75);
    }
    expect(occupancy(SM80, { registers: 32, sharedBytes: 0, threads: 256 }).limits.registers).toBe(8);
  });

  it("limits by shared memory with the reserved kilobyte: 48 KB blocks fit 3 to an A100 SM and 4 to an H100 SM", () => {
    const a = occupancy(SM80, { registers: 32, sharedBytes: 48 * 1024, threads: 128 });
    expect([a.blocksPerSM, a.limitedBy]).toEqual([3, ["shared"]]);
    expect(occupancy(SM90, { registers: 32, sharedBytes: 48 * 1024, threads: 128 }).blocksPerSM).toBe(4);
    // 163 KB is the most one block may take on sm_80; a byte more cannot launch.
    expect(occupancy(SM80, { registers: 32, sharedBytes: 163 * 1024, threads: 128 }).blocksPerSM).toBe(1);
    expect(occupancy(SM80, { registers: 32, sharedBytes: 163 * 1024 + 1, threads: 128 }).blocksPerSM).toBe(0);
  });

  it("limits by threads (2048 per SM) and by blocks (32 per SM)", () => {
    const t = occupancy(SM80, { registers: 16, sharedBytes: 0, threads: 1024 });
    expect([t.blocksPerSM, t.limitedBy, t.fraction]).toEqual([2, ["threads"], 1]);
    const b = occupancy(SM90, { registers: 16, sharedBytes: 0, threads: 32 });
    expect([b.blocksPerSM, b.limitedBy, b.fraction]).toEqual([32, ["blocks"], 0.5]);
  });

  it("names every limit that ties, and launches nothing when a block needs more registers than an SM has", () => {
    expect(occupancy(SM80, { registers: 32, sharedBytes: 0, threads: 1024 }).limitedBy).toEqual(["registers", "threads"]);
    const o = occupancy(SM90, { registers: 255, sharedBytes: 0, threads: 1024 });
    expect([o.blocksPerSM, o.limitedBy]).toEqual([0, ["registers"]]);
  });
});

/** Statistics made up from hand-written PTX and ptxas figures, for the rules alone. */
function madeUp(ptx: string, entry: string, use: { registers: number; spill?: number; sharedBytes: number; threads: number }): KernelStats {
  const loops = ptxLoops(ptx, entry);
  const archs = [SM80, SM90].map((arch) => ({
    arch, registers: use.registers, spillStores: use.spill ?? 0, spillLoads: use.spill ?? 0, stackFrame: use.spill ?? 0,
    sharedBytes: use.sharedBytes, barriers: 1, occupancy: occupancy(arch, use),
  }));
  const kernelMix = instructionMix(ptx.split("\n"));
  return { name: entry, block: [use.threads, 1, 1], threads: use.threads, archs, loops, mainLoop: mainLoop(loops), kernelMix };
}

describe("the GPU-grade rules", () => {
  it("pass a matmul loop of 8 FMAs per 128-bit shared load, 128-bit global loads, no spills and 2+ blocks per SM", () => {
    expect(gpuGradeViolations(madeUp(NESTED, "tiled", { registers: 128, sharedBytes: 16384, threads: 256 }), { kind: "matmul" })).toEqual([]);
  });

  it("name each shortfall: spills, a stack frame, too few blocks on sm_90, narrow loads, too few FMAs per shared load", () => {
    const v = gpuGradeViolations(madeUp(TWO_ENTRIES.replace("fma.rn.f32", "ld.shared.f32 %f9, [%r1];\n\tfma.rn.f32"), "first", {
      registers: 255, spill: 64, sharedBytes: 0, threads: 256,
    }), { kind: "matmul" });
    expect(v).toEqual([
      "first: spills on sm_80 (64 B stores, 64 B loads)",
      "first: a 64 B stack frame on sm_80 (local memory)",
      "first: spills on sm_90 (64 B stores, 64 B loads)",
      "first: a 64 B stack frame on sm_90 (local memory)",
      "first: main loop $L__BB0_1 does 1.0 FMAs per shared load (needs ≥ 8)",
      "first: main loop $L__BB0_1 loads shared memory narrower than 128 bits (1×32-bit)",
      "first: 1 block(s) per SM on sm_90 (needs ≥ 2; limited by registers)",
    ]);
  });

  it("hold flash attention's loop over key tiles to the matmul's bar", () => {
    expect(gpuGradeViolations(madeUp(NESTED, "tiled", { registers: 128, sharedBytes: 16384, threads: 256 }), { kind: "attention" })).toEqual([]);
    expect(gpuGradeViolations(madeUp(NESTED, "tiled", { registers: 128, spill: 16, sharedBytes: 16384, threads: 256 }), { kind: "attention" })).toContain(
      "tiled: a 16 B stack frame on sm_90 (local memory)",
    );
  });

  it("hold cp.async copies (inline PTX, as nvcc emits it) to the rule for global loads: 16 bytes pass, 4 bytes are named", () => {
    const copying = (bytes: number) => NESTED.replace(
      "\tld.global.nc.v4.f32 \t{%f1, %f2, %f3, %f4}, [%rd1];\n\tst.shared.v4.f32 \t[%r2], {%f1, %f2, %f3, %f4};",
      `\t// begin inline asm\n\tcp.async.${bytes === 16 ? "cg" : "ca"}.shared.global [%r2], [%rd1], ${bytes}, %r9;\n\n\t// end inline asm`,
    );
    const use = { registers: 128, sharedBytes: 16384, threads: 256 };
    const wide = madeUp(copying(16), "tiled", use);
    expect(wide.mainLoop!.mix.cpAsync).toEqual({ 128: 1 });
    expect(wide.mainLoop!.mix.ldGlobal).toEqual({});
    expect(gpuGradeViolations(wide, { kind: "matmul" })).toEqual([]);
    expect(formatKernelStats(wide)).toContain("ld.global none; cp.async 1×128-bit");
    expect(gpuGradeViolations(madeUp(copying(4), "tiled", use), { kind: "matmul" })).toEqual([
      "tiled: main loop $L__BB0_1 loads global memory by cp.async narrower than 128 bits (1×32-bit)",
    ]);
  });

  it("ask of a reduction only 128-bit global loads in its main loop, or in the whole kernel when its rows are unrolled", () => {
    const v = gpuGradeViolations(madeUp(TWO_ENTRIES, "second", { registers: 32, sharedBytes: 0, threads: 1024 }), { kind: "reduction" });
    expect(v).toEqual(["second: main loop $L__BB1_1 loads global memory narrower than 128 bits (1×32-bit, 1×64-bit)"]);
    const unrolled = (load: string) =>
      madeUp(`{\n\t${load} %f1, [%rd1];\n\tst.global.f32 [%rd2], %f1;\n\tret;\n}\n`, "none", { registers: 8, sharedBytes: 0, threads: 256 });
    expect(gpuGradeViolations(unrolled("ld.global.nc.v4.f32"), { kind: "reduction" })).toEqual([]);
    expect(gpuGradeViolations(unrolled("ld.global.nc.f32"), { kind: "reduction" })).toEqual([
      "none: main loop (the whole kernel, no loop) loads global memory narrower than 128 bits (1×32-bit)",
    ]);
    expect(gpuGradeViolations(unrolled("ld.global.nc.v4.f32"), { kind: "matmul" })).toEqual(["none: no main loop with FMAs found in the PTX"]);
  });
});

describe("smelt kernels --stats", () => {
  it("is a usage error without --target cuda", async () => {
    await expect(main(["kernels", "examples/models.ts", "--stats"])).rejects.toThrow(UsageError);
    await expect(main(["kernels", "examples/models.ts", "--stats", "--target", "wgsl"])).rejects.toThrow(/--stats needs --target cuda/);
  });
});

const missing = nvccMissing();
if (missing) {
  if (REQUIRE_NVCC) throw new Error(`SMELT_REQUIRE_NVCC=1 but ${missing}`);
  console.warn(`skipping the nvcc/ptxas statistics tests: ${missing}`);
}

describe.skipIf(!!missing)("statistics of a real smelt matmul through nvcc and ptxas", () => {
  it("reports registers, no failure to launch, and a main loop of f32 FMAs fed from shared memory, for sm_80 and sm_90", async () => {
    await init({ backend: "interp" });
    const lowered = jit((a: Tensor, b: Tensor) => np.matmul(a, b), { name: "mm" }).lower(spec("f32[256,256]"), spec("f32[256,256]"));
    const [k, ...rest] = renderGraphKernels(lowered.optimized, CUDA_SM80_TARGET);
    expect(rest).toEqual([]);
    const s = cudaKernelStats(k!.source, k!.name, k!.block);
    expect(s.archs.map((a) => a.arch.sm)).toEqual([80, 90]);
    for (const a of s.archs) {
      expect(a.registers).toBeGreaterThan(0);
      expect(a.registers).toBeLessThanOrEqual(255);
      expect(a.sharedBytes).toBeGreaterThan(0);
      expect(a.occupancy.blocksPerSM).toBeGreaterThan(0);
    }
    expect(s.threads).toBe(k!.block.reduce((x, y) => x * y, 1));
    expect(s.mainLoop).toBeDefined();
    expect(s.mainLoop!.mix.fma["fma.rn.f32"]).toBeGreaterThan(0);
    expect(Object.keys(s.mainLoop!.mix.ldShared).length).toBeGreaterThan(0);
    // Its tiles are filled by cp.async (inline PTX in the CUDA C), counted by size as global loads.
    expect(s.mainLoop!.mix.cpAsync).toEqual({ 128: 2 });
    expect(s.mainLoop!.mix.ldGlobal).toEqual({});
    expect(cudaKernelStats(k!.source, k!.name, k!.block)).toBe(s);
    const text = formatKernelStats(s);
    expect(text).toContain(`${k!.name}: block ${k!.block.join("×")}`);
    expect(text).toMatch(/sm_80 \(A100\) +sm_90 \(H100\)/);
    expect(text).toContain(`main loop ${s.mainLoop!.label}`);
    expect(text).toContain("ld.global none; cp.async 2×128-bit");
    expect(printKernels(lowered, "cuda", { stats: true })).toContain(text);
  });
});
