/**
 * The CUDA driver API through koffi (an FFI with prebuilt binaries: no native addon to
 * build). Only the calls the runtime needs are bound, each checked: a failing call throws
 * CudaError naming the call and the driver's error name. Loading never crashes the
 * process: a missing libcuda.so.1, a missing koffi or a machine without a device all
 * become CudaUnavailableError.
 *
 * One device, its primary context (what the runtime API uses, so smelt shares a context
 * with other CUDA code in the process), and the legacy default stream: launches are
 * ordered, copies to the host wait for earlier work.
 */
import type * as Koffi from "koffi";

/** No usable CUDA driver or device here; `smelt kernels --target cuda` still works. */
export class CudaUnavailableError extends Error {
  override name = "CudaUnavailableError";
}

/** A driver call failed. */
export class CudaError extends Error {
  override name = "CudaError";
  constructor(
    readonly call: string,
    readonly code: number,
    readonly errorName: string,
    detail: string,
  ) {
    super(`${call} failed: ${errorName} (${code})${detail ? `: ${detail}` : ""}`);
  }
}

export const NO_DRIVER_MESSAGE =
  "libcuda.so.1 not found — no NVIDIA driver on this machine; `smelt kernels --target cuda` still prints CUDA source";

/** Device pointers are 64-bit; koffi gives a number while it is exact, a bigint beyond. */
export type DevicePtr = number | bigint;
/** An opaque driver handle (context, module, function, event). */
type Handle = unknown;

const CUDA_ERROR_NOT_READY = 600;
const CUDA_ERROR_NO_DEVICE = 100;

/** CUdevice_attribute values we read (cuda.h). */
export const ATTR = {
  maxThreadsPerBlock: 1, maxBlockDimX: 2, maxBlockDimY: 3, maxBlockDimZ: 4,
  maxGridDimX: 5, maxGridDimY: 6, maxGridDimZ: 7, maxSharedMemoryPerBlock: 8,
  multiprocessorCount: 16, computeCapabilityMajor: 75, computeCapabilityMinor: 76,
} as const;

/** The C prototypes bound, in cuda.h's spelling (the _v2 entry points are the 64-bit ABI). */
const PROTOTYPES = [
  "int cuInit(unsigned int flags)",
  "int cuDriverGetVersion(_Out_ int *version)",
  "int cuGetErrorName(int error, _Out_ const char **name)",
  "int cuGetErrorString(int error, _Out_ const char **text)",
  "int cuDeviceGetCount(_Out_ int *count)",
  "int cuDeviceGet(_Out_ int *device, int ordinal)",
  "int cuDeviceGetName(uint8_t *name, int len, int device)",
  "int cuDeviceGetAttribute(_Out_ int *value, int attribute, int device)",
  "int cuDeviceTotalMem_v2(_Out_ size_t *bytes, int device)",
  "int cuDevicePrimaryCtxRetain(_Out_ CUcontext *ctx, int device)",
  "int cuCtxSetCurrent(CUcontext ctx)",
  "int cuCtxSynchronize()",
  "int cuMemAlloc_v2(_Out_ uint64_t *dptr, size_t bytes)",
  "int cuMemFree_v2(uint64_t dptr)",
  "int cuMemcpyHtoD_v2(uint64_t dst, const void *src, size_t bytes)",
  "int cuMemcpyDtoH_v2(void *dst, uint64_t src, size_t bytes)",
  "int cuMemcpyDtoD_v2(uint64_t dst, uint64_t src, size_t bytes)",
  "int cuMemGetInfo_v2(_Out_ size_t *free, _Out_ size_t *total)",
  "int cuModuleLoadData(_Out_ CUmodule *module, const void *image)",
  "int cuModuleGetFunction(_Out_ CUfunction *fn, CUmodule module, const char *name)",
  "int cuModuleUnload(CUmodule module)",
  "int cuLaunchKernel(CUfunction fn, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx, unsigned int by, unsigned int bz, unsigned int sharedBytes, CUstream stream, void **params, void **extra)",
  "int cuEventCreate(_Out_ CUevent *event, unsigned int flags)",
  "int cuEventRecord(CUevent event, CUstream stream)",
  "int cuEventQuery(CUevent event)",
  "int cuEventSynchronize(CUevent event)",
  "int cuEventElapsedTime(_Out_ float *ms, CUevent start, CUevent end)",
  "int cuEventDestroy_v2(CUevent event)",
] as const;

type Fn = (...args: unknown[]) => number;

/** Where the driver library lives: SMELT_LIBCUDA overrides (tests load a fake driver this way). */
function libraryPath(): string {
  const env = globalThis.process?.env?.SMELT_LIBCUDA;
  if (env) return env;
  return process.platform === "win32" ? "nvcuda.dll" : "libcuda.so.1";
}

export interface DeviceInfo {
  readonly ordinal: number;
  readonly name: string;
  /** Compute capability as major·10 + minor (sm_80 → 80). */
  readonly sm: number;
  readonly totalBytes: number;
  readonly driverVersion: number;
  readonly attributes: { readonly [K in keyof typeof ATTR]: number };
}

/** The bound driver, one device and its primary context. */
export class CudaDriver {
  private constructor(
    private readonly fn: Record<string, Fn>,
    readonly device: DeviceInfo,
    private readonly ctx: Handle,
  ) {}

  /** Loads the driver and opens device `ordinal`; rejects with CudaUnavailableError when it cannot. */
  static async open(ordinal = 0): Promise<CudaDriver> {
    const koffi = await importKoffi((why) => new CudaUnavailableError(why));
    const path = libraryPath();
    let lib: Koffi.LibraryHandle;
    try {
      lib = koffi.load(path);
    } catch (e) {
      throw new CudaUnavailableError(
        path === "libcuda.so.1" ? NO_DRIVER_MESSAGE : `${path} could not be loaded (${(e as Error).message})`,
      );
    }
    declareHandles(koffi, ["CUcontext", "CUmodule", "CUfunction", "CUevent", "CUstream"]);
    const fn: Record<string, Fn> = {};
    for (const proto of PROTOTYPES) {
      const name = /\b(cu\w+)\(/.exec(proto)![1]!;
      try {
        fn[name] = lib.func(proto) as unknown as Fn;
      } catch (e) {
        throw new CudaUnavailableError(`${path} lacks ${name} (${(e as Error).message}); the NVIDIA driver is too old`);
      }
    }
    const call = checker(fn);
    const initCode = fn.cuInit!(0);
    if (initCode !== 0) {
      const what = initCode === CUDA_ERROR_NO_DEVICE ? "no CUDA-capable device is present" : errorText(fn, initCode);
      throw new CudaUnavailableError(`the NVIDIA driver loaded but cuInit failed: ${what}`);
    }
    const count = [0];
    call("cuDeviceGetCount", count);
    if (count[0]! <= ordinal) throw new CudaUnavailableError(`no CUDA device ${ordinal}: the driver reports ${count[0]} device(s)`);
    const dev = [0];
    call("cuDeviceGet", dev, ordinal);
    const d = dev[0]!;
    const nameBuf = Buffer.alloc(256);
    call("cuDeviceGetName", nameBuf, nameBuf.length, d);
    const attr = (a: number) => {
      const v = [0];
      call("cuDeviceGetAttribute", v, a, d);
      return v[0]!;
    };
    const attributes = Object.fromEntries(Object.entries(ATTR).map(([k, a]) => [k, attr(a)])) as DeviceInfo["attributes"];
    const total = [0], version = [0];
    call("cuDeviceTotalMem_v2", total, d);
    call("cuDriverGetVersion", version);
    const ctx: Handle[] = [null];
    call("cuDevicePrimaryCtxRetain", ctx, d);
    call("cuCtxSetCurrent", ctx[0]);
    const info: DeviceInfo = {
      ordinal: d,
      name: nameBuf.toString("utf8", 0, Math.max(0, nameBuf.indexOf(0))),
      sm: attributes.computeCapabilityMajor * 10 + attributes.computeCapabilityMinor,
      totalBytes: Number(total[0]),
      driverVersion: version[0]!,
      attributes,
    };
    return new CudaDriver(fn, info, ctx[0]);
  }

  private call(name: string, ...args: unknown[]): void {
    checker(this.fn)(name, ...args);
  }

  /** Makes this device's context current on the calling thread (a no-op when it already is). */
  bind(): void {
    this.call("cuCtxSetCurrent", this.ctx);
  }

  // -------------------------------------------------------------------------
  // memory

  alloc(bytes: number): DevicePtr {
    const p: DevicePtr[] = [0];
    this.call("cuMemAlloc_v2", p, Math.max(bytes, 4));
    return p[0]!;
  }

  free(p: DevicePtr): void {
    this.call("cuMemFree_v2", p);
  }

  /** Host → device; the driver stages pageable memory, so `src` may be reused on return. */
  copyToDevice(dst: DevicePtr, src: ArrayBufferView, bytes = src.byteLength): void {
    if (bytes > 0) this.call("cuMemcpyHtoD_v2", dst, src, bytes);
  }

  /** Device → host; waits for earlier work on the default stream. */
  copyToHost(dst: ArrayBufferView, src: DevicePtr, bytes = dst.byteLength): void {
    if (bytes > 0) this.call("cuMemcpyDtoH_v2", dst, src, bytes);
  }

  copyOnDevice(dst: DevicePtr, src: DevicePtr, bytes: number): void {
    if (bytes > 0) this.call("cuMemcpyDtoD_v2", dst, src, bytes);
  }

  memInfo(): { free: number; total: number } {
    const f = [0], t = [0];
    this.call("cuMemGetInfo_v2", f, t);
    return { free: Number(f[0]), total: Number(t[0]) };
  }

  // -------------------------------------------------------------------------
  // modules and launches

  /** Loads a cubin, fatbin or NUL-terminated PTX image. */
  loadModule(image: Uint8Array): Handle {
    const m: Handle[] = [null];
    this.call("cuModuleLoadData", m, image);
    return m[0];
  }

  getFunction(module: Handle, name: string): Handle {
    const f: Handle[] = [null];
    this.call("cuModuleGetFunction", f, module, name);
    return f[0];
  }

  unloadModule(module: Handle): void {
    this.call("cuModuleUnload", module);
  }

  /**
   * Launches `fn` with one pointer argument per binding. cuLaunchKernel takes an array of
   * pointers to argument values: each value is an 8-byte buffer holding a device pointer.
   */
  launch(fn: Handle, grid: readonly number[], block: readonly number[], args: readonly DevicePtr[]): void {
    const slots = args.map((p) => {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(BigInt(p));
      return b;
    });
    this.call("cuLaunchKernel", fn, grid[0], grid[1], grid[2], block[0], block[1], block[2], 0, null, slots, null);
  }

  synchronize(): void {
    this.call("cuCtxSynchronize");
  }

  // -------------------------------------------------------------------------
  // events

  createEvent(timing = true): Handle {
    const e: Handle[] = [null];
    // CU_EVENT_DISABLE_TIMING (2) makes pure fences cheaper.
    this.call("cuEventCreate", e, timing ? 0 : 2);
    return e[0];
  }

  record(event: Handle): void {
    this.call("cuEventRecord", event, null);
  }

  /** True once all work before the event's record has finished. */
  isDone(event: Handle): boolean {
    const code = this.fn.cuEventQuery!(event);
    if (code === CUDA_ERROR_NOT_READY) return false;
    if (code !== 0) throw new CudaError("cuEventQuery", code, errorName(this.fn, code), errorText(this.fn, code));
    return true;
  }

  waitEvent(event: Handle): void {
    this.call("cuEventSynchronize", event);
  }

  /** Milliseconds between two recorded, completed events. */
  elapsedMs(start: Handle, end: Handle): number {
    const ms = [0];
    this.call("cuEventElapsedTime", ms, start, end);
    return ms[0]!;
  }

  destroyEvent(event: Handle): void {
    this.call("cuEventDestroy_v2", event);
  }
}

/** The FFI package, or the error `unavailable` makes when it is not installed (it is optional). */
export async function importKoffi(unavailable: (why: string) => Error): Promise<typeof Koffi> {
  try {
    const mod = (await import("koffi")) as unknown as { default?: typeof Koffi };
    return mod.default ?? (mod as unknown as typeof Koffi);
  } catch (e) {
    throw unavailable(`the FFI package 'koffi' could not be loaded (${(e as Error).message}); run \`npm install\``);
  }
}

/** Declares each opaque handle type once: koffi's type registry is per process, shared by every library bound. */
export function declareHandles(koffi: typeof Koffi, names: readonly string[]): void {
  for (const t of names) if (!hasType(koffi, t)) koffi.pointer(t, koffi.opaque());
}

function hasType(koffi: typeof Koffi, name: string): boolean {
  try {
    koffi.type(name);
    return true;
  } catch {
    return false;
  }
}

function errorName(fn: Record<string, Fn>, code: number): string {
  const s: unknown[] = [null];
  return fn.cuGetErrorName!(code, s) === 0 && typeof s[0] === "string" ? s[0] : `CUresult ${code}`;
}

function errorText(fn: Record<string, Fn>, code: number): string {
  const s: unknown[] = [null];
  return fn.cuGetErrorString!(code, s) === 0 && typeof s[0] === "string" ? s[0] : "";
}

function checker(fn: Record<string, Fn>) {
  return (name: string, ...args: unknown[]): void => {
    const code = fn[name]!(...args);
    if (code !== 0) throw new CudaError(name, code, errorName(fn, code), errorText(fn, code));
  };
}
