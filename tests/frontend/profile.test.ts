import { describe, expect, test } from "vitest";
import { gpu } from "../runtime/webgpu-helpers.js";
import { initBackend } from "../../frontend/init.js";
import { jit } from "../../frontend/jit.js";
import { np, nn } from "../../index.js";
import type { Tensor } from "../../frontend/core.js";

describe.skipIf(!gpu)("profiling a compiled call", () => {
  test("profile() times every kernel launch of the compiled program", async () => {
    await initBackend("webgpu");
    const f = jit((x: Tensor) => np.add(nn.softmax(x), 1), { backend: "webgpu", fuse: false });
    const x = np.array([[1, 2, 3], [4, 5, 7]]);
    const low = f.lower(x);
    const profile = await low.profile(x);
    expect(profile.entries.map((e) => e.kernel)).toEqual(low.kernels.map((k) => k.name));
    for (const e of profile.entries) {
      expect(e.durUs).toBeGreaterThanOrEqual(0);
      expect(Number.isFinite(e.startUs)).toBe(true);
    }
  });

  test("the Chrome trace has one complete event per kernel, in microseconds", async () => {
    const f = jit((x: Tensor) => nn.softmax(x), { backend: "webgpu", name: "sm" });
    const x = np.array([[1, 2, 3]]);
    const trace = (await f.lower(x).profile(x)).toChromeTrace();
    const kernels = trace.traceEvents.filter((e) => (e as { ph: string }).ph === "X");
    expect(kernels).toHaveLength(f.lower(x).kernels.length);
    expect(kernels[0]).toMatchObject({ cat: "kernel", pid: 1, tid: 1 });
    expect(JSON.parse(JSON.stringify(trace)).traceEvents.length).toBe(trace.traceEvents.length);
  });
});

describe("profiling on the interpreter", () => {
  test("is refused with an error naming the backend", async () => {
    const f = jit((x: Tensor) => np.exp(x), { backend: "interp" });
    const x = np.array([1, 2]);
    await expect(f.lower(x).profile(x)).rejects.toThrow(/interp backend cannot profile/);
  });
});
