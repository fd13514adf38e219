/**
 * The Node host: WebGPU from Dawn (the npm package `webgpu`, optional), the CUDA backend
 * (nvcc and the driver through koffi, optional), and the host's RAM for a software
 * adapter's budget. Only the Node entry (`index.ts`), the CLI, the benchmark and the test
 * setup import this module; a browser bundle never reaches it.
 */
import { lstatSync, mkdirSync } from "node:fs";
import { tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { NoAdapterError } from "./webgpu-device.js";
import { installPlatform, platform } from "./platform.js";

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
  });
}
