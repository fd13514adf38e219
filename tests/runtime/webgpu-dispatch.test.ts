/**
 * What one compiled call costs the WebGPU API: one command encoder and one submit however
 * many kernels it launches, and, once warm, no new bind groups (they are cached per launch
 * by the buffers bound, which the pool hands back call after call).
 */
import { describe, expect, test } from "vitest";
import { GraphBuilder, verify } from "../../ir/graph.js";
import { fill } from "./webgpu-arbitraries.js";
import { gpu, mismatch } from "./webgpu-helpers.js";
import { evalGraph } from "../../runtime/interp.js";

/** exp(x·w + b): three kernels unfused. */
function threeKernels() {
  const b = new GraphBuilder("three");
  const x = b.input({ dtype: "f32", shape: [16, 32] }), w = b.input({ dtype: "f32", shape: [32, 8] }), c = b.input({ dtype: "f32", shape: [16, 8] });
  const [y] = b.add("dot_general", [x, w], { lhs_contract: [1], rhs_contract: [0], lhs_batch: [], rhs_batch: [] });
  const [z] = b.add("add", [y!, c], {});
  const g = b.build(b.add("exp", [z!], {}));
  verify(g);
  return g;
}

/** Counts calls of `name` on `obj` while `body` runs (WebGPU objects are plain JS wrappers in Dawn's Node binding). */
async function counting<T>(obj: object, names: string[], body: () => Promise<T>): Promise<{ result: T; calls: Record<string, number> }> {
  const target = obj as Record<string, (...a: unknown[]) => unknown>;
  const calls: Record<string, number> = {};
  const originals = names.map((n) => target[n]!);
  names.forEach((n, i) => {
    calls[n] = 0;
    target[n] = function (this: unknown, ...a: unknown[]) {
      calls[n]!++;
      return originals[i]!.apply(this, a);
    };
  });
  try {
    return { result: await body(), calls };
  } finally {
    names.forEach((n, i) => (target[n] = originals[i]!));
  }
}

describe.skipIf(!gpu)("webgpu dispatch", () => {
  test("a call of three kernels is one encoder and one submit, and a warm call creates no bind group", async () => {
    const be = gpu!;
    const g = threeKernels();
    const exe = await be.compileAsync(g);
    expect(exe.kernels.length).toBe(3);
    const inputs = g.inputs.map((v, i) => fill("f32", v.shape, i + 1, -1, 1));
    const dev = inputs.map((a) => be.upload(a));
    const call = async () => {
      const [out] = exe.run(dev);
      const got = await be.read(out!);
      be.free(out!);
      return got;
    };
    await call();
    await call();
    const device = be.ctx.device;
    const { result, calls } = await counting(device, ["createCommandEncoder", "createBindGroup"], () =>
      counting(device.queue, ["submit"], async () => {
        const [out] = exe.run(dev);
        return out!;
      }));
    expect(calls.createBindGroup).toBe(0);
    expect(calls.createCommandEncoder).toBe(1);
    expect(result.calls.submit).toBe(1);
    const got = await be.read(result.result);
    be.free(result.result);
    for (const d of dev) be.free(d);
    expect(mismatch(got, evalGraph(g, inputs)[0]!, { rtol: 1e-5, atol: 1e-5 })).toBeUndefined();
  });
});
