/**
 * Issue 13, item 1: `await f.precompile(...)` creates every kernel of a program with
 * createComputePipelineAsync, all at once and de-duplicated by code, before the first
 * dispatch; the call that follows creates no pipeline and computes what the interpreter does.
 */
import { describe, expect, test } from "vitest";
import { KernelCompileError, type WebGPUBackend } from "../../runtime/webgpu.js";
import { initBackend } from "../../frontend/init.js";
import { jit, np, random, spec } from "../../index.js";
import type { Tensor } from "../../frontend/core.js";
import { gpu } from "./webgpu-helpers.js";

describe.skipIf(!gpu)("precompile on webgpu", () => {
  test("pipelines created asynchronously are shared by code, and a kernel that does not compile names itself", async () => {
    const ctx = gpu!.ctx;
    const body = "@compute @workgroup_size(1) fn main() { let x: u32 = 7u; }";
    const [a, b] = await Promise.all([
      ctx.pipelineAsync("async_a", `// one call site\n${body}`, []),
      ctx.pipelineAsync("async_b", `// another\n${body}`, []),
    ]);
    expect(b).toBe(a);
    expect(await a.status).toBeUndefined();
    // The synchronous path finds it.
    expect(ctx.pipeline("async_c", body, [])).toBe(a);
    const bad = await ctx.pipelineAsync("async_broken", "@compute @workgroup_size(1) fn main() { let x: u32 = 1.5f; }", []);
    const err = await bad.status;
    expect(err).toBeInstanceOf(KernelCompileError);
    expect(err!.message).toContain("async_broken");
  });

  test("after precompile the first call creates no pipeline, and matches the interpreter", async () => {
    const be = (await initBackend("webgpu")) as WebGPUBackend;
    const mlp = (x: Tensor, w: Tensor, b: Tensor) => np.sum(np.tanh(np.add(np.matmul(x, w), b)), -1);
    const x = random.uniform(random.key(1), [33, 40]) as Tensor;
    const w = random.uniform(random.key(2), [40, 24]) as Tensor;
    const b = random.uniform(random.key(3), [24]) as Tensor;
    const f = jit(mlp, { backend: "webgpu", name: "precompiled_mlp" });
    const stats = await f.precompile(spec("f32[33,40]"), spec("f32[40,24]"), spec("f32[24]"));
    expect(stats.pipelinesMs).toBeGreaterThanOrEqual(0);
    expect(f.traceCount).toBe(1);
    const pipelines = be.ctx.pipelineCount;
    const kernels = f.lower(x, w, b).kernels;
    expect(kernels.length).toBeGreaterThan(0);
    const y = f(x, w, b);
    expect(be.ctx.pipelineCount).toBe(pipelines);
    expect(f.traceCount).toBe(1);
    const want = jit(mlp, { backend: "interp" })(x, w, b);
    const [got, ref] = [await y.data(), await want.data()];
    for (let i = 0; i < ref.length; i++) expect(got[i]).toBeCloseTo(ref[i] as number, 4);
  });

  test("SMELT_AUTOTUNE=1 turns autotuning on for jit without the option; precompile then tunes, and the result matches", async () => {
    await initBackend("webgpu");
    const saved = { tune: process.env.SMELT_AUTOTUNE, rounds: process.env.SMELT_AUTOTUNE_ROUNDS };
    process.env.SMELT_AUTOTUNE = "1";
    process.env.SMELT_AUTOTUNE_ROUNDS = "2";
    try {
      const mm = (x: Tensor, w: Tensor) => np.matmul(x, w);
      const x = random.uniform(random.key(4), [40, 48]) as Tensor;
      const w = random.uniform(random.key(5), [48, 64]) as Tensor;
      const f = jit(mm, { backend: "webgpu", name: "env_tuned" });
      const stats = await f.precompile(x, w);
      expect(stats.autotuneMs).toBeGreaterThan(0);
      const [kernel] = f.lower(x, w).kernels;
      expect(kernel!.tuned?.times.length).toBeGreaterThanOrEqual(2);
      const untuned = jit(mm, { backend: "webgpu", name: "env_untuned", autotune: false });
      await untuned.precompile(x, w);
      expect(untuned.lower(x, w).kernels[0]!.tuned).toBeUndefined();
      const want = jit(mm, { backend: "interp" })(x, w);
      const [got, ref] = [await f(x, w).data(), await want.data()];
      for (let i = 0; i < ref.length; i++) expect(got[i]).toBeCloseTo(ref[i] as number, 4);
    } finally {
      for (const [k, v] of [["SMELT_AUTOTUNE", saved.tune], ["SMELT_AUTOTUNE_ROUNDS", saved.rounds]] as const)
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    }
  });

  test("precompile on the interpreter (no pipelines) compiles, and the call uses it", async () => {
    const f = jit((x: Tensor) => np.exp(x), { backend: "interp" });
    const stats = await f.precompile(spec("f32[3]"));
    expect(stats.passesMs).toBeGreaterThanOrEqual(0);
    expect(Array.from(await f(np.array([0, 1, 2])).data())).toEqual([1, Math.E, Math.exp(2)].map((v) => Math.fround(v)));
    expect(f.traceCount).toBe(1);
  });
});
