/**
 * cuBLAS's SGEMM through koffi, as a yardstick for smelt's CUDA matmul (scripts/cuda-check.ts).
 * Nothing in smelt's compiler or API reaches this module: the check imports it lazily, after
 * the CUDA backend has opened the device, so cuBLAS (which uses the CUDA runtime, and with it
 * the context current on the thread: the device's primary context, as smelt's) shares
 * smelt's context, memory and default stream.
 *
 * The library is optional: when no libcublas loads, CublasUnavailableError lists every path
 * tried, and the caller carries on without the comparison.
 */
import type * as Koffi from "koffi";
import { type DevicePtr, declareHandles, importKoffi } from "./cuda-driver.js";

/** No cuBLAS library could be loaded (or it lacks an entry point smelt binds). */
export class CublasUnavailableError extends Error {
  override name = "CublasUnavailableError";
}

/** A cuBLAS call returned a status other than CUBLAS_STATUS_SUCCESS. */
export class CublasError extends Error {
  override name = "CublasError";
  constructor(
    readonly call: string,
    readonly status: number,
  ) {
    super(`${call} failed: ${STATUS_NAMES[status] ?? `cublasStatus_t ${status}`} (${status})`);
  }
}

/** cublasStatus_t (cublas_api.h); cublasGetStatusString is missing from older libraries. */
const STATUS_NAMES: Record<number, string> = {
  0: "CUBLAS_STATUS_SUCCESS", 1: "CUBLAS_STATUS_NOT_INITIALIZED", 3: "CUBLAS_STATUS_ALLOC_FAILED",
  7: "CUBLAS_STATUS_INVALID_VALUE", 8: "CUBLAS_STATUS_ARCH_MISMATCH", 11: "CUBLAS_STATUS_MAPPING_ERROR",
  13: "CUBLAS_STATUS_EXECUTION_FAILED", 14: "CUBLAS_STATUS_INTERNAL_ERROR", 15: "CUBLAS_STATUS_NOT_SUPPORTED",
  16: "CUBLAS_STATUS_LICENSE_ERROR",
};

// ---------------------------------------------------------------------------
// finding the library

/** Newest first: a toolkit's libcublas.so.N matches its major version; the unversioned name is a dev symlink. */
const SONAMES = ["libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"] as const;

/**
 * Where to look for cuBLAS, in order: SMELT_LIBCUBLAS, then each soname by name (the dynamic
 * loader's own search: LD_LIBRARY_PATH, the ldconfig cache) and under CUDA_HOME/lib64 and
 * /usr/local/cuda/lib64, which a toolkit installed from NVIDIA's runfile leaves off the cache.
 */
export function cublasCandidates(env: Readonly<Record<string, string | undefined>> = process.env): string[] {
  const dirs = [...new Set([env.CUDA_HOME ? `${env.CUDA_HOME.replace(/\/+$/, "")}/lib64` : "", "/usr/local/cuda/lib64"].filter(Boolean))];
  const paths = SONAMES.flatMap((name) => [name, ...dirs.map((d) => `${d}/${name}`)]);
  return env.SMELT_LIBCUBLAS ? [env.SMELT_LIBCUBLAS, ...paths] : paths;
}

/**
 * The first candidate `load` accepts. When none does, the error lists every path tried; a
 * library that exists but fails to load (a missing libcublasLt, a wrong architecture) keeps
 * the loader's reason, since that is the one a user must act on.
 */
export function loadFirst<L>(candidates: readonly string[], load: (path: string) => L): { lib: L; path: string } {
  const tried: string[] = [];
  for (const path of candidates) {
    try {
      return { lib: load(path), path };
    } catch (e) {
      const why = (e as Error).message ?? String(e);
      tried.push(/no such file/i.test(why) ? path : `${path} (${why})`);
    }
  }
  throw new CublasUnavailableError(`no cuBLAS library loaded; tried ${tried.join(", ")}. Set SMELT_LIBCUBLAS to its path`);
}

// ---------------------------------------------------------------------------
// row-major products on a column-major library

export type GemmOp = "N" | "T";

/** One cublasSgemm call's shape arguments, in the order cuBLAS takes them. */
export interface ColumnMajorGemm {
  readonly transa: GemmOp;
  readonly transb: GemmOp;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly lda: number;
  readonly ldb: number;
  readonly ldc: number;
  /** The row-major operands cuBLAS reads as its A and its B: swapped, since it computes Cᵀ = Bᵀ·Aᵀ. */
  readonly operands: readonly ["B", "A"];
}

/**
 * cuBLAS's arguments for the row-major product C[m,n] = A·B, with A stored [m,k] (or [k,m]
 * when `transA`) and B stored [k,n] (or [n,k] when `transB`). A row-major [r,c] array read
 * column-major is its transpose, [c,r] with leading dimension c; so cuBLAS is asked for
 * Cᵀ = Bᵀ·Aᵀ, which it writes column-major into exactly C's row-major bytes: operands and
 * m, n swapped, no data moved, and a transpose only where an operand is stored transposed.
 */
export function rowMajorGemm(m: number, n: number, k: number, stored: { transA?: boolean; transB?: boolean } = {}): ColumnMajorGemm {
  const { transA = false, transB = false } = stored;
  return {
    transa: transB ? "T" : "N", transb: transA ? "T" : "N",
    m: n, n: m, k,
    lda: transB ? k : n, ldb: transA ? m : k, ldc: n,
    operands: ["B", "A"],
  };
}

// ---------------------------------------------------------------------------
// the binding

/**
 * The entry points bound (cublas_api.h; the _v2 names are what cublas_v2.h's macros call).
 * Device pointers are declared uint64_t, as the driver binding passes them: a pointer and a
 * 64-bit integer travel in the same register or stack slot on every 64-bit ABI CUDA runs on.
 */
const PROTOTYPES = [
  "int cublasCreate_v2(_Out_ cublasHandle_t *handle)",
  "int cublasDestroy_v2(cublasHandle_t handle)",
  "int cublasGetVersion_v2(cublasHandle_t handle, _Out_ int *version)",
  "int cublasSetStream_v2(cublasHandle_t handle, CUstream stream)",
  "int cublasSgemm_v2(cublasHandle_t handle, int transa, int transb, int m, int n, int k, const float *alpha, uint64_t A, int lda, uint64_t B, int ldb, const float *beta, uint64_t C, int ldc)",
] as const;

type Fn = (...args: unknown[]) => number;

const OP: Record<GemmOp, number> = { N: 0, T: 1 };

/** A cuBLAS handle. Open it after the CUDA device, so cuBLAS finds smelt's context current. */
export class Cublas {
  private readonly one = Float32Array.of(1);
  private readonly zero = Float32Array.of(0);

  private constructor(
    private readonly fn: Record<string, Fn>,
    private readonly handle: unknown,
    /** The library loaded. */
    readonly path: string,
    /** cublasGetVersion's number: major·10000 + minor·100 + patch. */
    readonly version: number,
  ) {}

  /** Loads the first of `candidates` and creates a handle; CublasUnavailableError when none loads. */
  static async open(candidates: readonly string[] = cublasCandidates()): Promise<Cublas> {
    const koffi = await importKoffi((why) => new CublasUnavailableError(why));
    const { lib, path } = loadFirst(candidates, (p) => koffi.load(p));
    declareHandles(koffi, ["cublasHandle_t", "CUstream"]);
    const fn = bind(lib, path);
    const handle: unknown[] = [null];
    check(fn, "cublasCreate_v2", handle);
    const version = [0];
    check(fn, "cublasGetVersion_v2", handle[0], version);
    return new Cublas(fn, handle[0], path, version[0]!);
  }

  /** "12.4.5" from 120405. */
  get versionText(): string {
    const v = this.version;
    return `${Math.floor(v / 10000)}.${Math.floor(v / 100) % 100}.${v % 100}`;
  }

  /** Enqueues later calls on `stream`; null is the legacy default stream, the one smelt's CUDA backend launches on. */
  setStream(stream: unknown): void {
    check(this.fn, "cublasSetStream_v2", this.handle, stream);
  }

  /** Enqueues C = A·B for row-major device arrays A [m,k], B [k,n], C [m,n] (float32). */
  sgemm(a: DevicePtr, b: DevicePtr, c: DevicePtr, m: number, n: number, k: number): void {
    const g = rowMajorGemm(m, n, k);
    const ptr = { A: a, B: b };
    check(this.fn, "cublasSgemm_v2", this.handle, OP[g.transa], OP[g.transb], g.m, g.n, g.k,
      this.one, ptr[g.operands[0]], g.lda, ptr[g.operands[1]], g.ldb, this.zero, c, g.ldc);
  }

  destroy(): void {
    check(this.fn, "cublasDestroy_v2", this.handle);
  }
}

function bind(lib: Koffi.LibraryHandle, path: string): Record<string, Fn> {
  const fn: Record<string, Fn> = {};
  for (const proto of PROTOTYPES) {
    const name = /\b(cublas\w+)\(/.exec(proto)![1]!;
    try {
      fn[name] = lib.func(proto) as unknown as Fn;
    } catch (e) {
      throw new CublasUnavailableError(`${path} lacks ${name} (${(e as Error).message})`);
    }
  }
  return fn;
}

function check(fn: Record<string, Fn>, name: string, ...args: unknown[]): void {
  const status = fn[name]!(...args);
  if (status !== 0) throw new CublasError(name, status);
}
