/**
 * jit: trace once per input signature into a graph, compile it, and call it as
 * the `jit` primitive, so grad(jit(f)), vmap(jit(f)) and jit(jit(f)) compose
 * without special cases (autodidax's xla_call).
 */
import { type AbstractValue, type DType, type DTypeName, formatType, toDType } from "../ir/dtype.js";
import { Graph, GraphBuilder, verify } from "../ir/graph.js";
import { printIR, formatNumber } from "../ir/print.js";
import type { Primitive, PrimitiveParams } from "../ir/primitives.js";
import type { Backend, BackendName, DeviceBuffer, KernelInfo, MemoryStats } from "../runtime/backend.js";
import { type Compiled, type CompileSplit, compileGraph, compileGraphAsync, compiledFor, disposeCompiled } from "./compile.js";
import { ConcreteTensor, Tensor, Tracer, bind, getBackend, setPrimitiveExecutor } from "./core.js";
import { type StagedGraph, stageGraph } from "./staging.js";
import { Profile } from "./profile.js";
import { scratchNote } from "../passes/memory-plan.js";
import { type TreeDef, flatten, treeKey, unflatten } from "./tree.js";
import { scalar } from "./creation.js";
import { ArgumentError, checkBackendName, checkDType, checkNotAsync, checkShape, checkNotPromise, describe } from "./arguments.js";

export interface JitOptions {
  /** Backend to run on (default: the default backend, see init()). */
  readonly backend?: BackendName;
  /** Fuse operators (default true); false compiles one kernel per primitive. */
  readonly fuse?: boolean;
  /** Positions of arguments that are compile-time constants (part of the cache key). */
  readonly staticArgnums?: readonly number[];
  /** Name of the traced function in IR dumps (default: the function's name). */
  readonly name?: string;
  /** Passes to switch off by name. */
  readonly disablePasses?: readonly string[];
  /**
   * Input signatures kept traced and compiled (default DEFAULT_JIT_CACHE_SIZE, 64); past it the
   * least recently used is evicted and its programs freed on the device.
   */
  readonly cacheSize?: number;
  /**
   * Tile each matmul by timing candidate tilings on the device, once: `await f.precompile(...)`
   * measures those no earlier run stored (a directory under SMELT_CACHE_DIR in Node) and a
   * later process reuses the choice without measuring; a plain call uses stored choices and
   * the default tiling elsewhere. Default: SMELT_AUTOTUNE=1 in the environment, else false.
   * WebGPU only; the CUDA backend compiles its default tilings.
   */
  readonly autotune?: boolean;
}

/** Signatures one jitted function keeps compiled unless `JitOptions.cacheSize` says otherwise. */
export const DEFAULT_JIT_CACHE_SIZE = 64;

/**
 * Traced graphs by key, least recently used evicted first. An evicted or cleared graph's
 * compiled programs are disposed: their constants are freed on the device now, not at
 * some later garbage collection.
 */
class GraphCache<V> {
  private readonly entries = new Map<string, V>();
  constructor(
    readonly capacity: number,
    private readonly graphOf: (v: V) => Graph,
  ) {}

  get(key: string): V | undefined {
    const v = this.entries.get(key);
    if (v !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, v);
    }
    return v;
  }

  set(key: string, v: V): void {
    this.entries.set(key, v);
    for (const [k, old] of this.entries) {
      if (this.entries.size <= this.capacity) break;
      this.entries.delete(k);
      disposeCompiled(this.graphOf(old));
    }
  }

  clear(): void {
    for (const v of this.entries.values()) disposeCompiled(this.graphOf(v));
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}

/** Everything with a compile cache, for `clearCaches()`; weak, so a dropped function is not kept. */
const cacheOwners = new Set<WeakRef<{ clearCache(): void }>>();
let sweepAt = 1024;

function rememberCacheOwner(owner: { clearCache(): void }): void {
  cacheOwners.add(new WeakRef(owner));
  // Functions made in a loop would grow the set without bound: drop the collected ones now and then.
  if (cacheOwners.size < sweepAt) return;
  for (const ref of cacheOwners) if (!ref.deref()) cacheOwners.delete(ref);
  sweepAt = 2 * Math.max(1024, cacheOwners.size);
}

/**
 * Drops every traced and compiled program: every jitted function's signatures, every
 * `compileIR` result's programs and the eager per-primitive programs, freeing their
 * device constants. Later calls trace and compile again.
 */
export function clearCaches(): void {
  for (const ref of cacheOwners) {
    const owner = ref.deref();
    if (owner) owner.clearCache();
    else cacheOwners.delete(ref);
  }
  oneNodeGraphs.clear();
}

/** Settings attached to each traced graph, read when the `jit` primitive runs eagerly. */
const graphSettings = new WeakMap<Graph, JitOptions>();

/** The options a graph was traced under by `jit` (undefined for graphs built otherwise). */
export const jitSettings = (g: Graph): JitOptions | undefined => graphSettings.get(g);

interface CacheEntry {
  staged: StagedGraph;
  outDef: TreeDef;
  /** Milliseconds tracing took. */
  traceMs: number;
}

/** Where a signature's first call spent its time before running, in ms (`f.compileStats`). */
export interface CompileStats extends CompileSplit {
  readonly traceMs: number;
  /** The persistent compile cache's entry the program came from, when it did (no pass or codegen ran). */
  readonly cacheEntry?: string;
}

/** What `jit(f).lower(...)` returns: everything a user may inspect about one compilation. */
export class Lowered {
  constructor(
    /** The graph as traced, before any pass. */
    readonly graph: Graph,
    private readonly compiled: Compiled,
    readonly backend: BackendName,
    /** Captured outside values the graph takes after the declared inputs. */
    private readonly consts: readonly Tensor[] = [],
  ) {}
  /** The traced graph as IR text. */
  text(): string {
    return printIR(this.graph);
  }
  /** Names of the passes that ran, in order ("trace" first). */
  get passes(): string[] {
    return this.compiled.stages.map((s) => s.pass);
  }
  /** The graph after the named pass (or "trace"). */
  after(pass: string): Graph {
    return this.stage(pass).graph;
  }
  private stage(pass: string) {
    const s = this.compiled.stages.find((st) => st.pass === pass);
    if (!s) throw new Error(`no pass named '${pass}' ran; passes: ${this.passes.join(", ")}`);
    return s;
  }
  /**
   * The IR after one pass, or after every pass with a header per pass ("all"). The
   * memory-plan stage's notes end with the compiled program's peak where kernel scratch
   * raised it, so the peak a dump states is the one a call takes.
   */
  dump(after: string = "all"): string {
    const stages = after === "all" ? this.compiled.stages : [this.stage(after)];
    const notesOf = (s: (typeof stages)[number]) => (s.pass === "memory-plan" ? [...s.notes, ...scratchNote(s.graph, this.peakBytes)] : s.notes);
    return stages
      .map((s) => [`// ---- after ${s.pass}`, ...notesOf(s).map((n) => `// ${n}`), printIR(s.graph)].join("\n"))
      .join("\n");
  }
  /** The final graph that codegen saw. */
  get optimized(): Graph {
    return this.compiled.stages[this.compiled.stages.length - 1]!.graph;
  }
  get kernels(): readonly KernelInfo[] {
    return this.compiled.executable.kernels;
  }
  get peakBytes(): number {
    return this.compiled.executable.peakBytes;
  }
  /**
   * The program's contraction FLOPs: 2 per multiply-add of its kernels' matrix and attention
   * products (a routed mixture of experts counts its tokens' rows, k/E of the dense form's
   * expert work). Elementwise work is not counted.
   */
  get flops(): number {
    return this.kernels.reduce((s, k) => s + (k.flops ?? 0), 0);
  }
  get compileMs(): number {
    return this.compiled.compileMs;
  }
  get executable() {
    return this.compiled.executable;
  }
  /**
   * Runs the compiled program once on `args` (the same arguments as the call) and
   * times each kernel: timestamp queries on WebGPU where the adapter has them, CUDA
   * events on CUDA.
   */
  async profile(...args: unknown[]): Promise<Profile> {
    const exe = this.compiled.executable;
    if (!exe.profile) throw new Error(`the ${this.backend} backend cannot profile kernels`);
    const [leaves] = flatten(args, isLeaf);
    const backend = getBackend(this.backend);
    const tensors = leaves.map((l) => (typeof l === "number" ? scalar(l) : l));
    const inputs = [...tensors, ...this.consts].map((t) => {
      if (!(t instanceof ConcreteTensor)) throw new Error("profile() needs concrete tensors, not tracers or ShapeDtype specs");
      return bufferOn(t, backend);
    });
    return new Profile(this.graph.name, this.backend, await exe.profile(inputs));
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface JitFunction<F extends (...args: any[]) => unknown> {
  (...args: Parameters<F>): ReturnType<F>;
  /** Traces and compiles for these arguments (tensors, or ShapeDtype specs) without running. */
  lower(...args: unknown[]): Lowered;
  /** Number of times the function has been traced (a new signature traces again). */
  readonly traceCount: number;
  /** Input signatures cached now (at most `JitOptions.cacheSize`). */
  readonly cacheSize: number;
  /** Drops every cached signature and frees its compiled programs; later calls trace again. */
  clearCache(): void;
  /**
   * How long tracing and compiling took for these arguments' signature, once a call has
   * compiled it (undefined before, and nothing is traced or compiled to find out).
   */
  compileStats(...args: unknown[]): CompileStats | undefined;
  /**
   * Traces and compiles for these arguments (tensors or ShapeDtype specs) ahead of the first
   * call, creating every kernel's pipeline at once (createComputePipelineAsync, so the driver
   * may compile them concurrently) and, with `autotune`, timing the candidate tilings no
   * earlier run stored. The calls that follow dispatch at once. Resolves to where the time went.
   */
  precompile(...args: unknown[]): Promise<CompileStats>;
}

/** An abstract argument for `lower` (like jax.ShapeDtypeStruct): traces without data. */
export class ShapeDtype implements AbstractValue {
  readonly shape: readonly number[];
  readonly dtype: DType;
  constructor(shape: readonly number[], dtype: DTypeName = "f32") {
    this.shape = checkShape("ShapeDtype", "shape", shape);
    this.dtype = checkDType("ShapeDtype", "dtype", dtype);
  }
  get aval(): AbstractValue {
    return this;
  }
}

/** Parses a type written as in IR text, e.g. `f32[512,768]`, into a ShapeDtype. */
export function spec(type: string): ShapeDtype {
  const m = typeof type === "string" ? /^\s*(\w+)\[([\d,\s]*)\]\s*$/.exec(type) : null;
  const dtype = m ? toDType(m[1]!) : undefined;
  if (!m || !dtype) throw new ArgumentError("spec", "type", describe(type), "a type like f32[2,3] (or float32[2,3])");
  const dims = m[2]!.trim() ? m[2]!.split(",").map((d) => Number(d.trim())) : [];
  return new ShapeDtype(dims, dtype);
}

type Leaf = Tensor | number | ShapeDtype;
const isLeaf = (x: unknown): x is Tensor | number => x instanceof Tensor || typeof x === "number";
const isArgLeaf = (x: unknown): x is Leaf => isLeaf(x) || x instanceof ShapeDtype;

function funcName(fn: { name?: string }, fallback = "f"): string {
  const n = fn.name && /^[A-Za-z_][A-Za-z0-9_]*$/.test(fn.name) ? fn.name : fallback;
  return n;
}

// Parameters are `any` by default so that an unannotated lambda (`jit((x, w) => ...)`)
// type-checks under --strict; annotated parameters keep their types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function jit<F extends (...args: any[]) => unknown>(fn: F, options: JitOptions = {}): JitFunction<F> {
  checkNotAsync("jit", fn);
  checkJitOptions(options);
  const cache = new GraphCache<CacheEntry>(options.cacheSize ?? DEFAULT_JIT_CACHE_SIZE, (e) => e.staged.graph);
  const name = options.name ?? funcName(fn as { name?: string }, "jitted");
  let traceCount = 0;

  const prepare = (args: unknown[], traceIfMissing = true) => {
    const defs: TreeDef[] = [];
    const leaves: Leaf[] = [];
    args.forEach((a, i) => {
      if (options.staticArgnums?.includes(i)) return defs.push({ kind: "static", value: a });
      const [ls, d] = flatten(a, isArgLeaf);
      leaves.push(...ls);
      defs.push(d);
    });
    const inDef: TreeDef = { kind: "array", children: defs };
    const tensors = leaves.map((l) => (typeof l === "number" ? scalar(l) : l));
    const key = treeKey(inDef) + "|" + tensors.map((t) => formatType(t.aval)).join(",");
    const abstract = tensors.filter((t): t is ShapeDtype => t instanceof ShapeDtype);
    let entry = cache.get(key);
    if (!entry && !traceIfMissing) return undefined;
    if (!entry) {
      traceCount++;
      const t0 = performance.now();
      let outDef: TreeDef | undefined;
      const staged = stageGraph(
        name,
        tensors.map((t) => t.aval),
        (tracers) => {
          const rebuilt = unflatten(inDef, tracers) as unknown[];
          let result: unknown;
          try {
            result = fn(...(rebuilt as Parameters<F>));
          } catch (e) {
            // A missing argument reaches the function as undefined: say so where it fails.
            if (e instanceof ArgumentError && args.length < fn.length)
              e.message += ` (${name} declares ${fn.length} parameter(s) but was called with ${args.length})`;
            throw e;
          }
          checkNotPromise(`jit(${name})`, result);
          const [outs, def] = flatten(result, isLeaf);
          outDef = def;
          return outs.map((o) => (typeof o === "number" ? scalar(o) : o));
        },
        argHints(inDef, fn as { toString(): string }),
      );
      graphSettings.set(staged.graph, options);
      entry = { staged, outDef: outDef!, traceMs: performance.now() - t0 };
      // An entry that captured a tracer of an enclosing transformation is only valid for this call.
      if (!staged.consts.some((c) => c instanceof Tracer)) cache.set(key, entry);
    }
    return { entry, tensors, abstract: abstract.length > 0 };
  };

  const wrapped = ((...args: unknown[]) => {
    const { entry, tensors, abstract } = prepare(args)!;
    if (abstract) throw new Error(`${name}: ShapeDtype arguments can only be lowered, not run; pass tensors`);
    const outs = bind("jit", [...(tensors as Tensor[]), ...entry.staged.consts], { callee: entry.staged.graph });
    return unflatten(entry.outDef, outs);
  }) as unknown as JitFunction<F>;

  Object.defineProperty(wrapped, "traceCount", { get: () => traceCount });
  Object.defineProperty(wrapped, "cacheSize", { get: () => cache.size });
  wrapped.clearCache = () => cache.clear();
  rememberCacheOwner(wrapped);
  wrapped.compileStats = (...args: unknown[]) => {
    const entry = prepare(args, false)?.entry;
    const compiled = entry && compiledFor(entry.staged.graph, getBackend(options.backend), settingsOf(options));
    return compiled && { traceMs: entry.traceMs, ...compiled.split, ...(compiled.cacheEntry ? { cacheEntry: compiled.cacheEntry } : {}) };
  };
  wrapped.precompile = async (...args: unknown[]) => {
    const { entry } = prepare(args)!;
    const compiled = await compileGraphAsync(entry.staged.graph, getBackend(options.backend), settingsOf(options));
    return { traceMs: entry.traceMs, ...compiled.split, ...(compiled.cacheEntry ? { cacheEntry: compiled.cacheEntry } : {}) };
  };
  (wrapped as { lower: unknown }).lower = (...args: unknown[]) => {
    const { entry } = prepare(args)!;
    const backend = getBackend(options.backend);
    const compiled = compileGraph(entry.staged.graph, backend, settingsOf(options), { stages: true });
    return new Lowered(entry.staged.graph, compiled, backend.name, entry.staged.consts);
  };
  return wrapped;
}

/** Parameter names from the function's source, for readable graph inputs. */
function argHints(def: TreeDef, fn: { toString(): string }): (string | undefined)[] {
  if (def.kind !== "array") return [];
  const m = /^(?:function\s*\w*\s*)?\(?([^)=]*)\)?\s*(?:=>|\{)/.exec(fn.toString());
  const names = m ? m[1]!.split(",").map((s) => s.trim().replace(/[:=].*$/, "").trim()) : [];
  const hints: (string | undefined)[] = [];
  def.children.forEach((c, i) => {
    if (c.kind === "leaf") hints.push(names[i] && /^[A-Za-z_]\w*$/.test(names[i]!) ? names[i] : undefined);
    else for (let j = 0; j < countLeaves(c); j++) hints.push(undefined);
  });
  return hints;
}

function countLeaves(d: TreeDef): number {
  return d.kind === "leaf" ? 1 : d.kind === "static" ? 0 : d.children.reduce((n, c) => n + countLeaves(c), 0);
}

function checkJitOptions(o: JitOptions): void {
  if (o === null || typeof o !== "object") throw new ArgumentError("jit", "options", describe(o), "an object of JitOptions");
  if (o.backend !== undefined) checkBackendName("jit", "options.backend", o.backend);
  if (o.fuse !== undefined && typeof o.fuse !== "boolean") throw new ArgumentError("jit", "options.fuse", describe(o.fuse), "a boolean");
  if (o.staticArgnums !== undefined && !(Array.isArray(o.staticArgnums) && o.staticArgnums.every((n) => Number.isInteger(n) && n >= 0)))
    throw new ArgumentError("jit", "options.staticArgnums", describe(o.staticArgnums), "a list of non-negative integers");
  if (o.name !== undefined && !(typeof o.name === "string" && /^[A-Za-z_][A-Za-z0-9_.]*$/.test(o.name)))
    throw new ArgumentError("jit", "options.name", describe(o.name), "an identifier");
  if (o.autotune !== undefined && typeof o.autotune !== "boolean") throw new ArgumentError("jit", "options.autotune", describe(o.autotune), "a boolean");
  if (o.cacheSize !== undefined && !(Number.isInteger(o.cacheSize) && o.cacheSize >= 1))
    throw new ArgumentError("jit", "options.cacheSize", describe(o.cacheSize), "a positive integer");
}

function settingsOf(o: JitOptions) {
  return { fuse: o.fuse ?? true, disablePasses: o.disablePasses ?? [], autotune: o.autotune ?? autotuneFromEnv() };
}

const autotuneFromEnv = () => /^(1|true|on)$/i.test(globalThis.process?.env?.SMELT_AUTOTUNE ?? "");

// ---------------------------------------------------------------------------
// eager execution: each primitive (or jit call) runs as a compiled graph

/** Eager operations' one-node graphs (each compiled once per backend), the least recently used evicted. */
const oneNodeGraphs = new GraphCache<Graph>(1024, (g) => g);

function oneNodeGraph<P extends Primitive>(prim: P, avals: AbstractValue[], params: PrimitiveParams[P]): Graph {
  const key = `${prim}|${JSON.stringify(params, (_k, v) => (typeof v === "number" ? formatNumber(v) : v))}|${avals.map(formatType).join(",")}`;
  let g = oneNodeGraphs.get(key);
  if (!g) {
    const b = new GraphBuilder(prim);
    const ins = avals.map((a) => b.input(a));
    g = b.build(b.add(prim, ins, params));
    oneNodeGraphs.set(key, g);
  }
  return g;
}

/** A buffer for `t` on `backend`, uploading its host copy once if it lives elsewhere. */
function bufferOn(t: ConcreteTensor, backend: Backend): DeviceBuffer {
  if (t.backend === backend) return t.buffer;
  const mirror = t.mirror(backend);
  if (mirror) return mirror;
  throw new Error(
    `a ${formatType(t.aval)} tensor lives on ${t.backend.name} but this call runs on ${backend.name}; ` +
      `move it first with \`await tensor.to("${backend.name}")\``,
  );
}

setPrimitiveExecutor((prim, inputs, params, _outTypes) => {
  let graph: Graph;
  let settings: JitOptions = {};
  if (prim === "jit") {
    graph = (params as PrimitiveParams["jit"]).callee;
    settings = graphSettings.get(graph) ?? {};
  } else {
    graph = oneNodeGraph(prim, inputs.map((t) => t.aval), params);
  }
  const backend = settings.backend ? getBackend(settings.backend) : (inputs[0]?.backend ?? getBackend());
  const { executable } = compileGraph(graph, backend, settingsOf(settings));
  const outs = executable.run(inputs.map((t) => bufferOn(t, backend)));
  return outs.map((b) => new ConcreteTensor(backend, b));
});


/**
 * A callable for a graph built elsewhere (parsed IR text, a graph after passes):
 * the user can dump IR, edit it, and run it like a jitted function.
 */
export function compileIR(graph: Graph, options: Omit<JitOptions, "staticArgnums" | "name"> = {}) {
  if (!(graph instanceof Graph))
    throw new ArgumentError(
      "compileIR",
      "its graph",
      typeof graph === "string" ? "IR text" : describe(graph),
      "a Graph (parse IR text first: compileIR(await parseIR(text)))",
    );
  verify(graph);
  graphSettings.set(graph, options);
  /** Calls the graph: one output gives a Tensor, several a Tensor[] (say so: `f<Tensor[]>(...)`). */
  const call = <R extends Tensor | Tensor[] = Tensor>(...args: (Tensor | number)[]): R => {
    if (args.length !== graph.inputs.length)
      throw new ArgumentError(`@${graph.name}`, "its arguments", `${args.length} argument(s)`, `${graph.inputs.length} argument(s)`);
    args.forEach((a, i) => {
      if (!(a instanceof Tensor) && typeof a !== "number")
        throw new ArgumentError(`@${graph.name}`, `argument ${i}`, describe(a), "a Tensor or a number");
    });
    const outs = bind("jit", args.map((a) => (typeof a === "number" ? scalar(a) : a)), { callee: graph });
    return (outs.length === 1 ? outs[0]! : outs) as R;
  };
  call.graph = graph;
  /** Frees the programs compiled for this graph (their device constants); a later call compiles again. */
  call.dispose = () => disposeCompiled(graph);
  call.clearCache = call.dispose;
  rememberCacheOwner(call);
  call.lower = () => {
    const backend = getBackend(options.backend);
    return new Lowered(graph, compileGraph(graph, backend, settingsOf(options), { stages: true }), backend.name);
  };
  return call;
}

/**
 * Live device buffers and bytes on a backend (default: the default backend), and what its
 * pool keeps idle. With `since` (an earlier result), counts only buffers allocated after it.
 */
export function memoryStats(backend?: BackendName, since?: MemoryStats) {
  return getBackend(backend).memoryStats(since);
}
