/**
 * The CUDA backend without a GPU: on a machine with no driver, choosing it fails with
 * CudaUnavailableError and never crashes the process; against a fake libcuda (host memory,
 * launches recorded, built here from fake-libcuda.c) the FFI marshalling, buffers, bool
 * storage, program runs, profiling and the compile cache are exercised for real, with nvcc.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostArray } from "../../ir/dtype.js";
import { GraphBuilder } from "../../ir/graph.js";
import { lowerGraph } from "../../codegen/program.js";
import { type CudaBuffer, type CudaDevice, CudaUnavailableError, DeviceOutOfMemoryError, createCudaBackend } from "../../runtime/cuda.js";
import { NO_DRIVER_MESSAGE } from "../../runtime/cuda-driver.js";
import type { Backend } from "../../runtime/backend.js";
import { findNvcc } from "../../runtime/cuda-compile.js";

/** Whether this process can load the real driver (then the no-driver tests do not apply). */
async function hasDriver(): Promise<boolean> {
  const koffi = (await import("koffi")).default;
  try {
    koffi.load("libcuda.so.1");
    return true;
  } catch {
    return false;
  }
}

describe("without an NVIDIA driver", () => {
  it("createCudaBackend() rejects with CudaUnavailableError saying libcuda.so.1 is missing", async () => {
    if (await hasDriver()) return console.warn("skipped: this machine has libcuda.so.1");
    const old = process.env.SMELT_LIBCUDA;
    delete process.env.SMELT_LIBCUDA;
    const err = await createCudaBackend().catch((e: unknown) => e);
    if (old !== undefined) process.env.SMELT_LIBCUDA = old;
    expect(err).toBeInstanceOf(CudaUnavailableError);
    expect((err as Error).message).toBe(NO_DRIVER_MESSAGE);
  });

  it("a driver library that cannot be loaded is CudaUnavailableError too, naming the path", async () => {
    const old = process.env.SMELT_LIBCUDA;
    process.env.SMELT_LIBCUDA = "/nonexistent/libcuda.so.1";
    try {
      await expect(createCudaBackend()).rejects.toThrow(/\/nonexistent\/libcuda\.so\.1 could not be loaded/);
    } finally {
      if (old === undefined) delete process.env.SMELT_LIBCUDA;
      else process.env.SMELT_LIBCUDA = old;
    }
  });

  it("init({ backend: \"cuda\" }) rejects the same way and the process carries on", async () => {
    if (await hasDriver()) return;
    const { init } = await import("../../frontend/init.js");
    await expect(init({ backend: "cuda", setDefault: false })).rejects.toBeInstanceOf(CudaUnavailableError);
  });
});

const CC = ["cc", "gcc", "clang"].find((c) => spawnSync(c, ["--version"]).status === 0);
const NVCC = findNvcc();
if (!CC || !NVCC) console.warn(`skipping the fake-driver CUDA tests: ${!CC ? "no C compiler (cc, gcc or clang)" : "nvcc not found"}`);

describe.skipIf(!CC || !NVCC)("against a fake libcuda", () => {
  let dir: string;
  let backend: Backend & { device: CudaDevice };
  let fake: { launches: () => number; liveAllocs: () => number; failNextLaunch: () => void; expectArgs: (n: number) => void; lastArg: (i: number) => number | bigint };
  const saved = { lib: process.env.SMELT_LIBCUDA, cache: process.env.SMELT_CACHE_DIR };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "smelt-fake-cuda-"));
    const lib = join(dir, "libcuda-fake.so");
    const r = spawnSync(CC!, ["-shared", "-fPIC", "-O1", "-o", lib, join(import.meta.dirname, "fake-libcuda.c")], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`building the fake driver failed:\n${r.stderr}`);
    process.env.SMELT_LIBCUDA = lib;
    process.env.SMELT_CACHE_DIR = join(dir, "cache");
    backend = await createCudaBackend();
    const koffi = (await import("koffi")).default;
    const h = koffi.load(lib);
    fake = {
      launches: h.func("long fake_launches()") as () => number,
      liveAllocs: h.func("int fake_live_allocs()") as () => number,
      failNextLaunch: h.func("void fake_fail_next_launch()") as () => void,
      expectArgs: h.func("void fake_expect_args(int)") as (n: number) => void,
      lastArg: h.func("uint64_t fake_last_arg(int)") as (i: number) => number,
    };
  });

  afterAll(() => {
    for (const [k, v] of [["SMELT_LIBCUDA", saved.lib], ["SMELT_CACHE_DIR", saved.cache]] as const)
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    rmSync(dir, { recursive: true, force: true });
  });

  it("reads the device's attributes into the target the lowering uses", () => {
    expect(backend.device.driver.device).toMatchObject({ name: "Fake GPU", sm: 90 });
    expect(backend.target!.name).toBe("cuda");
    expect(backend.target!.limits.maxComputeWorkgroupsPerDimension).toBe(65535);
    expect(backend.target!.limits.maxComputeWorkgroupStorageSize).toBe(49152);
  });

  it("round-trips every dtype through device memory, bool as 32-bit words", async () => {
    for (const a of [
      hostArray("f32", [2, 3], [1.5, -0, NaN, Infinity, 3e-38, 7]),
      hostArray("i32", [4], [-2147483648, -1, 0, 2147483647]),
      hostArray("u32", [3], [0, 1, 4294967295]),
      hostArray("bool", [5], [1, 0, 0, 1, 1]),
      hostArray("f32", [0], []),
    ]) {
      const b = backend.upload(a) as CudaBuffer;
      expect(b.bytes).toBe(4 * a.data.length);
      expect(await backend.read(b)).toEqual(a);
      backend.free(b);
    }
  });

  it("counts live buffers and bytes until they are freed, and refuses a freed buffer", async () => {
    const before = backend.memoryStats();
    const b = backend.upload(hostArray("f32", [10], []));
    expect(backend.memoryStats(before)).toMatchObject({ liveBuffers: 1, liveBytes: 40 });
    backend.free(b);
    expect(backend.memoryStats(before)).toMatchObject({ liveBuffers: 0, liveBytes: 0 });
    await expect(backend.read(b)).rejects.toThrow(/already freed/);
  });

  it("compiles a graph with nvcc in one call, loads it, and launches each kernel with its grid and block", async () => {
    const g = new GraphBuilder("affine");
    const x = g.input({ dtype: "f32", shape: [70, 33] }), w = g.input({ dtype: "f32", shape: [33, 9] });
    const [y] = g.add("dot_general", [x, w], { lhs_contract: [1], rhs_contract: [0], lhs_batch: [], rhs_batch: [] });
    const [z] = g.add("tanh", [y!], {});
    const [s] = g.add("reduce_sum", [z!], { axes: [1] });
    const graph = g.build([z!, s!]);
    const exe = backend.compile(graph);
    const program = lowerGraph(graph, backend.target!);
    expect(exe.kernels.map((k) => k.name)).toEqual(program.launches.map((l) => l.kernel.name));
    expect(exe.peakBytes).toBe(program.peakBytes);

    const before = backend.memoryStats();
    const allocsBefore = fake.liveAllocs();
    const launches = fake.launches();
    const ins = [backend.upload(hostArray("f32", [70, 33], [])), backend.upload(hostArray("f32", [33, 9], []))];
    const outs = exe.run(ins);
    expect(fake.launches() - launches).toBe(program.launches.length);
    expect(outs.map((o) => [o.dtype, o.shape])).toEqual([["f32", [70, 9]], ["f32", [70]]]);
    for (const b of [...ins, ...outs]) backend.free(b);
    expect(backend.memoryStats(before)).toMatchObject({ liveBuffers: 0, liveBytes: 0 });
    // Intermediates went back to the pool, not to the driver, and the pool is bounded.
    expect(fake.liveAllocs()).toBeGreaterThanOrEqual(allocsBefore);
  });

  it("profiles a run with CUDA events, one entry per launch, and frees the profile's outputs", async () => {
    const g = new GraphBuilder("twice");
    const x = g.input({ dtype: "f32", shape: [1000] });
    const [e] = g.add("exp", [x], {});
    const [n] = g.add("neg", [e!], {});
    const exe = backend.compile(g.build([n!]));
    const input = backend.upload(hostArray("f32", [1000], []));
    const before = backend.memoryStats();
    const prof = await exe.profile!([input]);
    expect(prof.map((p) => p.kernel)).toEqual(exe.kernels.map((k) => k.name));
    expect(prof.every((p) => p.durUs >= 0 && p.startUs >= 0)).toBe(true);
    expect(backend.memoryStats(before)).toMatchObject({ liveBuffers: 0, liveBytes: 0 });
    backend.free(input);
  });

  it("keeps compiled images in the disk cache, and reuses a loaded kernel in another program without nvcc", () => {
    const cache = join(process.env.SMELT_CACHE_DIR!, "cuda");
    const images = () => (existsSync(cache) ? readdirSync(cache).filter((f) => f.endsWith(".fatbin")).length : 0);
    const sinOf = (name: string) => {
      const g = new GraphBuilder(name);
      const x = g.input({ dtype: "f32", shape: [7] });
      return g.build([g.add("sin", [x], {})[0]!]);
    };
    const before = images();
    backend.compile(sinOf("first"));
    expect(images()).toBe(before + 1);
    backend.compile(sinOf("second"));
    expect(images()).toBe(before + 1);
  });

  it("passes each kernel its buffers' device pointers, in binding order", () => {
    const g = new GraphBuilder("sub");
    const x = g.input({ dtype: "f32", shape: [5] }), y = g.input({ dtype: "f32", shape: [5] });
    const exe = backend.compile(g.build([g.add("sub", [x, y], {})[0]!]));
    const ins = [backend.upload(hostArray("f32", [5], [])), backend.upload(hostArray("f32", [5], []))] as CudaBuffer[];
    fake.expectArgs(3);
    const [out] = exe.run(ins) as CudaBuffer[];
    fake.expectArgs(0);
    expect([0, 1, 2].map((i) => fake.lastArg(i))).toEqual([ins[0]!.ptr, ins[1]!.ptr, out!.ptr]);
    for (const b of [...ins, out!]) backend.free(b);
  });

  it("a failed launch names the kernel and leaves nothing allocated", () => {
    const g = new GraphBuilder("boom");
    const x = g.input({ dtype: "f32", shape: [4] });
    const exe = backend.compile(g.build([g.add("exp", [x], {})[0]!]));
    const input = backend.upload(hostArray("f32", [4], []));
    const before = backend.memoryStats();
    fake.failNextLaunch();
    expect(() => exe.run([input])).toThrow(/launching kernel exp_0 of @boom .*CUDA_ERROR_LAUNCH_FAILED/);
    expect(backend.memoryStats(before)).toMatchObject({ liveBuffers: 0, liveBytes: 0 });
    backend.free(input);
  });

  it("prepares kernels ahead in parallel nvcc processes, after which compiling their programs runs no nvcc", async () => {
    const cache = join(process.env.SMELT_CACHE_DIR!, "cuda");
    const images = () => readdirSync(cache).length;
    const graphs = [3, 5, 7].map((n) => {
      const g = new GraphBuilder(`cos${n}`);
      const x = g.input({ dtype: "f32", shape: [n, 2] });
      return g.build([g.add("reduce_max", [g.add("cos", [x], {})[0]!], { axes: [1] })[0]!]);
    });
    await backend.device.prepare(graphs.flatMap((g) => lowerGraph(g, backend.target!).launches.map((l) => l.kernel)));
    const before = images();
    for (const g of graphs) backend.compile(g);
    expect(images()).toBe(before);
  });

  it("compileAsync (precompile) compiles a program's kernels ahead, so its load and a later compile run no nvcc", async () => {
    const cache = join(process.env.SMELT_CACHE_DIR!, "cuda");
    const images = () => (existsSync(cache) ? readdirSync(cache).length : 0);
    const g = new GraphBuilder("sin9");
    const x = g.input({ dtype: "f32", shape: [9, 3] });
    const graph = g.build([g.add("reduce_sum", [g.add("sin", [x], {})[0]!], { axes: [1] })[0]!]);
    const before = images();
    const exe = await backend.compileAsync!(graph);
    expect(images()).toBe(before + 1);
    expect(exe.kernels.length).toBeGreaterThan(0);
    backend.compile(graph);
    expect(images()).toBe(before + 1);
  });

  it("refuses inputs of another backend or the wrong count, naming the program", () => {
    const g = new GraphBuilder("one");
    const x = g.input({ dtype: "f32", shape: [3] });
    const exe = backend.compile(g.build([g.add("exp", [x], {})[0]!]));
    expect(() => exe.run([])).toThrow(/@one takes 1 input/);
    expect(() => exe.run([{ backend: "interp", dtype: "f32", shape: [3] }])).toThrow(/interp buffer/);
  });

  it("a read pending when its buffer is freed resolves to that buffer's values, not the next upload's", async () => {
    for (let i = 0; i < 20; i++) {
      const y = backend.upload(hostArray("f32", [64], Array.from({ length: 64 }, (_, j) => i * 100 + j)));
      const p = backend.read(y);
      backend.free(y);
      const z = backend.upload(hostArray("f32", [64], new Array(64).fill(-1)));
      expect(Array.from((await p).data)).toEqual(Array.from({ length: 64 }, (_, j) => i * 100 + j));
      backend.free(z);
    }
  });

  it("an executable's dispose() gives its constants back to the pool, and running it afterwards is a clear error", () => {
    const g = new GraphBuilder("withconst");
    const x = g.input({ dtype: "f32", shape: [4] });
    const [c] = g.add("constant", [], { value: [1, 2, 3, 4], shape: [4], dtype: "f32" });
    const held = backend.device.pool.inUseBytes;
    const exe = backend.compile(g.build([g.add("add", [x, c!], {})[0]!]));
    expect(backend.device.pool.inUseBytes).toBe(held + 16);
    exe.dispose();
    expect(exe.disposed).toBe(true);
    expect(backend.device.pool.inUseBytes).toBe(held);
    expect(() => exe.run([])).toThrow(/@withconst was disposed/);
  });

  it("an allocation past the memory budget is a DeviceOutOfMemoryError, and smaller ones still succeed", async () => {
    backend.setMemoryLimit!(backend.device.pool.inUseBytes + 4096);
    try {
      backend.device.pool.trim();
      expect(() => backend.upload(hostArray("f32", [4096], []))).toThrow(DeviceOutOfMemoryError);
      expect(() => backend.upload(hostArray("f32", [4096], []))).toThrow(/cuda: out of device memory allocating 16\.0 KiB/);
      const b = backend.upload(hostArray("f32", [4], [1, 2, 3, 4]));
      expect(Array.from((await backend.read(b)).data)).toEqual([1, 2, 3, 4]);
      backend.free(b);
    } finally {
      backend.setMemoryLimit!(Infinity);
    }
  });
});
