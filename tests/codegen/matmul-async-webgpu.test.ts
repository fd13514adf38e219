/**
 * The double-buffered GPU matmul (codegen/matmul-gpu.ts on a target with `asyncCopy`: the
 * kernel CUDA sm_80+ runs with cp.async) on the test adapter. WGSL does each asynchronous
 * copy at once, a legal execution of the same program, so lavapipe checks the double
 * buffering itself: which stage each slice goes to and is read from, the waits and barriers,
 * the 4-vectors along k, the zero-filled edges. Shapes and layouts pick every read path.
 */
import { describe, expect, test } from "vitest";
import { type Sizes, workload } from "../../bench/workloads.js";
import type { Kernel, Stmt } from "../../codegen/kernel.js";
import { lowerGraph } from "../../codegen/program.js";
import { type Target, webgpuTarget } from "../../codegen/target.js";
import type { Tensor } from "../../frontend/core.js";
import { fromHost } from "../../frontend/creation.js";
import { initBackend } from "../../frontend/init.js";
import { ShapeDtype, jit } from "../../frontend/jit.js";
import * as np from "../../frontend/np.js";
import type { HostArray } from "../../ir/dtype.js";
import type { Graph } from "../../ir/graph.js";
import { evalGraph } from "../../runtime/interp.js";
import { fill } from "../runtime/webgpu-arbitraries.js";
import { gpu, mismatch, runProgram } from "../runtime/webgpu-helpers.js";
import { LAYOUTS, matmulGraph } from "./matmul-cases.js";
import { expectEpilogue } from "./matmul-epilogue-webgpu.js";

type Fn = (...xs: Tensor[]) => Tensor;
const TOL = { rtol: 1e-4, atol: 1e-4 };

/** A GPU (not a CPU adapter) that copies asynchronously, with room for two stages. */
const asyncTarget = (t: Target): Target => ({ ...t, cpuAdapter: false, features: { ...t.features, asyncCopy: true } });
const NO_DEVICE = asyncTarget(webgpuTarget({ maxComputeWorkgroupStorageSize: 32768 }));

const mainLoop = (k: Kernel) => k.body.find((s): s is Extract<Stmt, { k: "for" }> => s.k === "for")!;
type CopyAsync = Extract<Stmt, { k: "copy_async" }>;
const copies = (ss: readonly Stmt[]): CopyAsync[] => ss.flatMap((s) => (s.k === "copy_async" ? [s] : s.k === "if" ? copies(s.then) : []));
const kernelOf = (g: Graph, target = NO_DEVICE) => lowerGraph(g, target).launches[0]!.kernel;

describe("the double-buffered kernel (no device needed)", () => {
  test("A·B 256³: two 8 KiB stages, the next slice copied 16 bytes at a time into the other one, one wait and one barrier per slice, 16 multiply-adds per shared read", () => {
    const k = kernelOf(matmulGraph("A·B", 256, 256, 256));
    expect(k.shared.map((s) => [s.name, s.width, s.size])).toEqual([["As", 4, 512], ["Bs", 4, 512]]);
    const body = mainLoop(k).body;
    expect(copies(body).map((c) => [c.dst, c.bytes])).toEqual([["As", 16], ["Bs", 16]]);
    expect(body.filter((s) => s.k === "barrier")).toHaveLength(1);
    expect(body.filter((s) => s.k === "copy_wait").map((s) => s.k === "copy_wait" && s.pending)).toEqual([0]);
    // The wait comes after the multiply-adds, the barrier right after the wait.
    const at = (kind: Stmt["k"]) => body.findIndex((s) => s.k === kind);
    expect(at("copy_commit")).toBeLessThan(at("assign"));
    expect(body.slice(-3).map((s) => s.k)).toEqual(["copy_wait", "barrier", "assign"]);
    // No global load in the loop: every read of A and B there is a copy, every load4 a shared read.
    const loads = body.filter((s) => s.k === "load4");
    expect(loads.every((s) => s.k === "load4" && (s.buffer === "As" || s.buffer === "Bs"))).toBe(true);
    expect(JSON.stringify(body).split('"fn":"fma"').length - 1).toBe(16 * loads.length);
  });

  test("an operand read along k keeps 4-vectors along k; B's blocks are padded, so its tile takes one entry more per 8 columns", () => {
    expect(kernelOf(matmulGraph("A·Bᵀ", 256, 256, 256)).shared.map((s) => s.size)).toEqual([512, 2 * (256 + 16)]);
    expect(kernelOf(matmulGraph("Aᵀ·B", 256, 256, 256)).shared.map((s) => s.size)).toEqual([512, 512]);
  });

  test("operands of odd sizes are copied 4 bytes at a time, computed ones (a concatenation) through registers", () => {
    expect(new Set(copies(mainLoop(kernelOf(matmulGraph("A·B", 129, 257, 63))).body).map((c) => c.bytes))).toEqual(new Set([4]));
    const k = concatKernel();
    const body = mainLoop(k).body;
    expect(copies(body).map((c) => c.dst)).toEqual(["Bs"]);
    // A's registers are stored into the other stage after the multiply-adds, before the wait.
    const storeAt = body.findIndex((s) => s.k === "store4" && s.buffer === "As");
    expect(storeAt).toBeGreaterThan(body.findIndex((s) => s.k === "assign" && s.name.startsWith("acc")));
    expect(storeAt).toBeLessThan(body.findIndex((s) => s.k === "copy_wait"));
  });

  test("a target without async copies, or without room for two stages, keeps one buffer and the register prefetch", () => {
    const single = (g: Graph, target: Target) => {
      const k = kernelOf(g, target);
      expect(k.shared.map((s) => s.size)).toEqual([256, 256]);
      expect(copies(mainLoop(k).body)).toEqual([]);
    };
    single(matmulGraph("A·B", 256, 256, 256), { ...NO_DEVICE, features: { ...NO_DEVICE.features, asyncCopy: false } });
    // WebGPU's default 16 KiB holds two stages of A·B exactly, not B's padded blocks.
    const defaults = asyncTarget(webgpuTarget({}));
    expect(kernelOf(matmulGraph("A·B", 256, 256, 256), defaults).shared.map((s) => s.size)).toEqual([512, 512]);
    single(matmulGraph("A·Bᵀ", 256, 256, 256), defaults);
  });
});

function concatGraphFn(a: Tensor, b: Tensor, w: Tensor): Tensor {
  return np.matmul(np.concatenate([a, np.tanh(b)], 1), w);
}
const CONCAT_INPUTS = ["f32[96,40]", "f32[96,24]", "f32[64,72]"];

function concatKernel(): Kernel {
  const lowered = jit(concatGraphFn as Fn).lower(...CONCAT_INPUTS.map((t) => new ShapeDtype(shapeOf(t), "f32")));
  return lowerGraph(lowered.optimized, NO_DEVICE).launches.find((l) => /matmul/.test(l.kernel.name))!.kernel;
}

const shapeOf = (t: string) => t.slice(4, -1).split(",").map(Number);

describe.skipIf(!gpu)("the double-buffered GPU matmul on webgpu matches the interpreter", () => {
  const target = asyncTarget(gpu!.target);

  async function expectMatmul(g: Graph, seed: number): Promise<void> {
    const inputs = g.inputs.map((v, i) => fill("f32", v.shape, seed + i, -1, 1));
    const program = lowerGraph(g, target);
    expect(program.launches[0]!.kernel.shared.map((s) => s.size).every((n) => n >= 512)).toBe(true);
    const [got] = await runProgram(program, inputs);
    const m = mismatch(got!, evalGraph(g, inputs)[0]!, TOL);
    if (m) throw new Error(`${g.inputs.map((v) => `[${v.shape}]`).join(" x ")}: ${m}`);
  }

  // Every read path: 4-vectors along k or along m / n where sizes are multiples of 4, 4-byte
  // copies where they are not; below one block, one slice, and edges in every dimension.
  const shapes = [[64, 64, 8], [128, 128, 128], [129, 257, 63], [257, 65, 7], [200, 136, 1], [65, 129, 257], [96, 100, 36]] as const;
  for (const layout of LAYOUTS) {
    const mine = layout === "A·B" ? shapes : shapes.filter((_, i) => [2, 3, 6].includes(i));
    test(`${layout} on ${mine.map((s) => s.join("×")).join(", ")}`, async () => {
      for (const [m, n, k] of mine) await expectMatmul(matmulGraph(layout, m, n, k), m + 2 * n + k);
    });
  }

  test("batch dims, an odd number of slices, and an epilogue per element", async () => {
    await expectMatmul(matmulGraph("A·B", 130, 66, 20, [2, 3]), 1);
    await expectMatmul(matmulGraph("A·Bᵀ", 64, 128, 12, [3]), 2);
    const kernel = await expectEpilogue(target, [2, 1], 70, 133, 44);
    expect(copies(mainLoop(kernel).body).length).toBeGreaterThan(0);
  });

  test("an operand computed per element (a concatenation) goes through registers beside the other's copies", async () => {
    await initBackend("interp");
    await initBackend("webgpu");
    const xs = CONCAT_INPUTS.map((t, i) => fill("f32", shapeOf(t), 40 + i, -1, 1));
    const lowered = jit(concatGraphFn as Fn, { backend: "webgpu" }).lower(...xs.map((a) => new ShapeDtype(a.shape, a.dtype)));
    const [got] = await runProgram(lowerGraph(lowered.optimized, target), xs);
    const want = await jit(concatGraphFn as Fn, { backend: "interp" })(...xs.map((a) => fromHost("f32", a.shape, a.data.slice(), "interp"))).data();
    const m = mismatch(got!, { dtype: "f32", shape: got!.shape, data: want }, TOL);
    if (m) throw new Error(m);
  });

  test("a grouped matmul (W7's experts: gathered rows, scattered results) double-buffers its tiles too", async () => {
    await initBackend("interp");
    await initBackend("webgpu");
    const sizes: Partial<Sizes["W7"]> = { tokens: 70, d: 64, experts: 4, k: 2, hidden: 64 };
    const w = workload("W7", sizes);
    const xs: HostArray[] = w.inputs().map((i) => ({ dtype: "f32", shape: [...i.shape], data: i.data }));
    const lowered = jit(w.fn as Fn, { backend: "webgpu" }).lower(...xs.map((a) => new ShapeDtype(a.shape, a.dtype)));
    const program = lowerGraph(lowered.optimized, target);
    const experts = program.launches.filter((l) => copies(mainLoop(l.kernel)?.body ?? []).length > 0);
    expect(experts.length).toBe(2);
    const [got] = await runProgram(program, xs);
    const want = await jit(w.fn as Fn, { backend: "interp" })(...xs.map((a) => fromHost("f32", a.shape, a.data.slice(), "interp"))).data();
    const m = mismatch(got!, { dtype: "f32", shape: got!.shape, data: want }, { rtol: 2e-3, atol: 2e-4 });
    if (m) throw new Error(m);
  });
});
