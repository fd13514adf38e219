/**
 * The compile step between the frontend and the backends: run the pass pipeline,
 * then hand the graph to a backend. Results are cached per graph object, backend
 * and options, so a jitted function compiles once per input signature; they live as long
 * as the graph, or until `disposeCompiled` (jit's bounded cache evicting a signature).
 */
import type { Graph } from "../ir/graph.js";
import type { Stage } from "../passes/pipeline.js";
import type { Backend, Executable } from "../runtime/backend.js";
import { debugLevel, debugLog } from "../runtime/debug.js";
import { printIR } from "../ir/print.js";

export interface CompileSettings {
  readonly fuse?: boolean;
  readonly disablePasses?: readonly string[];
}

export interface Compiled {
  readonly executable: Executable;
  readonly stages: readonly Stage[];
  readonly compileMs: number;
}

const cache = new WeakMap<Graph, Map<string, Compiled>>();

/** What the compile step and the transformations use of passes/. */
type Passes = typeof import("./passes.js");
let passes: Passes | undefined;

/**
 * Loads the optimisation passes, once. They are a third of the frontend's code and only a
 * compilation needs them, so a page's entry script stays small: `init()` (which both
 * entries await on import) loads them alongside the backend.
 */
export async function loadPasses(): Promise<void> {
  passes ??= await import("./passes.js");
}

/** The loaded passes; throws when nothing awaited `init()` (or `loadPasses()`) first. */
export function loadedPasses(): Passes {
  if (!passes) throw new Error("smelt's compiler passes are not loaded: await init() first (importing 'smelt' does)");
  return passes;
}

export function compileGraph(graph: Graph, backend: Backend, settings: CompileSettings = {}): Compiled {
  const key = `${backend.name}|${settings.fuse ?? true}|${(settings.disablePasses ?? []).join(",")}`;
  let perGraph = cache.get(graph);
  if (!perGraph) cache.set(graph, (perGraph = new Map()));
  const hit = perGraph.get(key);
  // A disposed program (its cache entry evicted, or its device lost and replaced) compiles again.
  if (hit && !hit.executable.disposed) return hit;
  const t0 = performance.now();
  const { graph: lowered, stages } = loadedPasses().runPipeline(graph, {
    fuse: settings.fuse ?? true,
    disable: settings.disablePasses ?? [],
    ...(backend.target ? { target: backend.target } : {}),
  });
  if (debugLevel() >= 5)
    for (const st of stages) debugLog(5, `// after ${st.pass}\n${st.notes.map((n) => `// ${n}\n`).join("")}${printIR(st.graph)}`);
  const executable = backend.compile(lowered, { fuse: settings.fuse ?? true });
  const compiled: Compiled = { executable, stages, compileMs: performance.now() - t0 };
  debugLog(1, () => `compiled @${graph.name} for ${backend.name}: ${executable.kernels.length} kernel(s) in ${compiled.compileMs.toFixed(1)} ms`);
  perGraph.set(key, compiled);
  return compiled;
}

/** Disposes every program compiled for `graph` (they free their constants); a later call compiles again. */
export function disposeCompiled(graph: Graph): void {
  const perGraph = cache.get(graph);
  if (!perGraph) return;
  cache.delete(graph);
  for (const c of perGraph.values()) c.executable.dispose();
}
