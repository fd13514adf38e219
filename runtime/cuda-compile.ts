/**
 * CUDA C → loadable image through nvcc, one call per module (a whole program's kernels in
 * one translation unit, so the ~1 s of nvcc start-up is paid once), cached on disk by a
 * hash of the source, the toolkit version and the flags.
 *
 * The image is a fatbin holding SASS for the device's architecture and PTX for the same
 * virtual architecture: SASS loads on any driver the toolkit's minor-version compatibility
 * allows, and the PTX lets the driver JIT for a device newer than the toolkit knows.
 * When the toolkit does not know the device's sm, we compile for the newest one it knows
 * below it and rely on that PTX.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { debugLevel, debugLog } from "./debug.js";
import { cacheRoot, writeAtomically } from "./node-platform.js";

/** nvcc rejected a module; carries its diagnostics, and the source at SMELT_DEBUG=4. */
export class CudaCompileError extends Error {
  override name = "CudaCompileError";
  constructor(
    readonly kernels: readonly string[],
    readonly diagnostics: string,
    readonly source: string,
  ) {
    super(
      `nvcc failed to compile kernel(s) ${kernels.join(", ")}:\n  ${diagnostics.trim().split("\n").join("\n  ")}` +
        (debugLevel() >= 4 ? `\n--- CUDA source ---\n${source}` : "\n(set SMELT_DEBUG=4 to print the CUDA source)"),
    );
  }
}

/** The nvcc binary: SMELT_NVCC, $CUDA_HOME/bin, PATH, then /usr/local/cuda/bin; undefined when absent. */
export function findNvcc(): string | undefined {
  const env = process.env;
  const candidates = [
    env.SMELT_NVCC,
    env.CUDA_HOME && join(env.CUDA_HOME, "bin", "nvcc"),
    env.CUDA_PATH && join(env.CUDA_PATH, "bin", "nvcc"),
    ...(env.PATH ?? "").split(delimiter).filter(Boolean).map((d) => join(d, "nvcc")),
    "/usr/local/cuda/bin/nvcc",
  ];
  return candidates.find((c): c is string => !!c && existsSync(c));
}

/** ptxas next to nvcc (the test suite assembles PTX separately to see its warnings). */
export function findPtxas(nvcc: string): string | undefined {
  const beside = join(nvcc, "..", "ptxas");
  return existsSync(beside) ? beside : undefined;
}

interface Toolkit {
  readonly nvcc: string;
  readonly version: string;
  /** Real architectures nvcc can generate SASS for (sm numbers, ascending). */
  readonly archs: readonly number[];
}

const toolkits = new Map<string, Toolkit>();

export function toolkit(nvcc: string): Toolkit {
  let t = toolkits.get(nvcc);
  if (!t) {
    const v = spawnSync(nvcc, ["--version"], { encoding: "utf8" });
    if (v.status !== 0) throw new Error(`${nvcc} --version failed: ${v.stderr || v.error?.message}`);
    const version = /release ([\d.]+)/.exec(v.stdout)?.[1] ?? v.stdout.trim().split("\n").pop()!;
    const list = spawnSync(nvcc, ["--list-gpu-code"], { encoding: "utf8" });
    const archs = [...new Set([...(list.stdout ?? "").matchAll(/sm_(\d+)\b/g)].map((m) => Number(m[1])))].sort((a, b) => a - b);
    t = { nvcc, version, archs: archs.length ? archs : [75, 80, 86, 89, 90] };
    toolkits.set(nvcc, t);
  }
  return t;
}

/** The architecture to compile for: the device's own when the toolkit knows it, else the newest below. */
export function chooseArch(sm: number, archs: readonly number[]): number {
  if (archs.includes(sm)) return sm;
  const below = archs.filter((a) => a <= sm);
  if (below.length === 0)
    throw new Error(`this nvcc supports sm_${archs[0]} and newer; the device is sm_${sm} (install an older CUDA toolkit)`);
  return below[below.length - 1]!;
}

/** Where compiled images are kept: `cuda/` under the cache root (SMELT_CACHE_DIR, else ~/.cache/smelt). */
export function cacheDir(): string {
  return join(cacheRoot(), "cuda");
}

export type ImageFormat = "ptx" | "fatbin" | "cubin";

export interface CompileRequest {
  readonly source: string;
  /** Entry names, for error messages. */
  readonly kernels: readonly string[];
  readonly sm: number;
  readonly format?: ImageFormat;
  /** Extra nvcc flags (the tests add `-Werror all-warnings`). */
  readonly flags?: readonly string[];
  readonly nvcc?: string;
  /** Skip the disk cache (tests that must see nvcc's diagnostics). */
  readonly noCache?: boolean;
}

export interface CompileResult {
  readonly image: Uint8Array;
  readonly arch: number;
  readonly cached: boolean;
  /** nvcc's warnings (empty when clean). */
  readonly diagnostics: string;
}

function archFlags(arch: number, format: ImageFormat): string[] {
  if (format === "ptx") return ["-ptx", `-arch=compute_${arch}`];
  if (format === "cubin") return ["-cubin", `-arch=sm_${arch}`];
  return ["-fatbin", `-gencode=arch=compute_${arch},code=[sm_${arch},compute_${arch}]`];
}

interface Job {
  readonly req: CompileRequest;
  readonly nvcc: string;
  readonly format: ImageFormat;
  readonly arch: number;
  readonly args: (src: string, out: string) => string[];
  readonly cachePath: string;
}

function job(req: CompileRequest): Job {
  const nvcc = req.nvcc ?? findNvcc();
  if (!nvcc) throw new Error("nvcc not found (set SMELT_NVCC or CUDA_HOME, or put the CUDA toolkit's bin on PATH)");
  const tk = toolkit(nvcc);
  const format = req.format ?? "fatbin";
  const arch = chooseArch(req.sm, tk.archs);
  const flags = ["-std=c++17", ...archFlags(arch, format), ...(req.flags ?? [])];
  const key = createHash("sha256").update(`${tk.version}\n${flags.join(" ")}\n${req.source}`).digest("hex").slice(0, 32);
  return { req, nvcc, format, arch, args: (src, out) => [...flags, "-o", out, src], cachePath: join(cacheDir(), `${key}.${format}`) };
}

function fromCache(j: Job): CompileResult | undefined {
  if (j.req.noCache || !existsSync(j.cachePath)) return undefined;
  debugLog(1, `cuda: ${j.req.kernels.length} kernel(s) from cache ${j.cachePath}`);
  return { image: withNul(readFileSync(j.cachePath), j.format), arch: j.arch, cached: true, diagnostics: "" };
}

/** Runs nvcc in a scratch directory; `exec` is spawnSync or its asynchronous twin. */
function withScratch<T>(j: Job, exec: (args: string[], done: (status: number | null, stderr: string) => CompileResult) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "smelt-nvcc-"));
  const src = join(dir, "module.cu"), out = join(dir, `module.${j.format}`);
  writeFileSync(src, j.req.source);
  const t0 = performance.now();
  const done = (status: number | null, stderr: string): CompileResult => {
    try {
      const diagnostics = stderr.replaceAll(src, "module.cu");
      if (status !== 0 || !existsSync(out)) throw new CudaCompileError(j.req.kernels, diagnostics || `nvcc exited with ${status}`, j.req.source);
      if (diagnostics.trim()) debugLog(1, `cuda: nvcc warnings:\n${diagnostics}`);
      debugLog(1, `cuda: nvcc compiled ${j.req.kernels.length} kernel(s) for sm_${j.arch} in ${(performance.now() - t0).toFixed(0)} ms`);
      const image = readFileSync(out);
      if (!j.req.noCache) writeAtomically(j.cachePath, image);
      return { image: withNul(image, j.format), arch: j.arch, cached: false, diagnostics };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  return exec(j.args(src, out), done);
}

/** Compiles one module with nvcc (or returns the cached image). Synchronous: Backend.compile is. */
export function compileCudaModule(req: CompileRequest): CompileResult {
  const j = job(req);
  return fromCache(j) ?? withScratch(j, (args, done) => {
    const r = spawnSync(j.nvcc, args, { encoding: "utf8" });
    return done(r.status, `${r.stderr ?? ""}${r.error ? r.error.message : ""}`);
  });
}

/** Compiles several modules with one nvcc process per core (nvcc itself is single-threaded). */
export async function compileCudaModules(reqs: readonly CompileRequest[]): Promise<CompileResult[]> {
  const jobs = reqs.map(job);
  const results: CompileResult[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < jobs.length; i = next++) {
      const j = jobs[i]!;
      results[i] = fromCache(j) ?? (await withScratch(j, (args, done) => new Promise<CompileResult>((resolve, reject) => {
        const child = spawn(j.nvcc, args, { stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        child.stderr.on("data", (d) => (stderr += d));
        child.on("error", (e) => (stderr += e.message));
        child.on("close", (status) => {
          try {
            resolve(done(status, stderr));
          } catch (e) {
            reject(e);
          }
        });
      })));
    }
  };
  await Promise.all(Array.from({ length: Math.min(availableParallelism(), jobs.length) }, worker));
  return results;
}

/** cuModuleLoadData reads PTX as a C string. */
function withNul(image: Uint8Array, format: ImageFormat): Uint8Array {
  if (format !== "ptx" || image[image.length - 1] === 0) return image;
  const out = new Uint8Array(image.length + 1);
  out.set(image);
  return out;
}
