/**
 * The cuBLAS binding scripts/cuda-check.ts compares smelt's matmul with, without a GPU: the
 * library search and its message when nothing loads, the row-major → column-major argument
 * mapping against a column-major reference GEMM written here, and the FFI binding itself
 * against fake libcuda and libcublas (host memory, a real column-major SGEMM) built from C.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CudaDriver } from "../../runtime/cuda-driver.js";
import { Cublas, CublasError, CublasUnavailableError, type GemmOp, cublasCandidates, loadFirst, rowMajorGemm } from "../../runtime/cublas.js";

describe("finding cuBLAS", () => {
  it("tries SMELT_LIBCUBLAS first, then libcublas.so.13, .12, .11 and libcublas.so, each by name and under CUDA_HOME/lib64 and /usr/local/cuda/lib64", () => {
    const names = ["libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"];
    expect(cublasCandidates({ SMELT_LIBCUBLAS: "/opt/blas/libcublas.so.12", CUDA_HOME: "/opt/cuda-12.4/" })).toEqual([
      "/opt/blas/libcublas.so.12",
      ...names.flatMap((n) => [n, `/opt/cuda-12.4/lib64/${n}`, `/usr/local/cuda/lib64/${n}`]),
    ]);
  });

  it("without SMELT_LIBCUBLAS or CUDA_HOME, and with CUDA_HOME at /usr/local/cuda, looks in each place once", () => {
    const bare = cublasCandidates({});
    expect(bare.slice(0, 2)).toEqual(["libcublas.so.13", "/usr/local/cuda/lib64/libcublas.so.13"]);
    expect(bare).toHaveLength(8);
    expect(cublasCandidates({ CUDA_HOME: "/usr/local/cuda" })).toEqual(bare);
  });

  it("when nothing loads, CublasUnavailableError lists every path tried and says how to name the library", () => {
    const absent = () => {
      throw new Error("Failed to load shared library: cannot open shared object file: No such file or directory");
    };
    const err = (() => {
      try {
        loadFirst(["libcublas.so.12", "/usr/local/cuda/lib64/libcublas.so.12"], absent);
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err).toBeInstanceOf(CublasUnavailableError);
    expect(err!.message).toBe(
      "no cuBLAS library loaded; tried libcublas.so.12, /usr/local/cuda/lib64/libcublas.so.12. Set SMELT_LIBCUBLAS to its path",
    );
  });

  it("keeps the loader's reason for a library that exists but does not load, and stops at the first that does", () => {
    const load = (p: string) => {
      if (p === "a.so") throw new Error("libcublasLt.so.12: cannot open shared object file: No such file or directory");
      if (p === "b.so") throw new Error("wrong ELF class: ELFCLASS32");
      return p.toUpperCase();
    };
    expect(() => loadFirst(["b.so"], load)).toThrow("tried b.so (wrong ELF class: ELFCLASS32)");
    expect(loadFirst(["a.so", "c.so", "d.so"], load)).toEqual({ lib: "C.SO", path: "c.so" });
  });

  it("Cublas.open() where no candidate exists rejects with CublasUnavailableError naming them", async () => {
    await expect(Cublas.open(["/nonexistent/libcublas.so.12"])).rejects.toThrow(
      new CublasUnavailableError("no cuBLAS library loaded; tried /nonexistent/libcublas.so.12. Set SMELT_LIBCUBLAS to its path"),
    );
  });
});

/** BLAS's SGEMM, column-major: C = alpha·op(A)·op(B) + beta·C, op(A) m×k, op(B) k×n. */
function sgemmColumnMajor(transa: GemmOp, transb: GemmOp, m: number, n: number, k: number, alpha: number,
  A: Float32Array, lda: number, B: Float32Array, ldb: number, beta: number, C: Float32Array, ldc: number): void {
  const a = (i: number, l: number) => (transa === "N" ? A[i + l * lda]! : A[l + i * lda]!);
  const b = (l: number, j: number) => (transb === "N" ? B[l + j * ldb]! : B[j + l * ldb]!);
  for (let j = 0; j < n; j++)
    for (let i = 0; i < m; i++) {
      let s = 0;
      for (let l = 0; l < k; l++) s += a(i, l) * b(l, j);
      C[i + j * ldc] = alpha * s + beta * C[i + j * ldc]!;
    }
}

/** Row-major [rows, cols] with entries from `seed`, and its transpose stored row-major. */
function matrix(rows: number, cols: number, seed: number): { data: Float32Array; transposed: Float32Array; at: (i: number, j: number) => number } {
  const data = Float32Array.from({ length: rows * cols }, (_, i) => ((i * 7 + seed * 13) % 11) - 5);
  const transposed = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) transposed[j * rows + i] = data[i * cols + j]!;
  return { data, transposed, at: (i, j) => data[i * cols + j]! };
}

describe("row-major products on a column-major GEMM", () => {
  it("a plain product swaps the operands and m with n, and transposes nothing", () => {
    expect(rowMajorGemm(2, 3, 4)).toEqual({ transa: "N", transb: "N", m: 3, n: 2, k: 4, lda: 3, ldb: 4, ldc: 3, operands: ["B", "A"] });
  });

  it("the mapped call writes the row-major product A·B into C, for any shape and operands stored either way", () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 9 }), fc.boolean(), fc.boolean(),
      (m, n, k, transA, transB) => {
        const a = matrix(m, k, 1), b = matrix(k, n, 2);
        const stored = { A: transA ? a.transposed : a.data, B: transB ? b.transposed : b.data };
        const g = rowMajorGemm(m, n, k, { transA, transB });
        const c = new Float32Array(m * n);
        sgemmColumnMajor(g.transa, g.transb, g.m, g.n, g.k, 1, stored[g.operands[0]], g.lda, stored[g.operands[1]], g.ldb, 0, c, g.ldc);
        for (let i = 0; i < m; i++)
          for (let j = 0; j < n; j++) {
            let want = 0;
            for (let l = 0; l < k; l++) want += a.at(i, l) * b.at(l, j);
            expect(c[i * n + j]).toBe(want);
          }
      },
    ));
  });
});

const CC = ["cc", "gcc", "clang"].find((c) => spawnSync(c, ["--version"]).status === 0);
if (!CC) console.warn("skipping the fake cuBLAS tests: no C compiler (cc, gcc or clang)");

describe.skipIf(!CC)("against fake libcuda and libcublas", () => {
  let dir: string;
  let driver: CudaDriver;
  let cublas: Cublas;
  let handles: () => number;
  const saved = process.env.SMELT_LIBCUDA;

  function build(source: string, lib: string): string {
    const out = join(dir, lib);
    const r = spawnSync(CC!, ["-shared", "-fPIC", "-O1", "-o", out, join(import.meta.dirname, source)], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`building ${lib} failed:\n${r.stderr}`);
    return out;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "smelt-fake-cublas-"));
    process.env.SMELT_LIBCUDA = build("fake-libcuda.c", "libcuda-fake.so");
    const blas = build("fake-libcublas.c", "libcublas-fake.so");
    driver = await CudaDriver.open();
    cublas = await Cublas.open(cublasCandidates({ SMELT_LIBCUBLAS: blas }));
    cublas.setStream(null);
    const koffi = (await import("koffi")).default;
    handles = koffi.load(blas).func("int fake_cublas_handles()") as () => number;
  });

  afterAll(() => {
    if (saved === undefined) delete process.env.SMELT_LIBCUDA;
    else process.env.SMELT_LIBCUDA = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  /** A device array holding `data`. */
  function upload(data: Float32Array) {
    const ptr = driver.alloc(data.byteLength);
    driver.copyToDevice(ptr, data);
    return ptr;
  }

  it("loads the library SMELT_LIBCUBLAS names and reads its version as major.minor.patch", () => {
    expect(cublas.path).toMatch(/libcublas-fake\.so$/);
    expect(cublas.versionText).toBe("12.9.3");
  });

  it("sgemm writes the row-major product of device matrices into C", () => {
    const [m, n, k] = [5, 3, 7];
    const a = matrix(m, k, 3), b = matrix(k, n, 4);
    const [pa, pb, pc] = [upload(a.data), upload(b.data), upload(new Float32Array(m * n))];
    cublas.sgemm(pa, pb, pc, m, n, k);
    const c = new Float32Array(m * n);
    driver.copyToHost(c, pc);
    for (const p of [pa, pb, pc]) driver.free(p);
    const want = Array.from({ length: m * n }, (_, x) => {
      const [i, j] = [Math.floor(x / n), x % n];
      return Array.from({ length: k }, (_, l) => a.at(i, l) * b.at(l, j)).reduce((s, v) => s + v, 0);
    });
    expect([...c]).toEqual(want);
  });

  it("a call cuBLAS rejects is a CublasError naming the call and the status", () => {
    const p = upload(new Float32Array(4));
    try {
      expect(() => cublas.sgemm(p, p, p, -1, 2, 2)).toThrow(new CublasError("cublasSgemm_v2", 7));
      expect(new CublasError("cublasSgemm_v2", 7).message).toBe("cublasSgemm_v2 failed: CUBLAS_STATUS_INVALID_VALUE (7)");
    } finally {
      driver.free(p);
    }
  });

  it("destroy() gives the handle back", async () => {
    const other = await Cublas.open([cublas.path]);
    expect(handles()).toBe(2);
    other.destroy();
    expect(handles()).toBe(1);
  });
});
