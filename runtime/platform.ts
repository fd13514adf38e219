/**
 * What the host provides beyond the code every platform shares: where WebGPU comes from,
 * how much RAM the host has, which extra backends exist, and what to tell a user who has
 * no WebGPU. The shared code (everything a browser bundle reaches) asks this module and
 * never imports Node; the Node entry installs Dawn, CUDA and the host's RAM here
 * (`runtime/node-platform.ts`), a browser keeps the defaults (`navigator.gpu`).
 */
import type { Backend, BackendName } from "./backend.js";

export interface Platform {
  /** The WebGPU entry point, or undefined when this host has none. */
  gpu(): Promise<GPU | undefined>;
  /** The host's RAM in bytes, where known (a software adapter's buffers live there). */
  hostMemory(): number | undefined;
  /** Backends beyond the interpreter and WebGPU (CUDA in Node), opened on first use. */
  readonly backends: Partial<Record<BackendName, () => Promise<Backend>>>;
  /** What to tell a user when `gpu()` gives nothing. */
  readonly noWebGPUHint: string;
  /** What to tell a user when WebGPU is there but offers no adapter. */
  readonly noAdapterHint: string;
  /**
   * Where compiled programs persist between processes (runtime/compile-cache.ts), or
   * undefined when this host keeps none (a browser) or it is turned off. Asked per compile,
   * so an environment change takes effect at once.
   */
  compileCache?(): ProgramStore | undefined;
  /**
   * Where the autotuner's choices persist (runtime/autotune.ts); absent, or undefined when
   * turned off: they are kept in memory for the life of the page or process.
   */
  tuningStore?(): ProgramStore | undefined;
}

/** Text entries by key: the persistent compile cache's storage (a directory in Node). */
export interface ProgramStore {
  /** The entry under `key` and where it lives; undefined when there is none or it cannot be read. */
  read(key: string): { readonly text: string; readonly where: string } | undefined;
  /** Stores `text` under `key` so no reader sees half of it; returns where, or undefined when it could not. */
  write(key: string, text: string): string | undefined;
}

const browserPlatform: Platform = {
  async gpu() {
    return (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  },
  hostMemory: () => undefined,
  backends: {},
  noWebGPUHint:
    "this browser exposes no navigator.gpu: use a browser with WebGPU (Chrome or Edge 113+, Safari 26, Firefox 141+) " +
    "on a secure origin (https or localhost)",
  noAdapterHint: "the browser has WebGPU but offers no adapter (WebGPU disabled, or the GPU blocklisted: chrome://gpu says which)",
};

let current: Platform = browserPlatform;

/** The platform in use: the browser defaults unless a host installed its own. */
export const platform = (): Platform => current;

/** Replaces the platform (the Node entry does, once, before any backend opens). */
export function installPlatform(p: Platform): void {
  current = p;
}
