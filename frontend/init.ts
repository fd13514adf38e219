/**
 * Backend selection. The default backend is WebGPU when an adapter exists, else
 * the reference interpreter (with a one-line notice saying how to get WebGPU).
 * `SMELT_BACKEND=interp|webgpu|cuda` or `init({ backend })` chooses explicitly.
 */
import type { Backend, BackendName } from "../runtime/backend.js";
import { interpBackend } from "../runtime/interp.js";
import { platform } from "../runtime/platform.js";
import { ArgumentError, checkBackendName, describe } from "./arguments.js";
import { loadPasses, setCompileCache } from "./compile.js";
import { getBackend, registerBackend, setDefaultBackend } from "./core.js";

export interface InitOptions {
  readonly backend?: BackendName;
  /** Make this backend the default for eager operations and jit (default true). */
  readonly setDefault?: boolean;
  /**
   * The device memory budget in bytes: an allocation past it throws DeviceOutOfMemoryError
   * (after giving idle pooled buffers back). WebGPU's default is 4 × the adapter's
   * maxBufferSize (on a software adapter, at most half the host's RAM); CUDA's is unbounded
   * (the driver's own out-of-memory becomes the same error). Ignored by the interpreter.
   */
  readonly memoryLimit?: number;
  /**
   * Keep compiled programs on disk for later processes (default true in Node, where the
   * cache lives under SMELT_CACHE_DIR; a browser keeps none). SMELT_COMPILE_CACHE=0 also
   * turns it off.
   */
  readonly compileCache?: boolean;
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
      const open = platform().backends.cuda;
      if (!open) throw new Error("the cuda backend runs in Node only (import smelt's Node entry); this host has webgpu and interp");
      return open();
    }
    default:
      return name satisfies never;
  }
}

/**
 * Initialises a backend (once) and returns it. After its device was lost, opens a new one
 * first: tensors of the lost device stay unusable, everything else carries on.
 */
export async function initBackend(name: BackendName): Promise<Backend> {
  checkBackendName("initBackend", "name", name);
  const [b] = await Promise.all([openBackend(name), loadPasses()]);
  if (b.deviceLost) await b.reopen!();
  return b;
}

function openBackend(name: BackendName): Promise<Backend> {
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
  if (options === null || typeof options !== "object")
    throw new ArgumentError("init", "options", describe(options), "an object { backend?, setDefault?, memoryLimit?, compileCache? }");
  const limit = options.memoryLimit;
  if (limit !== undefined && !(typeof limit === "number" && Number.isSafeInteger(limit) && limit > 0))
    throw new ArgumentError("init", "options.memoryLimit", describe(limit), "a positive whole number of bytes");
  if (options.compileCache !== undefined && typeof options.compileCache !== "boolean")
    throw new ArgumentError("init", "options.compileCache", describe(options.compileCache), "a boolean");
  if (options.compileCache !== undefined) setCompileCache(options.compileCache);
  registerBackend(interpBackend);
  await loadPasses();
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
        console.warn(`smelt: using the reference interpreter (slow but exact): ${(e as Error).message.split("\n")[0]}`);
      }
    }
  }
  if (limit !== undefined) backend.setMemoryLimit?.(limit);
  if (options.setDefault ?? true) setDefaultBackend(backend);
  return backend;
}

export { getBackend };
