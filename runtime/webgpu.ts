/**
 * The WebGPU backend: compiles a graph to a Program (codegen/program.ts), renders each
 * kernel as WGSL, and runs a call as one command encoder and one submit. Errors from
 * WebGPU arrive asynchronously; each result buffer carries the status of the call that
 * made it, so `read` throws the KernelCompileError / DeviceError that concerns it, and a
 * lost device turns every call into a DeviceLostError instead of a hang.
 */
import { type HostArray, type Shape, type DType, allocHost, deviceBytes, formatType, sizeOf } from "../ir/dtype.js";
import type { Graph } from "../ir/graph.js";
import { checkArray } from "../codegen/indexing.js";
import type { Access } from "../codegen/kernel.js";
import { type Program, lowerGraph } from "../codegen/program.js";
import type { Target } from "../codegen/target.js";
import { renderKernel } from "../codegen/render/index.js";
import type { Backend, CompileOptions, DeviceBuffer, Executable, KernelInfo, MemoryStats, ProfileEntry } from "./backend.js";
import { debugLevel, debugLog } from "./debug.js";
import { BUFFER_USAGE, BindGroupCache, type CachedPipeline, DeviceError, GPUDeviceContext, type Launch } from "./webgpu-device.js";

export { DeviceError, DeviceLostError, KernelCompileError, NoAdapterError, GPUDeviceContext } from "./webgpu-device.js";
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
  ) {}
}

function firstError(all: Status[]): Status {
  return Promise.all(all).then((es) => es.find((e) => e !== undefined));
}

/** Host data as 32-bit words (bool is stored as u32 on the device). */
function toDevice(a: HostArray): ArrayBufferView & { buffer: ArrayBufferLike } {
  return a.dtype === "bool" ? Uint32Array.from(a.data) : a.data;
}

function fromDevice(dtype: DType, shape: Shape, bytes: ArrayBuffer): HostArray {
  const n = sizeOf(shape);
  const data = allocHost(dtype, n);
  if (dtype === "bool") data.set(new Uint32Array(bytes, 0, n));
  else data.set(new (data.constructor as new (b: ArrayBuffer, o: number, n: number) => typeof data)(bytes, 0, n));
  return { dtype, shape: [...shape], data };
}

export class WebGPUBackend implements Backend {
  readonly name = "webgpu" as const;
  private liveBuffers = 0;
  private liveBytes = 0;

  constructor(readonly ctx: GPUDeviceContext) {}

  get target(): Target {
    return this.ctx.target;
  }

  /** A pooled buffer wrapped as a live DeviceBuffer (counted by memoryStats until freed). */
  allocate(dtype: DType, shape: Shape, status: Status = OK): WebGPUBuffer {
    checkArray("webgpu buffer", dtype, shape, this.target);
    const bytes = sizeOf(shape) * deviceBytes(dtype);
    const b = new WebGPUBuffer(dtype, [...shape], this.ctx.acquire(Math.max(bytes, 4)), bytes, status);
    this.liveBuffers++;
    this.liveBytes += bytes;
    return b;
  }

  upload(a: HostArray): DeviceBuffer {
    const b = this.allocate(a.dtype, a.shape);
    if (b.bytes > 0) this.ctx.write(b.gpu, toDevice(a));
    return b;
  }

  /** The live WebGPU buffer behind a DeviceBuffer; throws on foreign or freed buffers. */
  own(b: DeviceBuffer, what: string): WebGPUBuffer {
    if (!(b instanceof WebGPUBuffer)) throw new Error(`${what}: a ${b.backend} buffer was passed to the webgpu backend`);
    if (b.freed) throw new Error(`${what}: buffer ${formatType(b)} was already freed`);
    return b;
  }

  async read(buf: DeviceBuffer): Promise<HostArray> {
    const b = this.own(buf, "read");
    const err = await this.ctx.raceLost(b.status);
    if (err) throw err;
    if (b.bytes === 0) return fromDevice(b.dtype, b.shape, new ArrayBuffer(0));
    return fromDevice(b.dtype, b.shape, await this.ctx.read(b.gpu, b.bytes));
  }

  free(buf: DeviceBuffer): void {
    const b = buf as WebGPUBuffer;
    if (!(b instanceof WebGPUBuffer) || b.freed) return;
    b.freed = true;
    this.ctx.release(b.gpu);
    this.liveBuffers--;
    this.liveBytes -= b.bytes;
  }

  compile(graph: Graph, _options?: CompileOptions): WebGPUExecutable {
    this.ctx.checkAlive();
    const program = lowerGraph(graph, this.target);
    debugLog(3, () => `${program}\n${program.kernelsText()}`);
    return new WebGPUExecutable(this, program);
  }

  /** Compiles and waits for every pipeline, throwing a KernelCompileError if one fails. */
  async compileAsync(graph: Graph, options?: CompileOptions): Promise<WebGPUExecutable> {
    const exe = this.compile(graph, options);
    const err = await this.ctx.raceLost(exe.ready);
    if (err) throw err;
    return exe;
  }

  memoryStats(): MemoryStats {
    return { liveBuffers: this.liveBuffers, liveBytes: this.liveBytes };
  }

  synchronize(): Promise<void> {
    return this.ctx.synchronize();
  }
}

/** A launch of a compiled program, resolved once: what each call only has to fill with buffers. */
interface LaunchPlan {
  readonly name: string;
  readonly source: string;
  readonly access: readonly Access[];
  readonly grid: readonly [number, number, number];
  readonly args: readonly number[];
  readonly pipeline: CachedPipeline;
  readonly bindGroups: BindGroupCache;
}

/** A step of a call with its buffer resolved: allocate (as an output or a temporary), launch, free. */
type PlanStep =
  | { readonly op: "output"; readonly buffer: number; readonly dtype: DType; readonly shape: Shape }
  | { readonly op: "temp"; readonly buffer: number; readonly bytes: number }
  | { readonly op: "launch"; readonly launch: LaunchPlan }
  | { readonly op: "free"; readonly buffer: number };

export class WebGPUExecutable implements Executable {
  readonly kernels: KernelInfo[];
  readonly peakBytes: number;
  /** Settles once every pipeline compiled, to the first compile error. */
  readonly ready: Status;
  private readonly sources: string[];
  private readonly constants = new Map<number, WebGPUBuffer>();
  /**
   * The call, resolved at compile time: pipelines looked up once (not by hashing the source
   * per call), buffers by index, bind groups cached per launch (the buffer pool returns the
   * same buffers call after call, so a warm call creates none).
   */
  private readonly plan: readonly PlanStep[];

  constructor(
    private readonly backend: WebGPUBackend,
    readonly program: Program,
  ) {
    const ctx = backend.ctx;
    const launches = program.launches;
    this.sources = launches.map((l) => renderKernel(ctx.target, l.kernel));
    launches.forEach((l, i) => debugLog(4, () => `--- ${l.kernel.name}.wgsl ---\n${this.sources[i]}`));
    const pipelines = launches.map((l, i) => ctx.pipeline(l.kernel.name, this.sources[i]!, l.kernel.bindings.map((b) => b.access)));
    this.ready = firstError(pipelines.map((p) => p.status));
    for (const b of program.buffers)
      if (b.role === "constant") this.constants.set(b.id, backend.upload({ dtype: b.dtype, shape: b.shape, data: b.data! }) as WebGPUBuffer);
    let li = 0;
    this.plan = program.steps.map((s): PlanStep => {
      if (s.op === "free") return s;
      if (s.op === "alloc") {
        const b = program.buffers[s.buffer]!;
        return b.role === "output"
          ? { op: "output", buffer: b.id, dtype: b.dtype, shape: b.shape }
          : { op: "temp", buffer: b.id, bytes: Math.max(b.bytes, 4) };
      }
      const i = li++;
      return {
        op: "launch",
        launch: {
          name: s.kernel.name, source: this.sources[i]!, access: s.kernel.bindings.map((b) => b.access), grid: s.kernel.grid,
          args: s.args, pipeline: pipelines[i]!, bindGroups: new BindGroupCache(),
        },
      };
    });
    const describe = (ids: readonly number[]) => ids.map((id) => `$${id}: ${formatType(program.buffers[id]!)}`);
    this.kernels = launches.map((l, i) => {
      const nIn = l.kernel.bindings.filter((b) => b.access === "read").length;
      return {
        name: l.kernel.name,
        inputs: describe(l.args.slice(0, nIn)),
        outputs: describe(l.args.slice(nIn)),
        workgroups: [...l.kernel.grid],
        source: this.sources[i]!,
      };
    });
    this.peakBytes = program.peakBytes;
  }

  /** Encodes one call; returns its outputs and the launches it submitted. */
  private encode(inputs: readonly DeviceBuffer[]): { outputs: WebGPUBuffer[]; launches: Launch[]; release: () => void; statuses: Status[] } {
    const { program, backend } = this;
    if (inputs.length !== program.inputs.length)
      throw new Error(`@${program.name} takes ${program.inputs.length} input(s), got ${inputs.length}`);
    const gpu: GPUBuffer[] = new Array(program.buffers.length);
    const statuses: Status[] = [this.ready];
    inputs.forEach((x, i) => {
      const want = program.buffers[program.inputs[i]!]!;
      const b = backend.own(x, `@${program.name} input ${i}`);
      if (b.dtype !== want.dtype || b.shape.length !== want.shape.length || b.shape.some((d, k) => d !== want.shape[k]))
        throw new Error(`@${program.name} input ${i} is ${formatType(b)}, expected ${formatType(want)}`);
      gpu[want.id] = b.gpu;
      statuses.push(b.status);
    });
    for (const [id, c] of this.constants) gpu[id] = c.gpu;
    const outputs: WebGPUBuffer[] = new Array(program.buffers.length);
    const temps: GPUBuffer[] = [];
    const launches: Launch[] = [];
    for (const s of this.plan) {
      if (s.op === "output") {
        const out = backend.allocate(s.dtype, s.shape);
        outputs[s.buffer] = out;
        gpu[s.buffer] = out.gpu;
      } else if (s.op === "temp") gpu[s.buffer] = backend.ctx.acquire(s.bytes);
      else if (s.op === "free") temps.push(gpu[s.buffer]!);
      else {
        const l = s.launch;
        launches.push({ ...l, buffers: l.args.map((id) => gpu[id]!) });
      }
    }
    // Temporaries go back to the pool only after the submit: a later call may reuse them,
    // and the queue orders that reuse after this call's kernels.
    const release = () => temps.forEach((t) => backend.ctx.release(t));
    return { outputs: program.outputs.map((id) => outputs[id]!), launches, release, statuses };
  }

  run(inputs: readonly DeviceBuffer[]): DeviceBuffer[] {
    this.backend.ctx.checkAlive();
    const { outputs, launches, release, statuses } = this.encode(inputs);
    const submitted = launches.length ? this.backend.ctx.submit(launches, `@${this.program.name}`) : OK;
    release();
    const status = firstError([...statuses, submitted]);
    for (const o of outputs) o.status = status;
    return outputs;
  }

  /** Runs once with timestamp queries (one compute pass per kernel) and reports each kernel's time. */
  async profile(inputs: readonly DeviceBuffer[]): Promise<ProfileEntry[]> {
    const ctx = this.backend.ctx;
    ctx.checkAlive();
    const { outputs, launches, release, statuses } = this.encode(inputs);
    let entries: ProfileEntry[];
    if (ctx.target.features.timestampQuery && launches.length) {
      const count = 2 * launches.length;
      const querySet = ctx.device.createQuerySet({ type: "timestamp", count });
      const resolve = ctx.device.createBuffer({ size: 8 * count, usage: BUFFER_USAGE.QUERY_RESOLVE | BUFFER_USAGE.COPY_SRC });
      const err = await ctx.submit(launches, `@${this.program.name} (profile)`, { querySet, resolve });
      if (err) throw err;
      const ts = new BigUint64Array(await ctx.read(resolve, 8 * count));
      const t0 = ts[0]!;
      entries = launches.map((l, i) => ({
        kernel: l.name,
        startUs: Number(ts[2 * i]! - t0) / 1000,
        durUs: Number(ts[2 * i + 1]! - ts[2 * i]!) / 1000,
      }));
      querySet.destroy();
      resolve.destroy();
    } else {
      // No timestamp queries: time each launch from the host, waiting for each.
      entries = [];
      const start = performance.now();
      for (const l of launches) {
        const t = performance.now();
        const err = ctx.submit([l], l.name);
        await ctx.synchronize();
        const e = await err;
        if (e) throw e;
        entries.push({ kernel: l.name, startUs: (t - start) * 1000, durUs: (performance.now() - t) * 1000 });
      }
    }
    release();
    const err = await firstError(statuses);
    for (const o of outputs) this.backend.free(o);
    if (err) throw err;
    if (debugLevel() >= 2) for (const e of entries) debugLog(2, `${e.kernel}: ${e.durUs.toFixed(1)} µs`);
    return entries;
  }
}

/** Opens the default adapter's device and returns a backend on it. */
export async function createWebGPUBackend(): Promise<WebGPUBackend> {
  return new WebGPUBackend(await GPUDeviceContext.open());
}
