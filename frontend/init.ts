/**
 * Backend selection. The default backend is WebGPU when an adapter exists, else
 * the reference interpreter (with a one-line notice saying how to get WebGPU).
 * `SMELT_BACKEND=interp|webgpu|cuda` or `init({ backend })` chooses explicitly.
 */
import type { Backend, BackendName } from "../runtime/backend.js";
import { interpBackend } from "../runtime/interp.js";
import { ArgumentError, checkBackendName, describe } from "./arguments.js";
import { getBackend, registerBackend, setDefaultBackend } from "./core.js";

export interface InitOptions {
  readonly backend?: BackendName;
  /** Make this backend the default for eager operations and jit (default true). */
  readonly setDefault?: boolean;
}

const pending = new Map<BackendName, Promise<Backend>>();

async function create(name: BackendName): Promise<Backend> {
  switch (name) {
    case "interp":
      return interpBackend;
    case "webgpu": {
      const { createWebGPUBackend } = await import("../runtime/webgpu.js");
      return createWebGPUBackend();
    }
    case "cuda": {
      const { createCudaBackend } = await import("../runtime/cuda.js");
      return createCudaBackend();
    }
    default:
      return name satisfies never;
  }
}

/** Initialises a backend (once) and returns it. */
export async function initBackend(name: BackendName): Promise<Backend> {
  checkBackendName("initBackend", "name", name);
  let p = pending.get(name);
  if (!p) {
    p = create(name).then((b) => {
      registerBackend(b);
      return b;
    });
    pending.set(name, p);
    p.catch(() => pending.delete(name));
  }
  return p;
}

let notified = false;

/**
 * Chooses the default backend. Without an explicit choice it tries WebGPU and
 * falls back to the interpreter, saying so once.
 */
export async function init(options: InitOptions = {}): Promise<Backend> {
  if (options === null || typeof options !== "object") throw new ArgumentError("init", "options", describe(options), "an object { backend?, setDefault? }");
  registerBackend(interpBackend);
  const env = globalThis.process?.env?.SMELT_BACKEND;
  const wanted =
    options.backend !== undefined
      ? checkBackendName("init", "options.backend", options.backend)
      : env
        ? checkBackendName("init", "the SMELT_BACKEND environment variable", env)
        : undefined;
  let backend: Backend;
  if (wanted) {
    backend = await initBackend(wanted);
  } else {
    try {
      backend = await initBackend("webgpu");
    } catch (e) {
      backend = interpBackend;
      if (!notified) {
        notified = true;
        console.warn(
          `smelt: no WebGPU adapter (${(e as Error).message.split("\n")[0]}); using the reference interpreter. ` +
            `On Linux without a GPU, \`bash scripts/setup.sh\` installs Mesa's lavapipe so WebGPU runs in software.`,
        );
      }
    }
  }
  if (options.setDefault ?? true) setDefaultBackend(backend);
  return backend;
}

export { getBackend };
