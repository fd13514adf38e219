/**
 * The Backend contract every runtime implements (interp, webgpu, cuda).
 * Buffers are opaque device handles; a compiled `Executable` runs a whole graph.
 */
import type { AbstractValue, HostArray } from "../ir/dtype.js";
import type { Graph } from "../ir/graph.js";
import type { Program } from "../codegen/program.js";
import type { Target } from "../codegen/target.js";
import type { TunedChoice } from "../codegen/kernel.js";

export type BackendName = "interp" | "webgpu" | "cuda";

export interface DeviceBuffer extends AbstractValue {
  readonly backend: BackendName;
}

export interface CompileOptions {
  /** Fuse operators into fewer kernels (default true); false gives one kernel per primitive. */
  readonly fuse?: boolean;
  /**
   * Pick each matmul's tiling by timing candidates on the device (runtime/autotune.ts):
   * `compileAsync` measures what no earlier run stored; `compile`, which cannot wait for the
   * device, uses stored choices and the default tiling elsewhere.
   */
  readonly autotune?: boolean;
}

/** One kernel launch of a compiled call, as a user inspects it. */
export interface KernelInfo {
  readonly name: string;
  readonly inputs: string[];
  readonly outputs: string[];
  readonly workgroups: readonly number[];
  readonly source?: string;
  /** The autotuner's choice of tiling, where it chose one (`smelt kernels` prints it). */
  readonly tuned?: TunedChoice;
  /** Milliseconds creating its pipeline took in the call that created it (0 when it was cached), where the backend measures it. */
  readonly pipelineMs?: number;
  /** Its contraction FLOPs (Kernel.flops: 2 per multiply-add of matrix and attention products), where it has any. */
  readonly flops?: number;
}

export interface ProfileEntry {
  readonly kernel: string;
  /** Start and duration in microseconds. */
  readonly startUs: number;
  readonly durUs: number;
}

export interface Executable {
  /** Launches the program; outputs are device-resident and owned by the caller. */
  run(inputs: readonly DeviceBuffer[]): DeviceBuffer[];
  readonly kernels: readonly KernelInfo[];
  /** Peak bytes of intermediates and outputs one call holds on the device. */
  readonly peakBytes: number;
  /** Runs once and measures each kernel (timestamp queries / events where the device has them). */
  profile?(inputs: readonly DeviceBuffer[]): Promise<ProfileEntry[]>;
  /**
   * Frees what the program holds on the device (its constants). An executable nobody
   * disposes frees them when it is garbage-collected; running it after `dispose` throws.
   */
  dispose(): void;
  /** Whether it was disposed, or its device was lost and replaced: it must be compiled again. */
  readonly disposed: boolean;
  /** The lowered program it runs (a backend with a target), which the persistent compile cache stores. */
  readonly program?: Program;
  /**
   * Milliseconds its loading spent creating device pipelines or modules, as opposed to
   * rendering kernels (the first call's split, `smelt bench --verbose`). A driver that
   * compiles at the first dispatch (lavapipe) moves that cost into the first run.
   */
  readonly pipelinesMs?: number;
  /** Kernels compiled with `autotune` that run their default tiling because no choice was stored or measured. */
  readonly untuned?: number;
  /** Milliseconds the autotuner spent timing candidates before this program was loaded. */
  readonly autotuneMs?: number | undefined;
}

export interface MemoryStats {
  /** Buffers callers hold (uploads, results), and their bytes. */
  readonly liveBuffers: number;
  readonly liveBytes: number;
  /** Buffers allocated so far: pass a snapshot as `since` to count only later ones. */
  readonly allocations: number;
  /** Idle buffers the pool keeps for reuse, and their bytes (size classes). */
  readonly pooledBuffers: number;
  readonly pooledBytes: number;
}

export interface Backend {
  readonly name: BackendName;
  /** Device limits and features that passes and codegen read (absent on the interpreter). */
  readonly target?: Target;
  upload(a: HostArray): DeviceBuffer;
  read(b: DeviceBuffer): Promise<HostArray>;
  free(b: DeviceBuffer): void;
  compile(graph: Graph, options?: CompileOptions): Executable;
  /**
   * Loads a program lowered for this backend's target (`compile` is `load(lowerGraph(graph,
   * target))`): what the persistent compile cache calls, so a cached program runs no pass
   * and no lowering. `sources`, each launch's kernel as an earlier load rendered it
   * (`KernelInfo.source`), spare rendering them again. Absent on the interpreter, which has no target.
   */
  load?(program: Program, sources?: readonly string[]): Executable;
  /**
   * `compile`, with the device's work done ahead and concurrently where the backend can: every
   * pipeline created at once (createComputePipelineAsync on WebGPU), and with `autotune` the
   * candidates of kernels without a stored choice timed. Absent: `compile` is used.
   */
  compileAsync?(graph: Graph, options?: CompileOptions): Promise<Executable>;
  /** `load`, with every pipeline created at once before it resolves (the compile cache's asynchronous path). */
  loadAsync?(program: Program, sources?: readonly string[]): Promise<Executable>;
  /** The device as autotuning sees it (adapter and target): tuned programs are stored per device. */
  tuningDevice?(): string;
  /**
   * What callers hold on the device and what the pool keeps idle. With `since` (an earlier
   * snapshot), live buffers and bytes count only buffers allocated after it, so a leak check
   * is not disturbed by other buffers freed meanwhile (the garbage collector frees tensors
   * nobody disposed whenever it runs).
   */
  memoryStats(since?: MemoryStats): MemoryStats;
  /** Waits until all submitted work is done. */
  synchronize(): Promise<void>;
  /** Sets the device memory budget in bytes (`init({ memoryLimit })`); absent on the interpreter. */
  setMemoryLimit?(bytes: number): void;
  /** Whether the device was lost (a device backend); `reopen` then opens a new one. */
  readonly deviceLost?: boolean;
  /** Opens a new device after a loss; buffers and programs of the lost one stay unusable. */
  reopen?(): Promise<void>;
}
