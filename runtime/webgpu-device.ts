/**
 * The WebGPU device layer: acquiring an adapter and device (from the platform: Dawn from
 * the npm package `webgpu` in Node, `navigator.gpu` in a browser), the buffer pool, the pipeline cache
 * keyed by kernel source, staging for reads, and turning WebGPU's asynchronous errors and
 * device loss into smelt errors. Knows kernels only as rendered source plus bindings.
 */
import type { Access } from "../codegen/kernel.js";
import { type Target, type TargetLimits, webgpuTarget } from "../codegen/target.js";
import { debugLevel, debugLog } from "./debug.js";
import { BufferPool, sizeClass } from "./memory.js";
import { platform } from "./platform.js";

export interface DeviceOptions {
  /** The device memory budget in bytes (default: `defaultMemoryLimit`). */
  readonly memoryLimit?: number;
}

const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|swiftshader|software|cpu/i;

/**
 * The default device memory budget. WebGPU does not tell how much memory an adapter has;
 * its largest buffer (`maxBufferSize`) is commonly a quarter to a half of it, so the budget
 * is 4 × maxBufferSize; on a software adapter (lavapipe), whose buffers live in host memory,
 * at most half the host's RAM.
 */
export function defaultMemoryLimit(maxBufferSize: number, description: string): number {
  const limit = 4 * maxBufferSize;
  const ram = SOFTWARE_ADAPTER.test(description) ? platform().hostMemory() : undefined;
  return ram === undefined ? limit : Math.min(limit, Math.floor(ram / 2));
}

/**
 * Whether the adapter gets the CPU-adapter template family: a software adapter does, unless
 * SMELT_TEMPLATES=gpu asks for the GPU family (to check it on lavapipe); SMELT_TEMPLATES=cpu
 * forces the CPU family on any adapter.
 */
export function cpuFamily(description: string): boolean {
  const wanted = globalThis.process?.env?.SMELT_TEMPLATES;
  if (wanted === "gpu" || wanted === "cpu") return wanted === "cpu";
  if (wanted) throw new Error(`SMELT_TEMPLATES must be gpu or cpu, got '${wanted}'`);
  return SOFTWARE_ADAPTER.test(description);
}

// Spec constants (GPUBufferUsage, GPUMapMode, GPUShaderStage), so no globals are needed in Node.
const USAGE = { MAP_READ: 1, COPY_SRC: 4, COPY_DST: 8, STORAGE: 128, QUERY_RESOLVE: 512 } as const;
const MAP_READ = 1;
const STAGE_COMPUTE = 4;

/** A WGSL kernel failed to compile or its pipeline was rejected; names the kernel. */
export class KernelCompileError extends Error {
  override name = "KernelCompileError";
  constructor(
    readonly kernel: string,
    readonly messages: readonly string[],
    readonly source: string,
  ) {
    super(
      `kernel ${kernel} failed to compile:\n  ${messages.join("\n  ")}` +
        (debugLevel() >= 4 ? `\n--- ${kernel}.wgsl ---\n${source}` : "\n(set SMELT_DEBUG=4 to print its WGSL)"),
    );
  }
}

/** WebGPU rejected an operation (a validation or out-of-memory error). */
export class DeviceError extends Error {
  override name = "DeviceError";
  constructor(readonly what: string, readonly detail: string) {
    super(`${what}: ${detail}`);
  }
}

/** The device was lost (driver reset, destroyed); every later call throws this. */
export class DeviceLostError extends Error {
  override name = "DeviceLostError";
  constructor(readonly reason: string, readonly detail: string) {
    super(`WebGPU device lost (${reason}): ${detail}`);
  }
}

/** No WebGPU adapter could be found; says how to get one. */
export class NoAdapterError extends Error {
  override name = "NoAdapterError";
}

async function gpuEntry(): Promise<GPU> {
  const gpu = await platform().gpu();
  if (!gpu) throw new NoAdapterError(`no WebGPU here; ${platform().noWebGPUHint}`);
  return gpu;
}

/** Features the kernels can use, requested explicitly when the adapter has them. */
const WANTED_FEATURES: GPUFeatureName[] = ["timestamp-query", "shader-f16", "subgroups"];

const LIMIT_NAMES: (keyof TargetLimits)[] = [
  "maxStorageBuffersPerShaderStage", "maxStorageBufferBindingSize", "maxComputeWorkgroupsPerDimension",
  "maxComputeInvocationsPerWorkgroup", "maxComputeWorkgroupStorageSize", "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY", "maxComputeWorkgroupSizeZ",
];

/** One kernel launch: rendered source, binding access modes, grid and the buffers bound. */
export interface Launch {
  readonly name: string;
  readonly source: string;
  readonly access: readonly Access[];
  readonly grid: readonly [number, number, number];
  readonly buffers: readonly GPUBuffer[];
  /** The pipeline, when the caller resolved it ahead (a compiled program does, once). */
  readonly pipeline?: CachedPipeline;
  /** Bind groups of this launch seen before, reused when the same buffers come back. */
  readonly bindGroups?: BindGroupCache;
}

// Buffers carry no identity WebGPU exposes; a weak table numbers them, on first sight, for bind-group keys.
const bufferIds = new WeakMap<GPUBuffer, number>();
let buffersSeen = 0;

/**
 * The bind groups of one launch site, by the buffers bound. A compiled call binds pooled
 * buffers, and the pool hands the same ones back call after call, so after warm-up a call
 * creates no bind group. Bounded (least recently used goes first); a destroyed buffer's
 * groups are never hit again, since a new buffer gets a new number.
 */
export class BindGroupCache {
  private readonly groups = new Map<string, GPUBindGroup>();
  constructor(readonly capacity = 16) {}

  get(device: GPUDevice, label: string, layout: GPUBindGroupLayout, buffers: readonly GPUBuffer[]): GPUBindGroup {
    let key = "";
    for (const b of buffers) key += `${bufferIds.get(b) ?? bufferIds.set(b, ++buffersSeen).get(b)},`;
    const hit = this.groups.get(key);
    if (hit) {
      // Refresh its place in the eviction order.
      this.groups.delete(key);
      this.groups.set(key, hit);
      return hit;
    }
    const group = device.createBindGroup({ label, layout, entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })) });
    if (this.groups.size >= this.capacity) this.groups.delete(this.groups.keys().next().value!);
    this.groups.set(key, group);
    return group;
  }

  get size(): number {
    return this.groups.size;
  }
}

/** A query set with two timestamps per launch and the buffer they resolve into. */
export interface TimestampSlots {
  readonly querySet: GPUQuerySet;
  readonly resolve: GPUBuffer;
}

export interface CachedPipeline {
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
  /** Resolves to the compile error, if any. */
  readonly status: Promise<KernelCompileError | undefined>;
}

/** Pipelines are shared by code: sources differing only in whole-line comments compile once. */
function pipelineKey(source: string, access: readonly Access[]): string {
  const code = source.split("\n").filter((l) => !l.trimStart().startsWith("//")).join("\n");
  return `${access.join(",")}\n${code}`;
}

/** Settles to the KernelCompileError of a module (its compilation messages and `scoped`, a validation error), if any. */
async function compileStatus(name: string, source: string, module: GPUShaderModule, scoped: Promise<string | undefined>): Promise<KernelCompileError | undefined> {
  const info = await module.getCompilationInfo();
  const errors = info.messages
    .filter((m) => m.type === "error")
    .map((m) => `${m.lineNum}:${m.linePos}: ${m.message}`);
  const err = await scoped;
  if (err) errors.push(err);
  if (!errors.length) return undefined;
  debugLog(4, () => `--- ${name}.wgsl (failed) ---\n${source}`);
  return new KernelCompileError(name, errors, source);
}

/** An open WebGPU device with its pool and caches. */
export class GPUDeviceContext {
  readonly target: Target;
  private lostInfo: DeviceLostError | undefined;
  readonly lost: Promise<DeviceLostError>;
  /** Storage buffers, reused across calls (runtime/memory.ts). */
  readonly pool: BufferPool<GPUBuffer>;
  private readonly staging = new Map<number, GPUBuffer[]>();
  private readonly pipelines = new Map<string, CachedPipeline>();
  /** Pipelines being created asynchronously, by the same key. */
  private readonly pendingPipelines = new Map<string, Promise<CachedPipeline>>();
  /** Each storage buffer's allocation outcome: Dawn reports out-of-memory asynchronously, through an error scope. */
  private readonly created = new WeakMap<GPUBuffer, Promise<Error | undefined>>();
  /** Buffers whose allocation failed: never pooled. */
  private readonly failed = new WeakSet<GPUBuffer>();
  private constructor(
    readonly adapter: GPUAdapter,
    readonly device: GPUDevice,
    readonly description: string,
    memoryLimit: number,
  ) {
    const f = device.features;
    // A subgroup size is fixed only when the adapter reports one size (min = max).
    const info = adapter.info as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number };
    const sg = info?.subgroupMinSize && info.subgroupMinSize === info.subgroupMaxSize ? info.subgroupMinSize : undefined;
    this.target = webgpuTarget(
      Object.fromEntries(LIMIT_NAMES.map((k) => [k, device.limits[k] as number])),
      { f16: f.has("shader-f16"), subgroups: f.has("subgroups"), timestampQuery: f.has("timestamp-query") },
      cpuFamily(description),
      sg,
    );
    this.lost = device.lost.then((info) => {
      this.lostInfo = new DeviceLostError(String(info.reason ?? "unknown"), info.message || "no message");
      debugLog(1, `webgpu: ${this.lostInfo.message}`);
      return this.lostInfo;
    });
    this.pool = new BufferPool<GPUBuffer>({
      create: (size) => this.createStorage(size),
      destroy: (b) => b.destroy(),
    }, 512 * 2 ** 20, "webgpu");
    this.pool.limitBytes = memoryLimit;
    device.addEventListener?.("uncapturederror", (ev) => {
      debugLog(1, `webgpu: uncaptured error: ${(ev as GPUUncapturedErrorEvent).error.message}`);
    });
  }

  static async open(options: DeviceOptions = {}): Promise<GPUDeviceContext> {
    const gpu = await gpuEntry();
    const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
    if (!adapter) throw new NoAdapterError(`no WebGPU adapter found; ${platform().noAdapterHint}`);
    const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f));
    // Ask for everything the adapter offers: the defaults (8 storage buffers, 128 MiB
    // bindings, 256 invocations) are far below what most adapters allow.
    const requiredLimits: Record<string, number> = {};
    for (const k of LIMIT_NAMES) requiredLimits[k] = adapter.limits[k] as number;
    requiredLimits.maxBufferSize = adapter.limits.maxBufferSize;
    const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
    const info = adapter.info;
    const description = info ? [info.vendor, info.architecture, info.description].filter(Boolean).join(" / ") : "unknown adapter";
    const limit = options.memoryLimit ?? defaultMemoryLimit(adapter.limits.maxBufferSize, description);
    debugLog(1, `webgpu: ${description}; features ${requiredFeatures.join(", ") || "none"}; memory budget ${limit} bytes`);
    return new GPUDeviceContext(adapter, device, description, limit);
  }

  /** Throws DeviceLostError once the device is gone. */
  checkAlive(): void {
    if (this.lostInfo) throw this.lostInfo;
  }

  get isLost(): boolean {
    return this.lostInfo !== undefined;
  }

  // -------------------------------------------------------------------------
  // buffers

  /** A new storage buffer, its allocation checked through an out-of-memory error scope. */
  private createStorage(size: number): GPUBuffer {
    this.device.pushErrorScope("out-of-memory");
    const b = this.device.createBuffer({ size, usage: USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST });
    const outcome = this.device.popErrorScope().then(
      (err) => {
        if (!err) return undefined;
        this.failed.add(b);
        return this.pool.outOfMemory(size, err.message);
      },
      () => undefined, // a lost device: calls report that instead
    );
    this.created.set(b, outcome);
    return b;
  }

  /** Settles to the DeviceOutOfMemoryError of a buffer Dawn could not allocate, else undefined. */
  allocation(b: GPUBuffer): Promise<Error | undefined> {
    return this.created.get(b) ?? Promise.resolve(undefined);
  }

  /** A storage buffer of at least `bytes` from the pool (its size is the size class). */
  acquire(bytes: number): GPUBuffer {
    this.checkAlive();
    return this.pool.acquire(bytes);
  }

  /** Returns a buffer to the pool. Safe right after encoding work that uses it: the queue orders later reuse. */
  release(buf: GPUBuffer): void {
    this.pool.release(buf, !this.isLost && !this.failed.has(buf));
  }

  write(buf: GPUBuffer, data: ArrayBufferView & { buffer: ArrayBufferLike }): void {
    this.checkAlive();
    this.device.queue.writeBuffer(buf, 0, data.buffer, data.byteOffset, data.byteLength);
  }

  /**
   * Copies `bytes` from a buffer to the host through a pooled staging buffer. The copy is
   * submitted before this returns (the rest waits for the map), so later work that reuses
   * `src` is ordered after it.
   */
  read(src: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
    this.checkAlive();
    const cls = sizeClass(bytes);
    const stage = this.staging.get(cls)?.pop() ?? this.device.createBuffer({ size: cls, usage: USAGE.MAP_READ | USAGE.COPY_DST });
    const enc = this.device.createCommandEncoder({ label: "read" });
    enc.copyBufferToBuffer(src, 0, stage, 0, cls <= src.size ? cls : src.size);
    this.device.queue.submit([enc.finish()]);
    return this.raceLost(stage.mapAsync(MAP_READ, 0, cls)).then(() => {
      const out = stage.getMappedRange(0, cls).slice(0, bytes);
      stage.unmap();
      const list = this.staging.get(cls) ?? [];
      list.push(stage);
      this.staging.set(cls, list);
      return out;
    });
  }

  /** Awaits `p`, or throws DeviceLostError if the device is lost first: never hangs on a dead device. */
  async raceLost<T>(p: Promise<T>): Promise<T> {
    this.checkAlive();
    const r = await Promise.race([p.then((v) => ({ v })), this.lost.then((e) => ({ e }))]);
    if ("e" in r) throw r.e;
    return r.v;
  }

  // -------------------------------------------------------------------------
  // pipelines

  /**
   * The compute pipeline for a kernel's source, compiled once per distinct code: sources
   * that differ only in whole-line comments (the IR text and view notes a kernel opens with,
   * which name the values of one call site: a model's repeated layers) share one.
   */
  pipeline(name: string, source: string, access: readonly Access[]): CachedPipeline {
    this.checkAlive();
    const key = pipelineKey(source, access);
    const hit = this.pipelines.get(key);
    if (hit) return hit;
    const device = this.device;
    device.pushErrorScope("validation");
    const { module, layout, descriptor } = this.pipelineParts(name, source, access);
    const pipeline = device.createComputePipeline(descriptor);
    const scope = device.popErrorScope();
    const status = compileStatus(name, source, module, scope.then((e) => e?.message));
    const entry = { pipeline, layout, status };
    this.pipelines.set(key, entry);
    return entry;
  }

  /**
   * The same pipeline created with createComputePipelineAsync, so the driver may compile
   * many at once off the calling thread (`await f.precompile(...)` creates a program's
   * kernels together). Resolves once it is usable; `pipeline()` with the same code then
   * returns it. A kernel that does not compile resolves with its error in `status`.
   */
  pipelineAsync(name: string, source: string, access: readonly Access[]): Promise<CachedPipeline> {
    this.checkAlive();
    const key = pipelineKey(source, access);
    const hit = this.pipelines.get(key);
    if (hit) return Promise.resolve(hit);
    const pending = this.pendingPipelines.get(key);
    if (pending) return pending;
    const device = this.device;
    // A module that does not parse is a validation error: caught here, not left uncaptured.
    device.pushErrorScope("validation");
    const { module, layout, descriptor } = this.pipelineParts(name, source, access);
    const created = device.createComputePipelineAsync(descriptor);
    const scope = device.popErrorScope();
    const made: Promise<CachedPipeline | undefined> = created.then(
      (pipeline) => ({ pipeline, layout, status: compileStatus(name, source, module, scope.then((e) => e?.message)) }),
      () => scope.then(() => undefined),
    );
    const entry = this.raceLost(made).then(
      (r) => {
        this.pendingPipelines.delete(key);
        if (r) {
          this.pipelines.set(key, r);
          return r;
        }
        // Rejected (WGSL that does not compile, an invalid pipeline): the synchronous path
        // gives the same entry, its status the KernelCompileError naming the kernel.
        return this.pipeline(name, source, access);
      },
      (e: Error) => {
        this.pendingPipelines.delete(key);
        throw e;
      },
    );
    this.pendingPipelines.set(key, entry);
    return entry;
  }

  /** A kernel's shader module, bind group layout and the pipeline descriptor over them (both creation paths). */
  private pipelineParts(name: string, source: string, access: readonly Access[]) {
    const device = this.device;
    const module = device.createShaderModule({ label: name, code: source });
    const layout = device.createBindGroupLayout({
      label: name,
      entries: access.map((a, i) => ({
        binding: i,
        visibility: STAGE_COMPUTE,
        buffer: { type: a === "read" ? "read-only-storage" : "storage" },
      })),
    });
    const descriptor: GPUComputePipelineDescriptor = {
      label: name,
      layout: device.createPipelineLayout({ label: name, bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: "main" },
    };
    return { module, layout, descriptor };
  }

  /**
   * Encodes launches in one command encoder and one compute pass (WebGPU orders storage
   * hazards between dispatches of a pass) and submits once. Resolves to the validation
   * error of the submission, if any.
   */
  submit(launches: readonly Launch[], label: string, timestamps?: TimestampSlots): Promise<DeviceError | undefined> {
    this.checkAlive();
    const device = this.device;
    device.pushErrorScope("validation");
    device.pushErrorScope("out-of-memory");
    const enc = device.createCommandEncoder({ label });
    const onePass = !timestamps;
    let pass = onePass ? enc.beginComputePass({ label }) : undefined;
    launches.forEach((l, i) => {
      if (!onePass) {
        // Profiling: one pass per launch, timestamps at its start and end.
        pass = enc.beginComputePass({
          label: l.name,
          timestampWrites: { querySet: timestamps!.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 },
        });
      }
      const p = l.pipeline ?? this.pipeline(l.name, l.source, l.access);
      const group = l.bindGroups
        ? l.bindGroups.get(device, l.name, p.layout, l.buffers)
        : device.createBindGroup({ label: l.name, layout: p.layout, entries: l.buffers.map((buffer, binding) => ({ binding, resource: { buffer } })) });
      pass!.setPipeline(p.pipeline);
      pass!.setBindGroup(0, group);
      pass!.dispatchWorkgroups(l.grid[0], l.grid[1], l.grid[2]);
      if (!onePass) pass!.end();
    });
    if (onePass) pass!.end();
    if (timestamps) enc.resolveQuerySet(timestamps.querySet, 0, 2 * launches.length, timestamps.resolve, 0);
    device.queue.submit([enc.finish()]);
    const oom = device.popErrorScope();
    const validation = device.popErrorScope();
    return Promise.all([oom, validation]).then(([a, v]) => {
      const err = v ?? a;
      return err ? new DeviceError(`launching ${label}`, err.message) : undefined;
    });
  }

  /** Waits for all submitted work. */
  async synchronize(): Promise<void> {
    this.checkAlive();
    await this.raceLost(this.device.queue.onSubmittedWorkDone());
  }

  get pipelineCount(): number {
    return this.pipelines.size;
  }

  /** Destroys the device (for tests of device loss; the context is unusable afterwards). */
  destroy(): void {
    this.pool.trim();
    this.device.destroy();
  }
}

export const BUFFER_USAGE = USAGE;
