/**
 * The WebGPU backend: compiles a graph to a Program (codegen/program.ts), renders each
 * kernel as WGSL, and runs a call as one command encoder and one submit. Errors from
 * WebGPU arrive asynchronously; each result buffer carries the status of the call that
 * made it, so `read` throws the KernelCompileError / DeviceError that concerns it, and a
 * lost device turns every call into a DeviceLostError instead of a hang.
 */
import { type HostArray, type Shape, type DType, deviceBytes, formatType, sizeOf } from "../ir/dtype.js";
import type { Graph } from "../ir/graph.js";
import { checkArray } from "../codegen/indexing.js";
import type { Access } from "../codegen/kernel.js";
import { type Program, lowerGraph } from "../codegen/program.js";
import type { Target } from "../codegen/target.js";
import { renderKernel } from "../codegen/render/index.js";
import type { Backend, CompileOptions, DeviceBuffer, Executable, KernelInfo, MemoryStats, ProfileEntry } from "./backend.js";
import { applyStored, tune } from "./autotune.js";
import { debugLevel, debugLog } from "./debug.js";
import { WebGPUKernelTimer } from "./webgpu-tune.js";
import { checkInputs, execute } from "./executor.js";
import { LiveBuffers, fromDevice, ownResources, toDevice } from "./memory.js";
import { BUFFER_USAGE, BindGroupCache, type CachedPipeline, DeviceError, DeviceLostError, type DeviceOptions, GPUDeviceContext, type Launch } from "./webgpu-device.js";

export { DeviceError, DeviceLostError, KernelCompileError, NoAdapterError, GPUDeviceContext, defaultMemoryLimit } from "./webgpu-device.js";
export type { DeviceOptions } from "./webgpu-device.js";
export { DeviceOutOfMemoryError } from "./memory.js";
export { DeviceLimitError } from "../codegen/indexing.js";

type Status = Promise<Error | undefined>;
const OK: Status = Promise.resolve(undefined);

/** A device-resident array; `status` settles to the error of the call that produced it, if any. */
export class WebGPUBuffer implements DeviceBuffer {
  readonly backend = "webgpu" as const;
  freed = false;
  constructor(
    readonly dtype: DType,
    readonly shape: Shape,
    readonly gpu: GPUBuffer,
    readonly bytes: number,
    /** Set by the call that writes it. */
    public status: Status,
    /** The device it lives on: after that device is lost, the buffer's data is gone. */
    readonly ctx: GPUDeviceContext,
  ) {}
}

function firstError(all: Status[]): Status {
  return Promise.all(all).then((es) => es.find((e) => e !== undefined));
}

/**
 * The WebGPU backend. It outlives its device: after a device loss, `reopen()` (which
 * `init()` calls, and a call on the lost device starts) opens a new device under the same
 * backend; buffers and programs of the lost device say so when used, and programs compile again.
 */
export class WebGPUBackend implements Backend {
  readonly name = "webgpu" as const;
  private readonly live = new LiveBuffers<WebGPUBuffer>();
  private device: GPUDeviceContext;
  private reopening: Promise<void> | undefined;
  /** The device memory budget, kept across a reopen. */
  private memoryLimit: number;

  constructor(ctx: GPUDeviceContext) {
    this.device = ctx;
    this.memoryLimit = ctx.pool.limitBytes;
  }

  /** The current device (after a loss, the lost one until a new one is open). */
  get ctx(): GPUDeviceContext {
    return this.device;
  }

  get target(): Target {
    return this.device.target;
  }

  get deviceLost(): boolean {
    return this.device.isLost;
  }

  /** The current device if it is alive; else starts opening a new one and throws DeviceLostError. */
  alive(): GPUDeviceContext {
    const ctx = this.device;
    if (!ctx.isLost) return ctx;
    this.reopenInBackground();
    const lost = (() => {
      try {
        ctx.checkAlive();
      } catch (e) {
        return e as DeviceLostError;
      }
      return new DeviceLostError("unknown", "");
    })();
    throw new DeviceLostError(lost.reason, `${lost.detail}; a new device is being opened (\`await init()\` waits for it), then calls run on it`);
  }

  private reopenInBackground(): void {
    this.reopen().catch((e: Error) => debugLog(1, `webgpu: reopening after device loss failed: ${e.message}`));
  }

  /** Opens a new device if the current one was lost (once, however many callers ask). */
  reopen(): Promise<void> {
    if (!this.device.isLost) return Promise.resolve();
    return (this.reopening ??= GPUDeviceContext.open({ memoryLimit: this.memoryLimit })
      .then((ctx) => {
        const lost = this.device;
        this.device = ctx;
        // Buffers of the lost device went with it: they no longer count as live.
        this.live.drop((b) => b.ctx === lost);
        debugLog(1, "webgpu: opened a new device after the previous one was lost");
      })
      .finally(() => (this.reopening = undefined)));
  }

  /** Sets the device memory budget in bytes (init({ memoryLimit })). */
  setMemoryLimit(bytes: number): void {
    this.memoryLimit = bytes;
    this.device.pool.limitBytes = bytes;
  }

  /** A pooled buffer wrapped as a live DeviceBuffer (counted by memoryStats until freed). */
  allocate(dtype: DType, shape: Shape): WebGPUBuffer {
    checkArray("webgpu buffer", dtype, shape, this.target);
    const ctx = this.alive();
    const bytes = sizeOf(shape) * deviceBytes(dtype);
    const gpu = ctx.acquire(bytes);
    return this.live.add(new WebGPUBuffer(dtype, [...shape], gpu, bytes, ctx.allocation(gpu), ctx));
  }

  /** A buffer the executor took from the pool of `ctx`, handed to the caller as a result. */
  adopt(dtype: DType, shape: Shape, gpu: GPUBuffer, ctx: GPUDeviceContext): WebGPUBuffer {
    return this.live.add(new WebGPUBuffer(dtype, [...shape], gpu, sizeOf(shape) * deviceBytes(dtype), OK, ctx));
  }

  upload(a: HostArray): DeviceBuffer {
    const b = this.allocate(a.dtype, a.shape);
    if (b.bytes > 0) b.ctx.write(b.gpu, toDevice(a));
    return b;
  }

  /** The live WebGPU buffer behind a DeviceBuffer; throws on foreign, freed or lost buffers. */
  own(b: DeviceBuffer, what: string): WebGPUBuffer {
    if (!(b instanceof WebGPUBuffer)) throw new Error(`${what}: a ${b.backend} buffer was passed to the webgpu backend`);
    if (b.freed) throw new Error(`${what}: buffer ${formatType(b)} was already freed`);
    if (b.ctx.isLost || b.ctx !== this.device) {
      if (this.device.isLost) this.reopenInBackground();
      throw new DeviceLostError("lost", `${what}: this ${formatType(b)} tensor belonged to a WebGPU device that was lost, and its data went with it; create it again on the new device`);
    }
    return b;
  }

  /**
   * Copies the buffer to a staging buffer in a submit issued before this returns, so a
   * `dispose()` (or any other call) after `read` cannot change what it resolves to: the
   * buffer may go back to the pool at once, and whatever reuses it is queued after the copy.
   */
  read(buf: DeviceBuffer): Promise<HostArray> {
    let b: WebGPUBuffer;
    let copied: Promise<ArrayBuffer>;
    try {
      b = this.own(buf, "read");
      copied = b.bytes === 0 ? Promise.resolve(new ArrayBuffer(0)) : b.ctx.read(b.gpu, b.bytes);
    } catch (e) {
      return Promise.reject(e);
    }
    return (async () => {
      const err = await b.ctx.raceLost(b.status);
      if (err) {
        copied.catch(() => undefined);
        throw err;
      }
      return fromDevice(b.dtype, b.shape, await copied);
    })();
  }

  free(buf: DeviceBuffer): void {
    const b = buf as WebGPUBuffer;
    if (!(b instanceof WebGPUBuffer) || b.freed) return;
    b.freed = true;
    b.ctx.release(b.gpu);
    this.live.delete(b);
  }

  compile(graph: Graph, options: CompileOptions = {}): WebGPUExecutable {
    this.alive();
    const program = lowerGraph(graph, this.loweringTarget(options));
    if (!options.autotune) return this.load(program);
    const tuned = applyStored(program, this.tuningDevice());
    return new WebGPUExecutable(this, tuned.program, { untuned: tuned.untuned });
  }

  load(program: Program, sources?: readonly string[]): WebGPUExecutable {
    this.alive();
    debugLog(3, () => `${program}\n${program.kernelsText()}`);
    return new WebGPUExecutable(this, program, sources ? { sources } : {});
  }

  /**
   * Compiles with every pipeline created at once (createComputePipelineAsync) and, with
   * `autotune`, the candidates of each matmul without a stored choice timed on this device.
   * Throws the KernelCompileError of a kernel that does not compile.
   */
  async compileAsync(graph: Graph, options: CompileOptions = {}): Promise<WebGPUExecutable> {
    this.alive();
    let program = lowerGraph(graph, this.loweringTarget(options));
    const t0 = performance.now();
    if (options.autotune) program = (await tune(program, new WebGPUKernelTimer(this))).program;
    return this.loadAsync(program, undefined, options.autotune ? performance.now() - t0 : undefined);
  }

  /** Loads `program` once each distinct kernel's pipeline exists, all created concurrently. */
  async loadAsync(program: Program, sources?: readonly string[], autotuneMs?: number): Promise<WebGPUExecutable> {
    const ctx = this.alive();
    debugLog(3, () => `${program}\n${program.kernelsText()}`);
    const launches = program.launches;
    const rendered = launches.map((l, i) => sources?.[i] ?? renderKernel(ctx.target, l.kernel));
    const t0 = performance.now();
    await Promise.all(launches.map((l, i) => ctx.pipelineAsync(l.kernel.name, rendered[i]!, l.kernel.bindings.map((b) => b.access))));
    const exe = new WebGPUExecutable(this, program, {
      sources: rendered, pipelinesMs: performance.now() - t0, ...(autotuneMs !== undefined ? { autotuneMs } : {}),
    });
    const err = await ctx.raceLost(exe.ready);
    if (err) throw err;
    return exe;
  }

  /** The target lowering sees: the device's, asking for candidate tilings when autotuning. */
  private loweringTarget(options: CompileOptions): Target {
    return options.autotune ? { ...this.target, autotune: true } : this.target;
  }

  /** This device in autotune signatures: the adapter's identity and the target. */
  tuningDevice(): string {
    const info = this.ctx.adapter.info;
    return `webgpu ${info.vendor}/${info.architecture}/${info.device}/${info.description} ${JSON.stringify(this.target)}`;
  }

  memoryStats(since?: MemoryStats): MemoryStats {
    return this.live.stats(this.device.pool, since);
  }

  synchronize(): Promise<void> {
    return this.device.synchronize();
  }
}

/** What each launch of a compiled program needs, resolved once: the pipeline and its bind groups. */
interface LaunchSite {
  readonly source: string;
  readonly access: readonly Access[];
  readonly pipeline: CachedPipeline;
  readonly bindGroups: BindGroupCache;
  /** Creating its pipeline here, in ms (about 0 when the device had it). */
  readonly ms: number;
}

/** How a program is loaded: what an earlier step already did. */
export interface ExecutableOptions {
  /** Each launch's WGSL, where an earlier load rendered it (the persistent compile cache). */
  readonly sources?: readonly string[];
  /** Kernels running their default tiling for want of an autotune choice. */
  readonly untuned?: number;
  /** Pipeline creation time when the pipelines were created before (loadAsync). */
  readonly pipelinesMs?: number;
  /** Time the autotuner spent choosing tilings before the load. */
  readonly autotuneMs?: number;
}

export class WebGPUExecutable implements Executable {
  readonly kernels: KernelInfo[];
  readonly peakBytes: number;
  /** Settles once every pipeline compiled, to the first compile error. */
  readonly ready: Status;
  private readonly constants = new Map<number, GPUBuffer>();
  /** The device the constants and pipelines live on. */
  private readonly ctx: GPUDeviceContext;
  private readonly freeConstants: () => void;
  private freed = false;
  /**
   * Pipelines looked up once (not by hashing the source per call), bind groups cached per
   * launch (the buffer pool returns the same buffers call after call, so a warm call creates none).
   */
  private readonly sites: readonly LaunchSite[];
  readonly pipelinesMs: number;

  readonly untuned: number;
  readonly autotuneMs: number | undefined;

  constructor(
    private readonly backend: WebGPUBackend,
    readonly program: Program,
    options: ExecutableOptions = {},
  ) {
    const { sources } = options;
    this.untuned = options.untuned ?? 0;
    this.autotuneMs = options.autotuneMs;
    const ctx = backend.ctx;
    const launches = program.launches;
    let pipelinesMs = 0;
    this.sites = launches.map((l, i) => {
      const source = sources?.[i] ?? renderKernel(ctx.target, l.kernel);
      debugLog(4, () => `--- ${l.kernel.name}.wgsl ---\n${source}`);
      const access = l.kernel.bindings.map((b) => b.access);
      const t0 = performance.now();
      const pipeline = ctx.pipeline(l.kernel.name, source, access);
      const ms = performance.now() - t0;
      pipelinesMs += ms;
      return { source, access, pipeline, bindGroups: new BindGroupCache(), ms };
    });
    this.pipelinesMs = options.pipelinesMs ?? pipelinesMs;
    this.ready = firstError(this.sites.map((p) => p.pipeline.status));
    const held: WebGPUBuffer[] = [];
    for (const b of program.buffers) {
      if (b.role !== "constant") continue;
      const c = backend.upload({ dtype: b.dtype, shape: b.shape, data: b.data! }) as WebGPUBuffer;
      held.push(c);
      this.constants.set(b.id, c.gpu);
    }
    this.ctx = ctx;
    this.freeConstants = ownResources(this, () => held.forEach((c) => backend.free(c)));
    const describe = (ids: readonly number[]) => ids.map((id) => `$${id}: ${formatType(program.buffers[id]!)}`);
    this.kernels = launches.map((l, i) => {
      const nIn = l.kernel.bindings.filter((b) => b.access === "read").length;
      return {
        name: l.kernel.name,
        inputs: describe(l.args.slice(0, nIn)),
        outputs: describe(l.args.slice(nIn)),
        workgroups: [...l.kernel.grid],
        source: this.sites[i]!.source,
        // Pipelines created ahead (loadAsync) were made concurrently: no time is this kernel's alone.
        ...(options.pipelinesMs === undefined ? { pipelineMs: this.sites[i]!.ms } : {}),
        ...(l.kernel.tuned ? { tuned: l.kernel.tuned } : {}),
        ...(l.kernel.flops ? { flops: l.kernel.flops } : {}),
      };
    });
    this.peakBytes = program.peakBytes;
  }

  get disposed(): boolean {
    return this.freed || this.ctx !== this.backend.ctx;
  }

  dispose(): void {
    this.freed = true;
    this.freeConstants();
  }

  /** Throws unless this program can still run: not disposed, and its device is the backend's. */
  private checkRunnable(): void {
    if (this.freed) throw new Error(`@${this.program.name} was disposed; compile it again`);
    if (this.ctx !== this.backend.alive())
      throw new DeviceLostError("replaced", `@${this.program.name} was compiled for a WebGPU device that was lost; compile it again`);
  }

  /** Encodes one call through the executor; returns its outputs and the launches to submit. */
  private encode(inputs: readonly DeviceBuffer[]): { outputs: WebGPUBuffer[]; launches: Launch[]; release: () => void; statuses: Status[] } {
    const { program, backend } = this;
    const own = inputs.map((x, i) => backend.own(x, `@${program.name} input ${i}`));
    checkInputs(program, own);
    const bound = new Map(this.constants);
    program.inputs.forEach((id, i) => bound.set(id, own[i]!.gpu));
    const launches: Launch[] = [];
    const allocations: Status[] = [];
    const call = execute<GPUBuffer>(program, {
      acquire: (bytes) => {
        const b = this.ctx.acquire(bytes);
        allocations.push(this.ctx.allocation(b));
        return b;
      },
      release: (b) => this.ctx.release(b),
      launch: (i, step, buffers) => {
        const site = this.sites[i]!;
        launches.push({ name: step.kernel.name, source: site.source, access: site.access, grid: step.kernel.grid,
          buffers, pipeline: site.pipeline, bindGroups: site.bindGroups });
      },
    }, bound);
    const outputs = program.outputs.map((id, k) => backend.adopt(program.buffers[id]!.dtype, program.buffers[id]!.shape, call.results[k]!, this.ctx));
    return { outputs, launches, release: call.release, statuses: [this.ready, ...own.map((b) => b.status), ...allocations] };
  }

  run(inputs: readonly DeviceBuffer[]): DeviceBuffer[] {
    this.checkRunnable();
    const { outputs, launches, release, statuses } = this.encode(inputs);
    const submitted = launches.length ? this.ctx.submit(launches, `@${this.program.name}`) : OK;
    release();
    const status = firstError([...statuses, submitted]);
    for (const o of outputs) o.status = status;
    return outputs;
  }

  /** Runs once with timestamp queries (one compute pass per kernel) and reports each kernel's time. */
  async profile(inputs: readonly DeviceBuffer[]): Promise<ProfileEntry[]> {
    this.checkRunnable();
    const ctx = this.ctx;
    const { outputs, launches, release, statuses } = this.encode(inputs);
    let entries: ProfileEntry[];
    try {
      entries = ctx.target.features.timestampQuery && launches.length
        ? await timestampProfile(ctx, launches, `@${this.program.name} (profile)`)
        : await hostTimedProfile(ctx, launches);
      const err = await firstError(statuses);
      if (err) throw err;
    } finally {
      // Only now: the host-timed path submits launch by launch, so the slots stay taken until the last.
      release();
      for (const o of outputs) this.backend.free(o);
    }
    if (debugLevel() >= 2) for (const e of entries) debugLog(2, `${e.kernel}: ${e.durUs.toFixed(1)} µs`);
    return entries;
  }
}

/** One compute pass per launch with timestamp writes at its start and end: device times. */
async function timestampProfile(ctx: GPUDeviceContext, launches: readonly Launch[], label: string): Promise<ProfileEntry[]> {
  const count = 2 * launches.length;
  const querySet = ctx.device.createQuerySet({ type: "timestamp", count });
  const resolve = ctx.device.createBuffer({ size: 8 * count, usage: BUFFER_USAGE.QUERY_RESOLVE | BUFFER_USAGE.COPY_SRC });
  try {
    const err = await ctx.submit(launches, label, { querySet, resolve });
    if (err) throw err;
    const stamps = new BigUint64Array(await ctx.read(resolve, 8 * count));
    const origin = stamps[0]!;
    return launches.map((l, i) => ({
      kernel: l.name,
      startUs: Number(stamps[2 * i]! - origin) / 1000,
      durUs: Number(stamps[2 * i + 1]! - stamps[2 * i]!) / 1000,
    }));
  } finally {
    querySet.destroy();
    resolve.destroy();
  }
}

/** Without timestamp queries: each launch submitted alone and timed from the host, waiting for each. */
async function hostTimedProfile(ctx: GPUDeviceContext, launches: readonly Launch[]): Promise<ProfileEntry[]> {
  const entries: ProfileEntry[] = [];
  const start = performance.now();
  for (const l of launches) {
    const began = performance.now();
    const submitted = ctx.submit([l], l.name);
    await ctx.synchronize();
    const err = await submitted;
    if (err) throw err;
    entries.push({ kernel: l.name, startUs: (began - start) * 1000, durUs: (performance.now() - began) * 1000 });
  }
  return entries;
}

/** Opens the default adapter's device and returns a backend on it. */
export async function createWebGPUBackend(options: DeviceOptions = {}): Promise<WebGPUBackend> {
  return new WebGPUBackend(await GPUDeviceContext.open(options));
}
