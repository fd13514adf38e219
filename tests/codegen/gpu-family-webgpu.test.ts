/**
 * The GPU template family on the test adapter (what SMELT_TEMPLATES=gpu selects): W1–W8 at
 * sizes where the GPU matmul template's 128×128 blocks engage, fused, against the
 * interpreter. lavapipe runs these kernels slowly (barriers), but it runs them exactly.
 */
import { afterEach, beforeAll, describe, expect, test } from "vitest";
import { type Sizes, type WorkloadId, workload } from "../../bench/workloads.js";
import { lowerGraph } from "../../codegen/program.js";
import type { Target } from "../../codegen/target.js";
import type { Tensor } from "../../frontend/core.js";
import { fromHost } from "../../frontend/creation.js";
import { initBackend } from "../../frontend/init.js";
import { ShapeDtype, jit } from "../../frontend/jit.js";
import type { HostArray } from "../../ir/dtype.js";
import { cpuFamily } from "../../runtime/webgpu-device.js";
import { gpu, mismatch, runProgram } from "../runtime/webgpu-helpers.js";

type Fn = (...xs: Tensor[]) => Tensor;
const TOL = { rtol: 2e-3, atol: 2e-4 };

/** Sizes whose matmuls have m and n of at least 64 (the GPU template's), small enough for the interpreter. */
const SIZES: { readonly [I in WorkloadId]?: Partial<Sizes[I]> } = {
  W1: { n: 5000 },
  W2: { rows: 70, cols: 300 },
  W3: { rows: 70, cols: 300 },
  W4: { m: 130, k: 72, n: 136 },
  W5: { tokens: 66, d: 64, hidden: 132 },
  W6: { heads: 2, seq: 70, dHead: 16 },
  W7: { tokens: 70, d: 64, experts: 4, k: 2, hidden: 64 },
  W8: { seq: 66, d: 64, heads: 2, hidden: 128 },
};

describe("SMELT_TEMPLATES", () => {
  const saved = process.env.SMELT_TEMPLATES;
  afterEach(() => {
    if (saved === undefined) delete process.env.SMELT_TEMPLATES;
    else process.env.SMELT_TEMPLATES = saved;
  });
  test("gpu gives a software adapter the GPU family, cpu any adapter the CPU family, and nothing else is taken", () => {
    delete process.env.SMELT_TEMPLATES;
    expect(cpuFamily("llvmpipe (LLVM 19.1.7, 256 bits)")).toBe(true);
    expect(cpuFamily("nvidia / hopper")).toBe(false);
    process.env.SMELT_TEMPLATES = "gpu";
    expect(cpuFamily("llvmpipe (LLVM 19.1.7, 256 bits)")).toBe(false);
    process.env.SMELT_TEMPLATES = "cpu";
    expect(cpuFamily("nvidia / hopper")).toBe(true);
    process.env.SMELT_TEMPLATES = "fast";
    expect(() => cpuFamily("nvidia / hopper")).toThrow(/SMELT_TEMPLATES must be gpu or cpu, got 'fast'/);
  });
});

describe.skipIf(!gpu)("W1–W8 under the GPU template family match the interpreter", () => {
  const target: Target = { ...gpu!.target, cpuAdapter: false };
  beforeAll(async () => {
    await initBackend("interp");
    await initBackend("webgpu");
  });
  for (const [id, sizes] of Object.entries(SIZES) as [WorkloadId, Partial<Sizes[WorkloadId]>][])
    test(`${id} ${JSON.stringify(sizes)}`, async () => {
      const w = workload(id, sizes);
      const xs: HostArray[] = w.inputs().map((i) => ({ dtype: "f32", shape: [...i.shape], data: i.data }));
      const lowered = jit(w.fn as Fn, { backend: "webgpu" }).lower(...xs.map((a) => new ShapeDtype(a.shape, a.dtype)));
      const program = lowerGraph(lowered.optimized, target);
      const got = await runProgram(program, xs);
      const args = xs.map((a) => fromHost("f32", a.shape, a.data.slice(), "interp"));
      const want = await jit(w.fn as Fn, { backend: "interp" })(...args).data();
      const m = mismatch(got[0]!, { dtype: "f32", shape: got[0]!.shape, data: want }, TOL);
      if (m) throw new Error(`${id}: ${m}`);
      // Where a matmul fills a block, the GPU template runs it: 256 invocations over 4-vector tiles.
      if (["W4", "W5", "W8"].includes(id))
        expect(program.launches.some((l) => l.kernel.shared.some((s) => s.width === 4) && l.kernel.workgroupSize[0] === 256)).toBe(true);
    });
});
