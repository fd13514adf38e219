/**
 * Fused kernels on WebGPU (Dawn; lavapipe in CI): every fusion node is one kernel, and
 * fused equals unfused equals the interpreter on generated programs. lavapipe is a CPU
 * adapter, where the lowering picks barrier-free layouts (one invocation per row, private
 * row caches); the same programs are also compiled for a GPU-like target (teams per row
 * with workgroup trees, rows held in registers, the workgroup-memory matmul) and run on
 * the same adapter, so both layouts are checked against the oracle.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, test } from "vitest";
import { type Workload, type WorkloadId, TINY_SIZES, workload } from "../../bench/workloads.js";
import { reductionKernel } from "../../codegen/fused-reduction.js";
import { Program, lowerGraph } from "../../codegen/program.js";
import type { Target } from "../../codegen/target.js";
import type { Tensor } from "../../frontend/core.js";
import { fromHost } from "../../frontend/creation.js";
import { initBackend } from "../../frontend/init.js";
import { ShapeDtype, jit } from "../../frontend/jit.js";
import * as nn from "../../frontend/nn.js";
import * as np from "../../frontend/np.js";
import { type HostArray, deviceBytes, sizeOf } from "../../ir/dtype.js";
import type { Node } from "../../ir/graph.js";
import { fill, seedArb } from "../runtime/webgpu-arbitraries.js";
import { type Tolerance, gpu, mismatch, runProgram } from "../runtime/webgpu-helpers.js";
import { chainArb, chainFn, chainInputs, matmulArb, matmulFn, matmulInputs } from "./fused-programs.js";

type Fn = (...xs: Tensor[]) => Tensor | Tensor[];
const TOL: Tolerance = { rtol: 1e-3, atol: 1e-4 };

async function host(outs: Tensor | Tensor[]): Promise<HostArray[]> {
  const list = Array.isArray(outs) ? outs : [outs];
  const got = await Promise.all(list.map(async (t) => ({ dtype: t.dtype, shape: [...t.shape], data: await t.data() }) as HostArray));
  for (const t of list) t.dispose();
  return got;
}

/** Runs `f` jitted on a backend, fused or not. */
async function viaJit(f: Fn, xs: readonly HostArray[], backend: "webgpu" | "interp", fuse = true): Promise<HostArray[]> {
  const args = xs.map((a) => fromHost(a.dtype, a.shape, a.data.slice(), backend));
  const got = await host(jit(f, { backend, fuse })(...args));
  for (const a of args) a.dispose();
  return got;
}

/** The fused graph of `f`, lowered for `target` instead of the adapter's own, run on the adapter. */
async function viaTarget(f: Fn, xs: readonly HostArray[], target: Target): Promise<HostArray[]> {
  const graph = jit(f, { backend: "webgpu" }).lower(...xs.map((a) => new ShapeDtype(a.shape, a.dtype))).optimized;
  return runProgram(lowerGraph(graph, target), xs);
}


function expectSame(got: readonly HostArray[], want: readonly HostArray[], what: string, tol = TOL): void {
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => {
    const m = mismatch(g, want[i]!, tol);
    if (m) throw new Error(`${what}, result ${i}: ${m}`);
  });
}

/** A GPU-like target on the test adapter: what a discrete GPU would be given. */
const gpuLike = (): Target => ({ ...gpu!.target, cpuAdapter: false });

const lowered = (id: WorkloadId, fuse = true) => {
  const w: Workload = workload(id, TINY_SIZES[id]);
  return jit(w.fn as Fn, { backend: "webgpu", fuse }).lower(...w.inputs().map((i) => new ShapeDtype(i.shape)));
};

describe.skipIf(!gpu)("fused kernels on webgpu", () => {
  beforeAll(async () => {
    await initBackend("interp");
    await initBackend("webgpu");
  });

  test("W1, an 8-op elementwise chain, is one kernel (unfused: one per op)", () => {
    expect(lowered("W1").kernels.map((k) => k.name)).toEqual(["fusion_elementwise_0"]);
    expect(lowered("W1", false).kernels.length).toBeGreaterThanOrEqual(8);
  });

  test("softmax is one kernel, and so is layer norm with gamma and beta", () => {
    expect(lowered("W2").kernels.map((k) => k.name)).toEqual(["fusion_reduction_0"]);
    const ln = lowered("W3");
    expect(ln.kernels.map((k) => k.name)).toEqual(["fusion_reduction_0"]);
    expect(ln.kernels[0]!.inputs).toHaveLength(3);
  });

  test("the MLP gelu(x·W1+b1)·W2+b2 is two kernels: each matmul with its epilogue", () => {
    expect(lowered("W5").kernels.map((k) => k.name)).toEqual(["fusion_matmul_0", "fusion_matmul_1"]);
  });

  test("each fused kernel's source names its body and ops", () => {
    const k = lowered("W2").kernels[0]!;
    expect(k.source).toMatch(/^\/\/ fusion_reduction_0: .*fusion .*body=@reduction_0.*ops: reduce_max .*reduce_sum/);
    expect(k.source).toContain("//   %0 = reduce_max");
  });

  for (const id of ["W1", "W2", "W3", "W5"] as const)
    test(`${id} fused equals unfused equals the interpreter, in both layouts`, async () => {
      const w = workload(id, TINY_SIZES[id]);
      const xs = w.inputs().map((i) => fill("f32", i.shape, i.data.length + id.length, -1, 1));
      const want = await viaJit(w.fn as Fn, xs, "interp");
      expectSame(await viaJit(w.fn as Fn, xs, "webgpu"), want, `${id} fused`);
      expectSame(await viaJit(w.fn as Fn, xs, "webgpu", false), want, `${id} unfused`);
      expectSame(await viaTarget(w.fn as Fn, xs, gpuLike()), want, `${id} fused, GPU layout`);
    });

  test("generated elementwise, broadcast and reduction chains: fused equals unfused equals the interpreter", async () => {
    await fc.assert(
      fc.asyncProperty(chainArb, seedArb, async (c, seed) => {
        const f = chainFn(c) as Fn;
        const xs = chainInputs(c, seed);
        const want = await viaJit(f, xs, "interp");
        // A row sum of `cols` O(1) terms in f32 is off by up to ~cols·2⁻²⁴ even when the exact
        // value cancels to ~0 (found: 3×5000 mean-centred rows, sum 1.5e-4 vs 2.4e-6 in float64).
        const tol = { ...TOL, atol: Math.max(TOL.atol, 4 * c.cols * 2 ** -24) };
        expectSame(await viaJit(f, xs, "webgpu"), want, "fused", tol);
        expectSame(await viaJit(f, xs, "webgpu", false), want, "unfused", tol);
        expectSame(await viaTarget(f, xs, gpuLike()), want, "fused, GPU layout", tol);
      }),
      { numRuns: 20 },
    );
  }, 300_000);

  test("generated matmuls with epilogues (bias, residual, activations, batches): one kernel each, equal to the interpreter", async () => {
    await fc.assert(
      fc.asyncProperty(matmulArb, seedArb, async (c, seed) => {
        const f = matmulFn(c) as Fn;
        const xs = matmulInputs(c, seed);
        const kernels = jit(f, { backend: "webgpu" }).lower(...xs.map((a) => new ShapeDtype(a.shape))).kernels;
        expect(kernels.filter((k) => k.name.startsWith("fusion_matmul"))).toHaveLength(1);
        const want = await viaJit(f, xs, "interp");
        expectSame(await viaJit(f, xs, "webgpu"), want, "fused");
        expectSame(await viaTarget(f, xs, gpuLike()), want, "fused, workgroup template");
      }),
      { numRuns: 4 },
    );
  }, 300_000);

  test("comparisons as results: a bool from an elementwise chain and from a matmul epilogue", async () => {
    const f = ((a: Tensor, w: Tensor, x: Tensor) => [np.greater(np.matmul(a, w), 0.1), np.less(np.tanh(x), 0)]) as unknown as Fn;
    const xs = [fill("f32", [33, 17], 1, -1, 1), fill("f32", [17, 20], 2, -1, 1), fill("f32", [12, 8], 3, -1, 1)];
    const want = await viaJit(f, xs, "interp");
    expectSame(await viaJit(f, xs, "webgpu"), want, "fused");
    expectSame(await viaTarget(f, xs, gpuLike()), want, "fused, GPU layout");
  });

  test("a reduction over more rows than one grid dimension holds splits its grid and stays correct", async () => {
    const rows = 70000, cols = 4;
    const f = (x: Tensor) => nn.softmax(x, -1);
    const graph = jit(f, { backend: "webgpu" }).lower(new ShapeDtype([rows, cols])).optimized;
    const node = graph.nodes.find((n) => n.prim === "fusion") as Node<"fusion">;
    const kernel = reductionKernel(node, { target: gpu!.target, name: "fusion_reduction_0", source: "softmax" },
      { team: 1, teams: 1, width: 1, slots: cols });
    expect(kernel.grid[1]).toBeGreaterThan(1);
    const bytes = rows * cols * deviceBytes("f32");
    const buffer = (id: number, role: "input" | "output") => ({ id, dtype: "f32" as const, shape: [rows, cols], bytes, role, ...(role === "output" ? { slot: 0 } : {}) });
    const program = new Program("split", [buffer(0, "input"), buffer(1, "output")], [{ id: 0, bytes, result: true }], [0], [1],
      [{ op: "alloc", slot: 0 }, { op: "launch", kernel, args: [0, 1] }]);
    const x = fill("f32", [rows, cols], 5, -3, 3);
    expectSame(await runProgram(program, [x]), await viaJit(f, [x], "interp"), "split grid", { rtol: 1e-5, atol: 1e-7 });
  });

  test("teams that overshoot the last row store nothing (GPU layout, rows not a multiple of the workgroup's)", async () => {
    const f = (x: Tensor) => [nn.softmax(x, -1), nn.layerNorm(x)] as unknown as Tensor;
    const x = fill("f32", [37, 100], 9, -3, 3);
    expect(sizeOf(x.shape)).toBe(3700);
    expectSame(await viaTarget(f as Fn, [x], gpuLike()), await viaJit(f as Fn, [x], "interp"), "overshooting teams");
  });
});
