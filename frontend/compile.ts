/**
 * The compile step between the frontend and the backends: run the pass pipeline,
 * then hand the graph to a backend. Results are cached per graph object, backend
 * and options, so a jitted function compiles once per input signature; they live as long
 * as the graph, or until `disposeCompiled` (jit's bounded cache evicting a signature).
 * Across processes, the persistent compile cache (runtime/compile-cache.ts) keeps the
 * lowered programs of backends that have a target, so a second process runs no pass.
 */
import type { Graph } from "../ir/graph.js";
import type { Stage } from "../passes/pipeline.js";
import type { Backend, Executable } from "../runtime/backend.js";
import { debugLevel, debugLog } from "../runtime/debug.js";
import { platform } from "../runtime/platform.js";
import type { CacheEntry } from "../runtime/compile-cache.js";
import { printIR } from "../ir/print.js";

export interface CompileSettings {
  readonly fuse?: boolean;
  readonly disablePasses?: readonly string[];
  /** Tile matmuls by measurement (runtime/autotune.ts). */
  readonly autotune?: boolean;
}

/**
 * Where a compile's time went, in ms: the passes, codegen (lowering and rendering kernels,
 * or reading them from the persistent cache) and creating the device's pipelines.
 */
export interface CompileSplit {
  readonly passesMs: number;
  readonly codegenMs: number;
  readonly pipelinesMs: number;
  /** Timing candidate tilings (`autotune`, on the asynchronous path), where it ran. */
  readonly autotuneMs?: number;
}

export interface Compiled {
  readonly executable: Executable;
  /** The graph after each pass; empty for a program loaded from the persistent cache, where none ran. */
  readonly stages: readonly Stage[];
  readonly compileMs: number;
  readonly split: CompileSplit;
  /** The persistent cache's entry the program was loaded from, where it was. */
  readonly cacheEntry?: string;
}

const cache = new WeakMap<Graph, Map<string, Compiled>>();

/** What the compile step and the transformations use of passes/. */
type Passes = typeof import("./passes.js");
let passes: Passes | undefined;
/** The persistent cache's keys and (de)serialisation: loaded only on a host that has a store. */
let persistent: typeof import("../runtime/compile-cache.js") | undefined;
let persistentOn = true;

/**
 * Loads the optimisation passes, once. They are a third of the frontend's code and only a
 * compilation needs them, so a page's entry script stays small: `init()` (which both
 * entries await on import) loads them alongside the backend. The persistent cache's module
 * loads with them where the host keeps one (Node), and never in a browser.
 */
export async function loadPasses(): Promise<void> {
  passes ??= await import("./passes.js");
  if (platform().compileCache) persistent ??= await import("../runtime/compile-cache.js");
}

/** The loaded passes; throws when nothing awaited `init()` (or `loadPasses()`) first. */
export function loadedPasses(): Passes {
  if (!passes) throw new Error("smelt's compiler passes are not loaded: await init() first (importing 'smelt' does)");
  return passes;
}

/** Turns the persistent compile cache on or off for this process (`init({ compileCache })`). */
export function setCompileCache(on: boolean): void {
  persistentOn = on;
}

/** What a caller needs besides the executable: `stages` (jit's `lower()`) runs the passes even when the persistent cache has the program. */
export interface CompileRequest {
  readonly stages?: boolean;
}

interface Resolved {
  readonly fuse: boolean;
  readonly disablePasses: readonly string[];
  readonly autotune: boolean;
}

const resolve = (settings: CompileSettings): Resolved => ({
  fuse: settings.fuse ?? true, disablePasses: settings.disablePasses ?? [], autotune: settings.autotune ?? false,
});
const keyOf = (backend: Backend, s: Resolved) => `${backend.name}|${s.fuse}|${s.disablePasses.join(",")}|${s.autotune}`;

/** The program compiled for `graph` on `backend` with `settings`, if one is cached in this process; compiles nothing. */
export function compiledFor(graph: Graph, backend: Backend, settings: CompileSettings = {}): Compiled | undefined {
  const hit = cache.get(graph)?.get(keyOf(backend, resolve(settings)));
  return hit && !hit.executable.disposed ? hit : undefined;
}

export function compileGraph(graph: Graph, backend: Backend, settings: CompileSettings = {}, request: CompileRequest = {}): Compiled {
  const s = resolve(settings);
  const key = keyOf(backend, s);
  let perGraph = cache.get(graph);
  if (!perGraph) cache.set(graph, (perGraph = new Map()));
  const hit = perGraph.get(key);
  let compiled: Compiled;
  // A disposed program (its cache entry evicted, or its device lost and replaced) compiles again.
  if (hit && !hit.executable.disposed) {
    if (!request.stages || hit.stages.length > 0) return hit;
    // Loaded from the persistent cache, it ran no pass: inspecting it runs them now.
    compiled = { ...hit, stages: runPasses(graph, backend, s).stages };
  } else {
    const t0 = performance.now();
    const entry = persistentOn ? persistent?.CacheEntry.of(graph, backend, s) : undefined;
    const loaded = request.stages ? undefined : entry?.load(graph.name, backend, t0);
    compiled = loaded ? fromCache(loaded, t0) : compileFresh(graph, backend, s, entry, t0);
  }
  perGraph.set(key, compiled);
  return compiled;
}

function runPasses(graph: Graph, backend: Backend, s: Resolved): { graph: Graph; stages: Stage[] } {
  const result = loadedPasses().runPipeline(graph, {
    fuse: s.fuse,
    disable: s.disablePasses,
    ...(backend.target ? { target: backend.target } : {}),
  });
  if (debugLevel() >= 5)
    for (const st of result.stages) debugLog(5, `// after ${st.pass}\n${st.notes.map((n) => `// ${n}\n`).join("")}${printIR(st.graph)}`);
  return result;
}

/** A program the persistent cache loaded: no pass ran, and its codegen was reading the entry. */
function fromCache(loaded: { executable: Executable; where: string }, t0: number): Compiled {
  const compileMs = performance.now() - t0;
  const pipelinesMs = loaded.executable.pipelinesMs ?? 0;
  return {
    executable: loaded.executable, stages: [], compileMs, cacheEntry: loaded.where,
    split: { passesMs: 0, codegenMs: compileMs - pipelinesMs, pipelinesMs },
  };
}

function compileFresh(graph: Graph, backend: Backend, s: Resolved, entry: CacheEntry | undefined, t0: number): Compiled {
  const tp = performance.now();
  const { graph: lowered, stages } = runPasses(graph, backend, s);
  const passesMs = performance.now() - tp;
  const executable = backend.compile(lowered, { fuse: s.fuse, autotune: s.autotune });
  return finish(graph, backend, executable, stages, entry, t0, passesMs, performance.now() - tp - passesMs);
}

/** The compiled program with its split, stored in the persistent cache where there is one. */
function finish(
  graph: Graph, backend: Backend, executable: Executable, stages: Stage[], entry: CacheEntry | undefined,
  t0: number, passesMs: number, backendMs: number,
): Compiled {
  const stored = entry?.store(executable);
  const pipelinesMs = executable.pipelinesMs ?? 0;
  const autotuneMs = executable.autotuneMs;
  const compiled: Compiled = {
    executable, stages, compileMs: performance.now() - t0,
    split: {
      passesMs, codegenMs: Math.max(0, backendMs - pipelinesMs - (autotuneMs ?? 0)), pipelinesMs,
      ...(autotuneMs !== undefined ? { autotuneMs } : {}),
    },
  };
  debugLog(1, () =>
    `compiled @${graph.name} for ${backend.name}: ${executable.kernels.length} kernel(s) in ${compiled.compileMs.toFixed(1)} ms ` +
    `(passes ${passesMs.toFixed(1)} ms)${stored ? `, stored in the compile cache (${stored})` : ""}`);
  return compiled;
}

/**
 * `compileGraph` with the device's work done ahead (jit's `precompile`): every pipeline created
 * at once (Backend.compileAsync / loadAsync), and with `autotune` the candidates of kernels
 * that have no stored choice timed. A program already compiled in this process is kept, unless
 * it was compiled for autotuning without choices (a synchronous call): it is tuned now and
 * replaces that one.
 */
export async function compileGraphAsync(graph: Graph, backend: Backend, settings: CompileSettings = {}): Promise<Compiled> {
  const s = resolve(settings);
  const key = keyOf(backend, s);
  const hit = cache.get(graph)?.get(key);
  if (hit && !hit.executable.disposed && !((hit.executable.untuned ?? 0) > 0)) return hit;
  const t0 = performance.now();
  const entry = persistentOn ? persistent?.CacheEntry.of(graph, backend, s) : undefined;
  const loaded = await entry?.loadAsync(graph.name, backend, t0);
  let compiled: Compiled;
  if (loaded) compiled = fromCache(loaded, t0);
  else {
    const tp = performance.now();
    const { graph: lowered, stages } = runPasses(graph, backend, s);
    const passesMs = performance.now() - tp;
    const options = { fuse: s.fuse, autotune: s.autotune };
    const executable = backend.compileAsync ? await backend.compileAsync(lowered, options) : backend.compile(lowered, options);
    compiled = finish(graph, backend, executable, stages, entry, t0, passesMs, performance.now() - tp - passesMs);
  }
  let perGraph = cache.get(graph);
  if (!perGraph) cache.set(graph, (perGraph = new Map()));
  const old = perGraph.get(key);
  perGraph.set(key, compiled);
  if (old && old !== compiled) old.executable.dispose();
  return compiled;
}

/** Disposes every program compiled for `graph` (they free their constants); a later call compiles again. */
export function disposeCompiled(graph: Graph): void {
  const perGraph = cache.get(graph);
  if (!perGraph) return;
  cache.delete(graph);
  for (const c of perGraph.values()) c.executable.dispose();
}
