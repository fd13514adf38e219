/**
 * The persistent compile cache: the program a graph lowers to, with its kernels as rendered,
 * stored (in Node, a directory under SMELT_CACHE_DIR) so that a later process compiling the
 * same graph for the same target runs no pass, no lowering and no rendering; it only loads
 * the program (uploads its constants, creates its pipelines). What the driver does with a
 * pipeline has caches of its own: Mesa's shader cache on disk, nvcc's images (runtime/
 * cuda-compile.ts). Cold compiles are what a user waits for on a first call.
 *
 * An entry is keyed by the graph's IR text, the target (every limit and feature codegen
 * reads), the compile settings and, in the store, a fingerprint of smelt's compiler code.
 * frontend/compile.ts asks it on every compile of a backend with a target; a browser has no
 * store, and this module then never loads.
 */
import type { Program } from "../codegen/program.js";
import { ProgramFormatError, programFromJson, programToJson } from "../codegen/program-json.js";
import type { Target } from "../codegen/target.js";
import type { Graph } from "../ir/graph.js";
import { printIR } from "../ir/print.js";
import type { Backend, Executable } from "./backend.js";
import { debugLog } from "./debug.js";
import { type ProgramStore, platform } from "./platform.js";

/** The compile settings that change what a graph compiles to (jit's `fuse`, `disablePasses` and `autotune`). */
export interface CompileCacheSettings {
  readonly fuse: boolean;
  readonly disablePasses: readonly string[];
  readonly autotune?: boolean;
}

/** One compile's place in the store: where its program is looked up, and stored after a miss. */
export class CacheEntry {
  private constructor(
    private readonly programs: ProgramStore,
    private readonly key: string,
  ) {}

  /** The entry for this compile, where one applies: a backend that loads programs for a target, on a host with a store. */
  static of(graph: Graph, backend: Backend, settings: CompileCacheSettings): CacheEntry | undefined {
    if (!backend.target || !backend.load) return undefined;
    const programs = platform().compileCache?.();
    const device = settings.autotune ? backend.tuningDevice?.() : undefined;
    return programs && new CacheEntry(programs, compileKey(graph, backend.target, settings, device));
  }

  /**
   * The stored program, loaded with its rendered kernels: no pass, no lowering and (on WebGPU)
   * no rendering run; CUDA renders its module again to find nvcc's image. An entry that does
   * not load (corrupt, or of a smelt that stored something else) is compiled again and
   * overwritten; a real fault (a lost device) recurs in that compile and is thrown there.
   */
  load(name: string, backend: Backend, t0: number): { executable: Executable; where: string } | undefined {
    const found = loadProgram(this.programs, this.key);
    if (!found) return undefined;
    let executable: Executable;
    try {
      executable = backend.load!(found.program, found.sources);
    } catch (e) {
      debugLog(1, `compile cache: ignoring ${found.where}: ${(e as Error).message}`);
      return undefined;
    }
    return this.loaded(name, backend, t0, executable, found.where);
  }

  /** `load`, creating the program's pipelines at once (Backend.loadAsync) where the backend can. */
  async loadAsync(name: string, backend: Backend, t0: number): Promise<{ executable: Executable; where: string } | undefined> {
    if (!backend.loadAsync) return this.load(name, backend, t0);
    const found = loadProgram(this.programs, this.key);
    if (!found) return undefined;
    let executable: Executable;
    try {
      executable = await backend.loadAsync(found.program, found.sources);
    } catch (e) {
      debugLog(1, `compile cache: ignoring ${found.where}: ${(e as Error).message}`);
      return undefined;
    }
    return this.loaded(name, backend, t0, executable, found.where);
  }

  private loaded(name: string, backend: Backend, t0: number, executable: Executable, where: string) {
    const compileMs = performance.now() - t0;
    debugLog(1, () =>
      `compiled @${name} for ${backend.name} from the compile cache (${where}): ` +
      `${executable.kernels.length} kernel(s) in ${compileMs.toFixed(1)} ms, no pass or lowering ran`);
    return { executable, where };
  }

  /** Stores what `executable` runs; returns where, or undefined when it has no program or the store could not write. */
  store(executable: Executable): string | undefined {
    // A program compiled for autotuning that runs a default where no choice was made is not
    // what a later process should load: it compiles and tunes instead.
    if (!executable.program || (executable.untuned ?? 0) > 0) return undefined;
    return storeProgram(this.programs, this.key, executable.program, executable.kernels.map((k) => k.source));
  }
}

/** Everything besides smelt's own code that decides what `graph` compiles to on `target`. */
export function compileKey(graph: Graph, target: Target, settings: CompileCacheSettings, tunedFor?: string): string {
  return [
    `graph name: ${JSON.stringify(graph.name)}`,
    `target: ${stableJson(target)}`,
    `fuse: ${settings.fuse}`,
    `disabled passes: ${JSON.stringify([...settings.disablePasses].sort())}`,
    // Tiled by measurement on one device: the adapter is part of what it compiled to.
    ...(settings.autotune ? [`autotuned on: ${tunedFor ?? "unknown device"}`] : []),
    printIR(graph),
  ].join("\n");
}

/** JSON with object keys sorted, so two equal targets built in different orders give one key. */
function stableJson(v: unknown): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v) ?? "undefined";
  if (Array.isArray(v)) return `[${v.map(stableJson).join(",")}]`;
  const entries = Object.entries(v).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : 1));
  return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${stableJson(x)}`).join(",")}}`;
}

/**
 * What an entry holds: the program, and each launch's kernel as the backend rendered it for
 * the target, since rendering costs more than passes and lowering together (W8 on lavapipe:
 * 250–600 ms against 40 + 100 ms). Two JSON lines: the sources, then the program.
 */
export interface CachedProgram {
  readonly program: Program;
  readonly sources?: readonly string[];
}

/** The stored program under `key` and its file; undefined when absent, or unreadable (then it is compiled and overwritten). */
function loadProgram(store: ProgramStore, key: string): (CachedProgram & { where: string }) | undefined {
  const entry = store.read(key);
  if (!entry) return undefined;
  try {
    return { ...parseEntry(entry.text), where: entry.where };
  } catch (e) {
    if (!(e instanceof ProgramFormatError)) throw e;
    debugLog(1, `compile cache: ignoring ${entry.where}: ${e.message}`);
    return undefined;
  }
}

function parseEntry(text: string): CachedProgram {
  const newline = text.indexOf("\n");
  let head: { sources?: unknown };
  try {
    head = JSON.parse(text.slice(0, newline)) as { sources?: unknown };
  } catch (e) {
    throw new ProgramFormatError(`not a compile cache entry: ${(e as Error).message}`);
  }
  const program = programFromJson(text.slice(newline + 1));
  const sources = head?.sources;
  if (sources === undefined) return { program };
  if (!(Array.isArray(sources) && sources.length === program.launches.length && sources.every((s) => typeof s === "string")))
    throw new ProgramFormatError(`the entry's kernel sources do not match its ${program.launches.length} launch(es)`);
  return { program, sources };
}

/** Stores `program` (and its rendered kernels) under `key`; returns where, or undefined when the store could not write it. */
function storeProgram(store: ProgramStore, key: string, program: Program, sources: readonly (string | undefined)[]): string | undefined {
  const rendered = sources.every((s): s is string => typeof s === "string") ? { sources } : {};
  return store.write(key, `${JSON.stringify(rendered)}\n${programToJson(program)}`);
}
