/**
 * The CUDA backend: the same lowering as WebGPU (graph → Program of kernel launches with
 * explicit allocate/free steps), rendered to CUDA C, compiled by nvcc in one call per
 * program (runtime/cuda-compile.ts, cached on disk), loaded with cuModuleLoadData and
 * launched with cuLaunchKernel on the default stream (runtime/cuda-driver.ts).
 *
 * Buffers are device allocations from a size-class pool: cuMemFree synchronises the whole
 * device, so an intermediate goes back to the pool, and launches on one stream order its
 * reuse. bool is stored as a 32-bit word, as on WebGPU, so upload widens and read narrows.
 */
import { availableParallelism } from "node:os";
import { type DType, type HostArray, deviceBytes, formatType, sizeOf } from "../ir/dtype.js";
import { type Graph, verify } from "../ir/graph.js";
import { cudaKernelKey, renderCuda, renderCudaModule } from "../codegen/render/cuda.js";
import type { Kernel } from "../codegen/kernel.js";
import { type Program, lowerGraph } from "../codegen/program.js";
import { CUDA_SM80_TARGET, type Target } from "../codegen/target.js";
import type { Backend, CompileOptions, DeviceBuffer, Executable, KernelInfo, MemoryStats, ProfileEntry } from "./backend.js";
import { type CompileResult, compileCudaModule, compileCudaModules, findNvcc, toolkit } from "./cuda-compile.js";
import { CudaDriver, CudaError, CudaUnavailableError, type DevicePtr, type DeviceInfo } from "./cuda-driver.js";
import { debugLevel, debugLog } from "./debug.js";
import { checkInputs, execute } from "./executor.js";
import { BufferPool, LiveBuffers, fromDevice, ownResources, toDevice } from "./memory.js";

export { CudaUnavailableError, CudaError } from "./cuda-driver.js";
export { DeviceOutOfMemoryError } from "./memory.js";

const CUDA_ERROR_OUT_OF_MEMORY = 2;
export { CudaCompileError } from "./cuda-compile.js";

/** A device allocation holding one array. */
export class CudaBuffer implements DeviceBuffer {
  readonly backend = "cuda" as const;
  freed = false;
  constructor(
    readonly dtype: DType,
    readonly shape: readonly number[],
    readonly ptr: DevicePtr,
  ) {}
  get bytes(): number {
    return deviceBytes(this.dtype) * sizeOf(this.shape);
  }
}

/** Device limits as the lowering sees them, read from the device's attributes. */
export function cudaTarget(info: DeviceInfo): Target {
  const a = info.attributes;
  return {
    name: "cuda",
    limits: {
      ...CUDA_SM80_TARGET.limits,
      // One grid rule for both targets: x and y both stop at 65,535 (CUDA's y limit).
      maxComputeWorkgroupsPerDimension: Math.min(a.maxGridDimY, 65535),
      maxComputeInvocationsPerWorkgroup: a.maxThreadsPerBlock,
      maxComputeWorkgroupStorageSize: a.maxSharedMemoryPerBlock,
      maxComputeWorkgroupSizeX: a.maxBlockDimX,
      maxComputeWorkgroupSizeY: a.maxBlockDimY,
      maxComputeWorkgroupSizeZ: a.maxBlockDimZ,
    },
    features: { ...CUDA_SM80_TARGET.features, f16: info.sm >= 53, asyncCopy: info.sm >= 80 },
  };
}

/** An open device: the driver, the buffer pool, and loaded kernels. */
export class CudaDevice {
  /** Device allocations, reused across calls (runtime/memory.ts): cuMemFree synchronises the device. */
  readonly pool: BufferPool<DevicePtr>;
  private readonly live = new LiveBuffers<CudaBuffer>();
  /** Loaded kernels by their text (cudaKernelKey). */
  private readonly functions = new Map<string, unknown>();

  constructor(
    readonly driver: CudaDriver,
    readonly nvcc: string,
  ) {
    this.pool = new BufferPool<DevicePtr>({
      create: (bytes) => driver.alloc(bytes),
      destroy: (ptr) => driver.free(ptr),
      isOutOfMemory: (e) => e instanceof CudaError && e.code === CUDA_ERROR_OUT_OF_MEMORY,
    }, Math.min(2 ** 30, driver.device.totalBytes / 8), "cuda");
  }

  get target(): Target {
    return cudaTarget(this.driver.device);
  }

  /** A caller-owned buffer over `ptr` (taken from the pool), counted by memoryStats until freed. */
  adopt(dtype: DType, shape: readonly number[], ptr: DevicePtr): CudaBuffer {
    return this.live.add(new CudaBuffer(dtype, shape, ptr));
  }

  /** A caller-owned buffer, counted by memoryStats until freed. */
  own(dtype: DType, shape: readonly number[]): CudaBuffer {
    return this.adopt(dtype, shape, this.pool.acquire(deviceBytes(dtype) * sizeOf(shape)));
  }

  /** Buffers with a read in flight, and how many: their memory stays theirs until the reads finish. */
  private readonly reading = new Map<CudaBuffer, number>();

  disown(b: CudaBuffer): void {
    if (!this.live.delete(b)) return;
    b.freed = true;
    // A read waiting for the stream still copies from b.ptr: the read gives it back.
    if (!this.reading.has(b)) this.pool.release(b.ptr);
  }

  upload(a: HostArray): CudaBuffer {
    const b = this.own(a.dtype, a.shape);
    this.driver.copyToDevice(b.ptr, toDevice(a), b.bytes);
    return b;
  }

  /** Waits for the work queued so far without blocking the event loop, then copies. */
  async read(b: CudaBuffer): Promise<HostArray> {
    if (b.freed) throw new Error(`cuda: read of a ${formatType(b)} buffer that was already freed`);
    this.reading.set(b, (this.reading.get(b) ?? 0) + 1);
    try {
      await this.settle();
      const bytes = new Uint8Array(b.bytes);
      this.driver.copyToHost(bytes, b.ptr, b.bytes);
      return fromDevice(b.dtype, b.shape, bytes.buffer);
    } finally {
      const n = this.reading.get(b)! - 1;
      if (n > 0) this.reading.set(b, n);
      else {
        this.reading.delete(b);
        if (b.freed) this.pool.release(b.ptr);
      }
    }
  }

  /** Resolves once all queued work is done, polling an event so other JS keeps running meanwhile. */
  async settle(): Promise<void> {
    const ev = this.driver.createEvent(false);
    try {
      this.driver.record(ev);
      for (let wait = 0; !this.driver.isDone(ev); wait = Math.min(wait * 2 + 0.05, 2))
        await new Promise((r) => (wait < 0.1 ? setImmediate(r) : setTimeout(r, wait)));
    } finally {
      this.driver.destroyEvent(ev);
    }
  }

  memoryStats(since?: MemoryStats): MemoryStats {
    return this.live.stats(this.pool, since);
  }

  /**
   * The driver function of each kernel. Kernels not loaded yet are compiled together, in
   * one nvcc call, and kept by their text (not their name), so a kernel that recurs in
   * another program, or that `prepare` compiled ahead, costs no nvcc call.
   */
  functionsFor(kernels: readonly Kernel[]): unknown[] {
    const keys = kernels.map(cudaKernelKey);
    const missing = this.missing(kernels, keys);
    if (missing.size) {
      const mod = this.module([...missing.values()]);
      const t0 = performance.now();
      const result = compileCudaModule({ source: mod.source, kernels: mod.entries, sm: this.driver.device.sm, nvcc: this.nvcc });
      this.install([...missing.keys()], mod.entries, result);
      debugLog(1, `cuda: loaded ${missing.size} kernel(s) in ${(performance.now() - t0).toFixed(0)} ms`);
    }
    return keys.map((k) => this.functions.get(k));
  }

  /**
   * Compiles and loads kernels ahead of the programs that use them: split into one module
   * per core, compiled by parallel nvcc processes, so later compiles cost no nvcc call.
   */
  async prepare(kernels: readonly Kernel[]): Promise<void> {
    const missing = this.missing(kernels, kernels.map(cudaKernelKey));
    const keys = [...missing.keys()];
    const per = Math.max(32, Math.ceil(keys.length / availableParallelism()));
    const chunks: string[][] = [];
    for (let i = 0; i < keys.length; i += per) chunks.push(keys.slice(i, i + per));
    const mods = chunks.map((c) => this.module(c.map((k) => missing.get(k)!)));
    const sm = this.driver.device.sm;
    const results = await compileCudaModules(mods.map((m) => ({ source: m.source, kernels: m.entries, sm, nvcc: this.nvcc })));
    chunks.forEach((c, i) => this.install(c, mods[i]!.entries, results[i]!));
  }

  /** Kernels not loaded yet, by key, each once. */
  private missing(kernels: readonly Kernel[], keys: readonly string[]): Map<string, Kernel> {
    const missing = new Map<string, Kernel>();
    kernels.forEach((k, i) => {
      if (!this.functions.has(keys[i]!) && !missing.has(keys[i]!)) missing.set(keys[i]!, k);
    });
    return missing;
  }

  /** One module for kernels of different programs: names made unique, since the driver finds kernels by name. */
  private module(kernels: readonly Kernel[]) {
    const names = new Set<string>();
    const mod = renderCudaModule(kernels.map((k) => {
      let name = k.name;
      for (let n = 2; names.has(name); n++) name = `${k.name}_${n}`;
      names.add(name);
      return { ...k, name };
    }));
    debugLog(4, () => `--- CUDA module (${kernels.length} kernels) ---\n${mod.source}`);
    return mod;
  }

  private install(keys: readonly string[], entries: readonly string[], result: CompileResult): void {
    const handle = this.driver.loadModule(result.image);
    keys.forEach((key, i) => this.functions.set(key, this.driver.getFunction(handle, entries[i]!)));
    debugLog(1, `cuda: ${keys.length} kernel(s) for sm_${result.arch}${result.cached ? " from the cache" : ""}`);
  }
}

export class CudaExecutable implements Executable {
  readonly kernels: readonly KernelInfo[];
  private readonly functions: unknown[];
  /** Constant buffers, uploaded once and held until `dispose` (or collection). */
  private readonly constants = new Map<number, DevicePtr>();
  private readonly freeConstants: () => void;
  disposed = false;

  constructor(
    private readonly device: CudaDevice,
    readonly program: Program,
    /** Each launch's CUDA C, where an earlier load rendered it (the persistent compile cache). */
    sources?: readonly string[],
  ) {
    this.functions = device.functionsFor(program.launches.map((l) => l.kernel));
    for (const b of program.buffers) {
      if (b.role !== "constant") continue;
      const ptr = device.pool.acquire(b.bytes);
      device.driver.copyToDevice(ptr, toDevice({ dtype: b.dtype, shape: b.shape, data: b.data! }), b.bytes);
      this.constants.set(b.id, ptr);
    }
    const pool = device.pool, held = [...this.constants.values()];
    this.freeConstants = ownResources(this, () => held.forEach((ptr) => pool.release(ptr)));
    const name = (id: number) => `$${id}`;
    this.kernels = program.launches.map((l, i) => {
      const writes = l.kernel.bindings.map((b) => b.access !== "read");
      return {
        name: l.kernel.name,
        inputs: l.args.filter((_, j) => !writes[j]).map(name),
        outputs: l.args.filter((_, j) => writes[j]).map(name),
        workgroups: l.kernel.grid,
        source: sources?.[i] ?? renderCuda(l.kernel),
        ...(l.kernel.flops ? { flops: l.kernel.flops } : {}),
      };
    });
  }

  get peakBytes(): number {
    return this.program.peakBytes;
  }

  dispose(): void {
    this.disposed = true;
    this.freeConstants();
  }

  run(inputs: readonly DeviceBuffer[], timing?: (launch: number, phase: "start" | "end") => void): DeviceBuffer[] {
    if (!timing && debugLevel() >= 2) return this.runLogged(inputs);
    const { program, device } = this;
    if (this.disposed) throw new Error(`@${program.name} was disposed; compile it again`);
    const own = inputs.map((x, i) => unwrap(x, `@${program.name} input ${i}`));
    checkInputs(program, own);
    const bound = new Map(this.constants);
    program.inputs.forEach((id, i) => bound.set(id, own[i]!.ptr));
    const call = execute<DevicePtr>(program, {
      acquire: (bytes) => device.pool.acquire(bytes),
      release: (ptr) => device.pool.release(ptr),
      launch: (i, step, ptrs) => {
        timing?.(i, "start");
        try {
          device.driver.launch(this.functions[i]!, step.kernel.grid, step.kernel.workgroupSize, ptrs);
        } catch (e) {
          if (e instanceof Error) e.message = `launching kernel ${step.kernel.name} of @${program.name} (grid [${step.kernel.grid}], block [${step.kernel.workgroupSize}]): ${e.message}`;
          throw e;
        }
        timing?.(i, "end");
      },
    }, bound);
    // Launches on the one stream order any reuse of the freed slots after this call.
    call.release();
    return program.outputs.map((id, k) => device.adopt(program.buffers[id]!.dtype, program.buffers[id]!.shape, call.results[k]!));
  }

  /** Runs once with a pair of CUDA events around each launch; times are device times. */
  async profile(inputs: readonly DeviceBuffer[]): Promise<ProfileEntry[]> {
    const { outs, entries } = this.timed(inputs);
    const result = await entries;
    for (const o of outs) this.device.disown(o as CudaBuffer);
    return result;
  }

  /** A run with events around each launch; the entries resolve once the device has finished. */
  private timed(inputs: readonly DeviceBuffer[]): { outs: DeviceBuffer[]; entries: Promise<ProfileEntry[]> } {
    const d = this.device.driver;
    const marks: { launch: number; start: unknown; end: unknown }[] = [];
    const outs = this.run(inputs, (launch, phase) => {
      const ev = d.createEvent();
      d.record(ev);
      if (phase === "start") marks.push({ launch, start: ev, end: undefined });
      else marks[marks.length - 1]!.end = ev;
    });
    const entries = this.device.settle().then(() => {
      const origin = marks[0]?.start;
      const list = marks.map((m) => ({
        kernel: this.program.launches[m.launch]!.kernel.name,
        startUs: d.elapsedMs(origin, m.start) * 1000,
        durUs: d.elapsedMs(m.start, m.end) * 1000,
      }));
      for (const m of marks) {
        d.destroyEvent(m.start);
        d.destroyEvent(m.end);
      }
      return list;
    });
    return { outs, entries };
  }

  /** SMELT_DEBUG=2: every call is timed per kernel and logged when the device is done. */
  private runLogged(inputs: readonly DeviceBuffer[]): DeviceBuffer[] {
    const { outs, entries } = this.timed(inputs);
    entries.then(
      (es) => debugLog(2, `cuda: @${this.program.name}: ${es.map((e) => `${e.kernel} ${e.durUs.toFixed(1)} µs`).join(", ")}`),
      (e: unknown) => debugLog(1, `cuda: timing @${this.program.name} failed: ${(e as Error).message}`),
    );
    return outs;
  }
}

function unwrap(b: DeviceBuffer, what: string): CudaBuffer {
  if (!(b instanceof CudaBuffer)) throw new Error(`cuda: ${what} got a ${b.backend} buffer (${formatType(b)})`);
  if (b.freed) throw new Error(`cuda: ${what} got a buffer (${formatType(b)}) that was already freed`);
  return b;
}

/** Opens the CUDA device; rejects with CudaUnavailableError when there is no driver, device or nvcc. */
export async function createCudaBackend(options: { ordinal?: number } = {}): Promise<Backend & { device: CudaDevice }> {
  const driver = await CudaDriver.open(options.ordinal ?? 0);
  const nvcc = findNvcc();
  if (!nvcc)
    throw new CudaUnavailableError(
      `found ${driver.device.name} but not nvcc, which compiles smelt's kernels (set SMELT_NVCC or CUDA_HOME, or put the CUDA toolkit on PATH)`,
    );
  const device = new CudaDevice(driver, nvcc);
  const info = driver.device;
  debugLog(1, `cuda: ${info.name}, sm_${info.sm}, ${(info.totalBytes / 2 ** 30).toFixed(1)} GiB, driver ${info.driverVersion}, nvcc ${toolkit(nvcc).version}`);
  const load = (program: Program, sources?: readonly string[]): Executable => {
    debugLog(3, () => program.kernelsText());
    return new CudaExecutable(device, program, sources);
  };
  return {
    name: "cuda",
    device,
    target: device.target,
    upload: (a) => device.upload(a),
    read: async (b) => device.read(unwrap(b, "read")),
    free: (b) => device.disown(unwrap(b, "free")),
    compile(graph: Graph, _options?: CompileOptions): Executable {
      verify(graph);
      return load(lowerGraph(graph, device.target));
    },
    load,
    // precompile: every kernel not loaded yet compiled by parallel nvcc processes (`prepare`)
    // before the program loads, so loading finds each module once. No autotuning on CUDA:
    // programs keep their default tilings.
    async compileAsync(graph: Graph, _options?: CompileOptions): Promise<Executable> {
      verify(graph);
      const program = lowerGraph(graph, device.target);
      await device.prepare(program.launches.map((l) => l.kernel));
      return load(program);
    },
    async loadAsync(program: Program, sources?: readonly string[]): Promise<Executable> {
      await device.prepare(program.launches.map((l) => l.kernel));
      return load(program, sources);
    },
    memoryStats: (since) => device.memoryStats(since),
    setMemoryLimit: (bytes) => {
      device.pool.limitBytes = bytes;
    },
    synchronize: () => device.settle(),
  };
}

