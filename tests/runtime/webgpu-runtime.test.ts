/**
 * The WebGPU runtime's contract: errors become smelt errors that name the kernel, a lost
 * device fails calls instead of hanging, oversized arrays are refused naming the limit,
 * buffers are pooled and accounted, and profiling reports every kernel.
 */
import { afterEach, describe, expect, test } from "vitest";
import { hostArray } from "../../ir/dtype.js";
import { setDebug } from "../../runtime/debug.js";
import { DeviceLimitError, DeviceLostError, KernelCompileError, createWebGPUBackend } from "../../runtime/webgpu.js";
import { fill } from "./webgpu-arbitraries.js";
import { gpu, oneNode } from "./webgpu-helpers.js";

describe.skipIf(!gpu)("webgpu runtime", () => {
  afterEach(() => setDebug(0));

  test("a kernel that fails to compile gives a KernelCompileError naming it, with its WGSL at SMELT_DEBUG=4", async () => {
    const bad = "@compute @workgroup_size(1) fn main() { let x: u32 = 1.5f; }";
    const err = await gpu!.ctx.pipeline("broken_kernel", bad, []).status;
    expect(err).toBeInstanceOf(KernelCompileError);
    expect(err!.message).toContain("broken_kernel");
    expect(err!.message).toContain("SMELT_DEBUG=4");
    setDebug(4);
    const again = await gpu!.ctx.pipeline("broken_kernel_2", bad + " ", []).status;
    expect(again!.message).toContain("let x: u32 = 1.5f;");
  });

  test("kernels whose sources differ only in comment lines share one compiled pipeline; other differences compile apart", () => {
    const body = "@compute @workgroup_size(1) fn main() { let x: u32 = 1u; }";
    const a = gpu!.ctx.pipeline("layer_0", `// %12 = dot_general %3, %4\n${body}`, []);
    const b = gpu!.ctx.pipeline("layer_1", `// %57 = dot_general %48, %49\n  // in0 read as transpose[1,0]\n${body}`, []);
    const c = gpu!.ctx.pipeline("layer_2", `// %12 = dot_general %3, %4\n${body.replace("1u", "2u")}`, []);
    expect(b).toBe(a);
    expect(c).not.toBe(a);
  });

    test("an array larger than maxStorageBufferBindingSize is refused with an error naming the limit", () => {
    const max = gpu!.target.limits.maxStorageBufferBindingSize;
    const g = oneNode("neg", [{ dtype: "f32", shape: [max / 4 + 1] }], {});
    expect(() => gpu!.compile(g)).toThrow(DeviceLimitError);
    expect(() => gpu!.compile(g)).toThrow(/maxStorageBufferBindingSize/);
  });

  test("memoryStats counts live buffers and bytes; free returns them", async () => {
    const before = gpu!.memoryStats();
    const a = gpu!.upload(fill("f32", [10, 10], 1));
    expect(gpu!.memoryStats(before)).toMatchObject({ liveBuffers: 1, liveBytes: 400 });
    gpu!.free(a);
    gpu!.free(a);
    expect(gpu!.memoryStats(before)).toMatchObject({ liveBuffers: 0, liveBytes: 0 });
    await expect(gpu!.read(a)).rejects.toThrow(/already freed/);
  });

  test("bool and empty arrays round-trip through upload and read", async () => {
    const b = hostArray("bool", [5], [1, 0, 0, 1, 1]);
    const buf = gpu!.upload(b);
    expect(Array.from((await gpu!.read(buf)).data)).toEqual([1, 0, 0, 1, 1]);
    gpu!.free(buf);
    const e = gpu!.upload(hostArray("f32", [0, 3]));
    expect((await gpu!.read(e)).data.length).toBe(0);
    gpu!.free(e);
  });

  test("profile reports one entry per kernel launch", async () => {
    const x = fill("f32", [64, 64], 1);
    const g = oneNode("dot_general", [x, x], { lhs_contract: [1], rhs_contract: [0], lhs_batch: [], rhs_batch: [] });
    const exe = await gpu!.compileAsync(g);
    const buf = gpu!.upload(x);
    const entries = await exe.profile!([buf, buf]);
    gpu!.free(buf);
    expect(entries.map((e) => e.kernel)).toEqual(exe.kernels.map((k) => k.name));
    for (const e of entries) expect(e.durUs).toBeGreaterThanOrEqual(0);
  });

  test("after the device is lost, calls throw DeviceLostError instead of hanging", async () => {
    const be = await createWebGPUBackend();
    const g = oneNode("exp", [{ dtype: "f32", shape: [4] }], {});
    const exe = await be.compileAsync(g);
    const x = be.upload(hostArray("f32", [4], [1, 2, 3, 4]));
    const [y] = exe.run([x]);
    be.ctx.destroy();
    await be.ctx.lost;
    expect(() => exe.run([x])).toThrow(DeviceLostError);
    expect(() => be.upload(hostArray("f32", [1], [1]))).toThrow(DeviceLostError);
    await expect(be.read(y!)).rejects.toThrow(DeviceLostError);
  });
});
