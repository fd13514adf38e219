/**
 * The Node host: WebGPU from Dawn (the npm package `webgpu`, optional), the CUDA backend
 * (nvcc and the driver through koffi, optional), the host's RAM for a software adapter's
 * budget, and the disk caches (compiled programs, CUDA images) under one root directory.
 * Only the Node entry (`index.ts`), the CLI, the benchmark and the test setup import this
 * module; a browser bundle never reaches it.
 */
import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { debugLog } from "./debug.js";
import { NoAdapterError } from "./webgpu-device.js";
import { type ProgramStore, installPlatform, platform } from "./platform.js";

// Dawn frees its instance when the GPU object is collected, even under a live device:
// this module-level reference keeps it alive for the life of the process.
let dawn: GPU | undefined;

/** The Vulkan loader (and Mesa) want a private runtime dir: creates one when XDG_RUNTIME_DIR is unset. */
export function ensureRuntimeDir(prefix = "smelt-xdg-"): void {
  const env = process.env;
  if (env.XDG_RUNTIME_DIR) return;
  // One directory per user, made once and reused (one per process would pile up in /tmp).
  const uid = process.getuid?.() ?? 0;
  const dir = join(tmpdir(), `${prefix}${uid}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  // Someone else's directory (or a link) at that name must not become our runtime dir.
  if (st.isDirectory() && st.uid === uid && (st.mode & 0o077) === 0) env.XDG_RUNTIME_DIR = dir;
}

async function loadDawn(): Promise<GPU> {
  if (dawn) return dawn;
  ensureRuntimeDir();
  let mod: { create(options: string[]): GPU };
  try {
    mod = (await import("webgpu")) as unknown as { create(options: string[]): GPU };
  } catch (e) {
    throw new NoAdapterError(
      `the optional 'webgpu' package (Dawn) could not be loaded: ${(e as Error).message.split("\n")[0]}; ` +
        "install it with `npm install webgpu`",
    );
  }
  dawn = mod.create([]);
  return dawn;
}

/** Where smelt keeps its disk caches: SMELT_CACHE_DIR, else $XDG_CACHE_HOME/smelt or ~/.cache/smelt. */
export function cacheRoot(): string {
  const env = process.env;
  return env.SMELT_CACHE_DIR || join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "smelt");
}

let fingerprint: string | undefined | null = null;

/**
 * A hash of smelt's package.json and of every module that decides what a compile produces (ir/,
 * passes/, codegen/, frontend/: sources under tsx, .js in a build), read once per process.
 * It is part of every compile-cache key, so a developer who edits a pass never gets the
 * kernels of the code before the edit. Undefined (no cache) when the modules cannot be found.
 */
export function compilerFingerprint(): string | undefined {
  if (fingerprint !== null) return fingerprint;
  const root = fileURLToPath(new URL("..", import.meta.url));
  try {
    const hash = createHash("sha256");
    const files = ["ir", "passes", "codegen", "frontend"].flatMap((dir) => moduleFiles(join(root, dir), dir));
    for (const [name, path] of files) hash.update(`${name}\0`).update(readFileSync(path)).update("\0");
    // In a checkout package.json sits at the root; in the package, beside dist/.
    for (const pkg of [join(root, "package.json"), join(root, "..", "package.json")])
      if (existsSync(pkg)) hash.update(readFileSync(pkg));
    fingerprint = files.length > 0 ? hash.digest("hex") : undefined;
    if (!fingerprint) debugLog(1, `compile cache: off (smelt's compiler modules are not under ${root})`);
  } catch (e) {
    fingerprint = undefined;
    debugLog(1, `compile cache: off (cannot read smelt's compiler modules: ${(e as Error).message})`);
  }
  return fingerprint;
}

/** [name relative to the root, path] of each module under `dir`, sorted, declarations and maps left out. */
function moduleFiles(dir: string, name: string): [string, string][] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .flatMap((e): [string, string][] => {
      const path = join(dir, e.name), rel = `${name}/${e.name}`;
      if (e.isDirectory()) return moduleFiles(path, rel);
      return /(?<!\.d)\.(ts|js)$/.test(e.name) ? [[rel, path]] : [];
    });
}

/**
 * The compile cache's directory (`compile/` under the cache root): one JSON file per
 * entry, named by a hash of the compiler's fingerprint and the key. SMELT_COMPILE_CACHE=0
 * turns it off.
 */
function compileCacheStore(): ProgramStore | undefined {
  if (/^(0|false|off)$/i.test(process.env.SMELT_COMPILE_CACHE ?? "")) return undefined;
  const code = compilerFingerprint();
  return code ? directoryStore(join(cacheRoot(), "compile"), code, "compile cache") : undefined;
}

/**
 * The autotuner's choices (`autotune/` under the cache root), one small JSON file per kernel
 * signature. Not salted by the compiler's fingerprint: a signature holds the kernel's IR, so
 * a template that changes gets a new one. SMELT_AUTOTUNE_CACHE=0 keeps choices in memory only.
 */
function tuningStore(): ProgramStore | undefined {
  if (/^(0|false|off)$/i.test(process.env.SMELT_AUTOTUNE_CACHE ?? "")) return undefined;
  return directoryStore(join(cacheRoot(), "autotune"), "", "autotune store");
}

/** Entries as files in `dir`, each named by a hash of `salt` and its key. */
function directoryStore(dir: string, salt: string, what: string): ProgramStore {
  const pathOf = (key: string) => join(dir, `${createHash("sha256").update(`${salt}\n${key}`).digest("hex").slice(0, 40)}.json`);
  return {
    read(key) {
      const where = pathOf(key);
      try {
        return { text: readFileSync(where, "utf8"), where };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") debugLog(1, `${what}: cannot read ${where}: ${(e as Error).message}`);
        return undefined;
      }
    },
    write(key, text) {
      const where = pathOf(key);
      return writeAtomically(where, text) ? where : undefined;
    },
  };
}

/** Writes a temporary file and renames it over `path`, so a concurrent reader sees the old entry or the new one, never half. */
export function writeAtomically(path: string, data: string | Uint8Array): boolean {
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(tmp, data);
    renameSync(tmp, path);
    return true;
  } catch (e) {
    rmSync(tmp, { force: true });
    debugLog(1, `cannot write the cache entry ${path}: ${(e as Error).message}`);
    return false;
  }
}

let installed = false;

/** Makes Node the platform (idempotent): Dawn for WebGPU, CUDA as a backend, the host's RAM. */
export function installNodePlatform(): void {
  if (installed) return;
  installed = true;
  // A page-like host (Deno, a test DOM) that has navigator.gpu keeps using it.
  const browser = platform();
  installPlatform({
    gpu: async () => (await browser.gpu()) ?? loadDawn(),
    hostMemory: () => totalmem(),
    backends: {
      cuda: async () => (await import("./cuda.js")).createCudaBackend(),
    },
    noWebGPUHint: "install the optional package `webgpu` (Dawn): `npm install webgpu`",
    noAdapterHint:
      "Dawn needs a Vulkan driver: use a machine with a GPU driver, or on Linux without a GPU install Mesa >= 24's " +
      "lavapipe (`mesa-vulkan-drivers`; in a smelt checkout `bash scripts/setup.sh` does it)",
    compileCache: compileCacheStore,
    tuningStore,
  });
}
