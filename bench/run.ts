/**
 * `smelt bench`: every workload fused and unfused on the default backend (and,
 * with --peers, in @jax-js/jax and TensorFlow.js on WebGPU), each checked against
 * the reference interpreter on the same inputs. Prints a table; --json writes the
 * rows, --plot charts them (bench/plot.ts). See bench/timing.ts for what the times mean.
 */
import { writeFileSync } from "node:fs";
import { type CompileStats, type Tensor, getBackend, jit, memoryStats, np } from "../index.js";
import { WebGPUBackend } from "../runtime/webgpu.js";
import { type Peer, type PeerName, PEERS, openPeer, peerGap } from "./peers.js";
import { plotBench } from "./plot.js";
import { type Progress, progressBar, silentProgress } from "./progress.js";
import { type BenchRow, type FirstSplit, type SmeltVariant, formatFirstSplit, formatTable, toJSON } from "./report.js";
import { DEFAULT_RUNS, type Measured, type Timing, maxAbsErr, measureInterleaved } from "./timing.js";

/** Inputs and weights are O(1) by construction, so an f32 result further off than this is wrong, not rounding. */
const MAX_ERR = 1e-3;
import { DEFAULT_WORKLOADS, type Sizes, WORKLOAD_IDS, type HostInput, type Workload, type WorkloadId, isWorkloadId, workload } from "./workloads.js";

export interface BenchOptions {
  readonly workloads?: readonly WorkloadId[];
  /** Per-workload size overrides (tests shrink everything). */
  readonly sizes?: { readonly [I in WorkloadId]?: Partial<Sizes[I]> };
  /** Timed calls per variant after the warm-ups (default 10). */
  readonly runs?: number;
  readonly peers?: boolean;
  readonly progress?: Progress;
  /** Adds a "tuned" row per workload: fused, its matmul tilings chosen by timing (precompiled before its first call). */
  readonly autotune?: boolean;
}

const VARIANTS: readonly SmeltVariant[] = ["fused", "unfused"];
/**
 * Workloads holding attention also run without the attention pass, to show what flash buys;
 * the training steps (W7-train, W9) also run their forward alone (the loss), which the fused
 * row's note divides into.
 */
export const variantsOf = (w: WorkloadId): readonly SmeltVariant[] =>
  w === "W6-long" || w === "W6-long8k" ? ["fused"]
    : w === "W9" ? ["fused", "forward", "materialised", "unfused"]
    : w === "W7-train" ? ["fused", "forward", "dense"]
    : w === "W6" || w === "W6-decode" || w === "W8" || w === "W8-decode" ? ["fused", "materialised", "unfused"]
      : w === "W7" ? ["fused", "dense", "unfused"] : w === "W7-wide" || w === "W7-decode" ? ["fused", "dense"] : VARIANTS;
/** W7 routed (the moe pass on) is "fused"; its "dense" row keeps nn.moe's dense form, fused. */
const DISABLED: Partial<Record<SmeltVariant, string[]>> = { materialised: ["attention"], dense: ["moe"] };

/** A workload id as part of a jit name (an identifier: W6-long → W6_long). */
const jitName = (id: WorkloadId) => id.replace(/-/g, "_");

/** An error in one line, for a table note (a first line ending in ':' keeps the line it introduces). */
function reason(e: unknown): string {
  const err = e as Error;
  const lines = (err?.message ?? String(e)).split("\n").map((l) => l.trim()).filter(Boolean);
  const msg = lines[0]?.endsWith(":") && lines[1] ? `${lines[0]} ${lines[1]}` : (lines[0] ?? "");
  return err?.name && err.name !== "Error" ? `${err.name}: ${msg}` : msg;
}

function emptyRow(w: WorkloadId, variant: BenchRow["variant"], backend: string, note: string): BenchRow {
  return { workload: w, variant, backend, steadyMs: null, steadyIntervalMs: null, firstMs: null, kernels: null, peakBytes: null, maxAbsErr: null, note };
}

/** Tensors on the default backend that keep their host copy, so the interpreter can run on them too. */
function toTensors(host: readonly HostInput[]): Tensor[] {
  return host.map((i) => np.array(i.data, { shape: i.shape }));
}

async function interpreterOutput(w: Workload, xs: Tensor[]): Promise<Float32Array> {
  const y = jit(w.fn, { backend: "interp", name: `${jitName(w.id)}_reference` })(...xs);
  try {
    return (await y.data()) as Float32Array;
  } finally {
    y.dispose();
  }
}

/** One smelt variant of a workload, ready to be timed: its jitted function, its calls, and its error against the interpreter once seen. */
interface SmeltRun {
  readonly variant: SmeltVariant;
  readonly f: ReturnType<typeof jit>;
  readonly measured: Measured<Tensor>;
  err: number | null;
  /** What its row's note says before the error check's (the tuned row: how its tilings were chosen). */
  note: string | undefined;
}

function smeltRun(w: Workload, xs: Tensor[], variant: SmeltVariant, expected: Float32Array | undefined,
  ticks: () => void): SmeltRun {
  const backend = getBackend();
  const f = jit(w.fnFor?.(variant) ?? w.fn, {
    fuse: variant !== "unfused", name: `${jitName(w.id)}_${variant}`, autotune: variant === "tuned",
    ...(DISABLED[variant] ? { disablePasses: DISABLED[variant] } : {}),
  });
  const run: SmeltRun = {
    variant, f, err: null, note: undefined,
    measured: {
      call: () => f(...xs) as Tensor,
      wait: () => backend.synchronize(),
      release: (y) => y.dispose(),
      // The forward row computes the step's first element (the loss value) only.
      inspect: async (y) => void (run.err = expected ? maxAbsErr((await y.data()) as Float32Array, variant === "forward" ? expected.subarray(0, 1) : expected) : null),
      tick: ticks,
    },
  };
  return run;
}

/** The first call taken apart: what tracing and compiling took, and the rest of it as the first run. */
function firstSplit(s: CompileStats, firstMs: number): FirstSplit {
  const before = s.traceMs + s.passesMs + s.codegenMs + s.pipelinesMs;
  return {
    traceMs: s.traceMs, passesMs: s.passesMs, codegenMs: s.codegenMs, pipelinesMs: s.pipelinesMs,
    runMs: Math.max(0, firstMs - before), cached: s.cacheEntry !== undefined,
  };
}

/** A timed variant's row; its first call was timed before `lower`, which traces and compiles (both then cached). */
function smeltRow(w: Workload, run: SmeltRun, timing: Timing, xs: Tensor[]): BenchRow {
  const stats = run.f.compileStats(...xs);
  const lowered = run.f.lower(...xs);
  const wrong = run.err !== null && !(run.err <= MAX_ERR);
  const note = wrong ? `WRONG: max |err| ${run.err} against the interpreter exceeds ${MAX_ERR}` : run.note;
  return {
    workload: w.id, variant: run.variant, backend: getBackend().name,
    steadyMs: timing.steadyMs, steadyIntervalMs: timing.steadyIntervalMs, firstMs: timing.firstMs,
    kernels: lowered.kernels.length, peakBytes: lowered.peakBytes, maxAbsErr: run.err,
    // The tuned row compiled before its first call (precompile), so its first call holds no compile to split.
    ...(stats && run.variant !== "tuned" ? { firstSplit: firstSplit(stats, timing.firstMs) } : {}),
    ...(note ? { note } : {}),
  };
}

/**
 * smelt's variants of a workload, their timed calls interleaved (measureInterleaved) so the
 * fused / unfused ratio is measured under the same load; one progress step for all of them.
 */
async function smeltRows(w: Workload, xs: Tensor[], expected: Float32Array | undefined, runs: number,
  progress: Progress, oracleNote: string | undefined, autotune = false): Promise<BenchRow[]> {
  const backend = getBackend().name;
  const variants = [...variantsOf(w.id), ...(autotune ? (["tuned"] as const) : [])];
  let calls = 0;
  const runsOf = variants.map((v) => smeltRun(w, xs, v, expected, () => progress.tick(++calls, variants.length * (runs + 3))));
  progress.step(`${w.id} ${variants.join(", ")} on ${backend}, timed calls interleaved`);
  // Tuning is paid once, before the tuned variant's first call (and by nothing in a later run that finds the choices stored).
  for (const r of runsOf) {
    if (r.variant !== "tuned") continue;
    const stats = await r.f.precompile(...xs);
    r.note = stats.cacheEntry ? "tilings from the compile cache"
      : stats.autotuneMs !== undefined ? `tilings chosen in ${(stats.autotuneMs / 1000).toFixed(1)} s before its first call (stored ones take ~0)`
        : undefined;
  }
  const timings = await measureInterleaved(runsOf.map((r) => r.measured), runs);
  return runsOf.map((r, i) => {
    const t = timings[i]!;
    try {
      const row = t instanceof Error ? emptyRow(w.id, r.variant, backend, reason(t)) : smeltRow(w, r, t, xs);
      return oracleNote && !(t instanceof Error) ? { ...row, note: oracleNote } : row;
    } catch (e) {
      return emptyRow(w.id, r.variant, backend, reason(e));
    }
  });
}

function memoryLine(): string {
  const b = getBackend().name;
  const stats = [memoryStats()];
  if (b !== "interp") stats.push(memoryStats("interp"));
  return stats.map((s) => `${s.liveBuffers}/${s.liveBytes}`).join(",");
}

/** Adds `note` to row `i`'s note. */
function appendNote(rows: BenchRow[], i: number, note: string): void {
  const row = rows[i]!;
  rows[i] = { ...row, note: row.note ? `${row.note}; ${note}` : note };
}

/**
 * A decode step's floor: the time to read its weights once at the copy kernel's bandwidth,
 * measured now (same machine load), noted on the fused row with the row's multiple of it.
 */
async function noteWeightFloor(w: Workload, { bytes, what }: { bytes: number; what: string }, rows: BenchRow[], runs: number): Promise<void> {
  const path = "./matmul.js";
  const fused = rows.findIndex((r) => r.workload === w.id && r.variant === "fused");
  if (fused < 0) return;
  let note: string;
  try {
    const { copyBandwidth } = (await import(path)) as { copyBandwidth(bytes: number, runs: number): Promise<{ gbs: number }> };
    const { gbs } = await copyBandwidth(bytes, runs);
    const floorMs = bytes / (gbs * 1e6);
    const row = rows[fused]!;
    note = `reads ${(bytes / 2 ** 20).toFixed(1)} MiB of weights, ${what}: ${floorMs.toFixed(2)} ms at the copy bandwidth of this run (${gbs.toFixed(2)} GB/s)` +
      (row.steadyMs !== null ? `; ${(row.steadyMs / floorMs).toFixed(1)}× that` : "");
  } catch (e) {
    note = `no copy bandwidth: ${reason(e)}`;
  }
  appendNote(rows, fused, note);
}

/** A routed MoE's fused row says how fast its grouped matmuls run against plain matmuls of the same sizes. */
async function noteGroupedRates(w: Workload, sizes: NonNullable<Workload["grouped"]>, xs: Tensor[], rows: BenchRow[], runs: number): Promise<void> {
  const fused = rows.findIndex((r) => r.workload === w.id && r.variant === "fused");
  if (fused < 0 || rows[fused]!.steadyMs === null) return;
  let note: string;
  try {
    const { groupedVsPlain, describeRates } = await import("./moe.js");
    const rounds = Math.max(3, runs);
    note = describeRates(await groupedVsPlain(jit(w.fn, { name: `${jitName(w.id)}_fused` }), xs, sizes, rounds), rounds);
  } catch (e) {
    note = `no grouped-matmul rates: ${reason(e)}`;
  }
  appendNote(rows, fused, note);
}

/** A training step's fused row says what multiple of its forward (the "forward" row, same run) it takes. */
function noteForwardMultiple(w: WorkloadId, rows: BenchRow[]): void {
  const at = (v: SmeltVariant) => rows.findIndex((r) => r.workload === w && r.variant === v);
  const fused = at("fused"), forward = at("forward");
  if (fused < 0 || forward < 0) return;
  const [step, fwd] = [rows[fused]!.steadyMs, rows[forward]!.steadyMs];
  if (step === null || fwd === null || !(fwd > 0)) return;
  const note = `forward + backward: ${(step / fwd).toFixed(2)}× its forward`;
  appendNote(rows, fused, note);
}

/** Everything one workload reports: smelt's two variants, then the peers. */
async function benchWorkload(w: Workload, options: Required<Pick<BenchOptions, "runs" | "progress">> & Pick<BenchOptions, "autotune">,
  peers: Map<PeerName, Peer | string>): Promise<BenchRow[]> {
  const { runs, progress } = options;
  const backend = getBackend().name;
  const rows: BenchRow[] = [];
  const host = w.inputs();
  let expected: Float32Array | undefined;

  progress.step(`${w.id} ${w.title}: inputs and interpreter reference`);
  const before = memoryLine();
  const xs = toTensors(host);
  try {
    let oracleNote: string | undefined;
    if (w.noReference) oracleNote = w.noReference;
    else
      try {
        expected = await interpreterOutput(w, xs);
      } catch (e) {
        oracleNote = `interpreter failed: ${reason(e)}`;
      }
    rows.push(...(await smeltRows(w, xs, expected, runs, progress, oracleNote, options.autotune)));
    if (w.grouped && backend === "webgpu") await noteGroupedRates(w, w.grouped, xs, rows, runs);
  } finally {
    for (const x of xs) x.dispose();
  }
  noteForwardMultiple(w.id, rows);
  // The copy kernel measures a WebGPU adapter: a yardstick only for rows that ran on one.
  if (w.weightBytes && backend === "webgpu") await noteWeightFloor(w, w.weightBytes(host), rows, runs);
  const after = memoryLine();
  if (after !== before)
    progress.note(`bench: warning: ${w.id} left device memory behind (live buffers/bytes ${before} before, ${after} after)`);

  for (const [name, peer] of peers) {
    progress.step(`${w.id} ${name}`);
    const gap = peerGap(name, w.id);
    if (typeof peer === "string" || gap) {
      rows.push(emptyRow(w.id, name, "webgpu", typeof peer === "string" ? peer : gap!));
      continue;
    }
    let calls = 0;
    try {
      const r = await peer.bench(w, host, expected ?? new Float32Array(0), runs, () => progress.tick(++calls, runs + 3));
      rows.push({
        workload: w.id, variant: name, backend: peer.backend, steadyMs: r.steadyMs, steadyIntervalMs: r.steadyIntervalMs, firstMs: r.firstMs,
        kernels: null, peakBytes: null, maxAbsErr: expected ? r.maxAbsErr : null,
      });
    } catch (e) {
      rows.push(emptyRow(w.id, name, peer.backend, reason(e)));
    }
  }
  return rows;
}

/**
 * Runs one tiny kernel before any row is timed. A driver's first dispatch starts it up
 * (lavapipe: about 0.2 s, its threads and JIT), and without this the first row's first call
 * would pay for it while the rows and peers after it do not.
 */
async function wakeDevice(): Promise<void> {
  const f = jit((x: Tensor) => np.add(x, 1), { name: "bench_wake" });
  const x = np.array([0, 1, 2, 3]);
  const y = f(x);
  try {
    await y.data();
  } finally {
    for (const t of [x, y]) t.dispose();
    f.clearCache();
  }
}

/** Runs the suite and returns its rows (the programmatic form of `smelt bench`). */
export async function runBench(options: BenchOptions = {}): Promise<BenchRow[]> {
  const ids = options.workloads ?? DEFAULT_WORKLOADS;
  const runs = options.runs ?? DEFAULT_RUNS;
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got ${runs}`);
  const peerNames = options.peers ? PEERS : [];
  const progress = options.progress ?? silentProgress;

  // A peer that cannot start here is a row note for every workload, not a crash.
  const peers = new Map<PeerName, Peer | string>();
  for (const name of peerNames) {
    try {
      peers.set(name, await openPeer(name));
    } catch (e) {
      peers.set(name, `${name} unavailable: ${reason(e)}`);
    }
  }

  await wakeDevice();
  const rows: BenchRow[] = [];
  for (const id of ids) {
    const w = workload(id, options.sizes?.[id] as never);
    rows.push(...(await benchWorkload(w, { runs, progress, autotune: options.autotune ?? false }, peers)));
  }
  progress.finish();
  return rows;
}

/** W4's hand-written matmul template (bench/matmul.ts), when it is there, as a row. */
async function matmulTemplate(runs: number): Promise<BenchRow> {
  const path = "./matmul.js";
  try {
    const { benchMatmul } = (await import(path)) as { benchMatmul(o: { runs?: number }): Promise<{ matmulMs: number; maxError: number; size: number }> };
    const r = await benchMatmul({ runs });
    return { workload: "matmul", variant: "template", backend: "webgpu", steadyMs: r.matmulMs, steadyIntervalMs: null, firstMs: null, kernels: 1, peakBytes: 3 * 4 * r.size ** 2, maxAbsErr: r.maxError };
  } catch (e) {
    return { workload: "matmul", variant: "template", backend: "webgpu", steadyMs: null, steadyIntervalMs: null, firstMs: null, kernels: null, peakBytes: null, maxAbsErr: null, note: reason(e) };
  }
}

/** The default backend's device, for a chart's title: the WebGPU adapter, else undefined. */
export function adapterName(): string | undefined {
  const backend = getBackend();
  return backend instanceof WebGPUBackend ? backend.ctx.description : undefined;
}

/** Today as YYYY-MM-DD (UTC), the date a chart is stamped with. */
export const today = (): string => new Date().toISOString().slice(0, 10);

const FOOTNOTE = [
  "steady: median after 2 warm-ups, waiting for the device; smelt's variants of a workload take turns call by call (same load).",
  "first: trace + compile + run of the first call.",
  "Pipelines are cached by source for the whole process: a kernel compiled for the fused row is not compiled again for unfused.",
  "max err: against the interpreter on the same inputs; speed-ups: the baseline's steady time over the row's.",
].join("\n");

const SPLIT_FOOTNOTE = [
  "codegen: lowering and rendering the kernels, or reading them from the persistent compile cache (hit);",
  "pipelines: creating the device's pipelines; first run: the rest of the first call, including compiling a driver defers to the first dispatch.",
].join("\n");

/**
 * The CLI entry (`smelt bench [W1..W8|matmul ...] [--json FILE] [--plot FILE.svg] [--peers] [--runs N]`).
 * Exits 1 when an argument is wrong or a smelt variant failed; a peer that cannot
 * run is reported in the table, not as a failure.
 */
export async function runBenchCommand(
  args: string[], opts: { json?: string; plot?: string; peers?: boolean; runs?: number; verbose?: boolean; autotune?: boolean },
): Promise<number> {
  const ids: WorkloadId[] = [];
  let matmul = false;
  for (const a of args) {
    const id = WORKLOAD_IDS.find((w) => w.toLowerCase() === a.toLowerCase());
    if (a.toLowerCase() === "matmul") matmul = true;
    else if (id && isWorkloadId(id)) ids.push(id);
    else {
      console.error(`smelt bench: unknown workload '${a}'; choose from ${WORKLOAD_IDS.join(", ")} or matmul`);
      return 1;
    }
  }
  const runs = opts.runs ?? DEFAULT_RUNS;
  if (!Number.isInteger(runs) || runs < 1) {
    console.error(`smelt bench: --runs needs a positive integer, got ${opts.runs}`);
    return 1;
  }
  const rows: BenchRow[] = [];
  if (ids.length > 0 || !matmul) {
    const selected = ids.length > 0 ? ids : DEFAULT_WORKLOADS;
    // Per workload: inputs, smelt's variants (one step, their calls interleaved), each peer.
    const steps = selected.reduce((n) => n + 2 + (opts.peers ? PEERS.length : 0), 0);
    const backend = getBackend();
    console.error(`bench: ${selected.join(" ")} on ${backend.name}, median of ${runs} after 2 warm-ups${opts.peers ? ", with peers" : ""}${opts.autotune ? ", with tuned rows" : ""}`);
    rows.push(...(await runBench({ workloads: selected, runs, peers: opts.peers, autotune: opts.autotune, progress: progressBar(steps) })));
  }
  if (matmul) rows.push(await matmulTemplate(runs));

  console.log(formatTable(rows, { peers: opts.peers }));
  console.log(FOOTNOTE);
  if (opts.verbose && rows.some((r) => r.firstSplit)) console.log(`\nsmelt's first calls, in ms:\n${formatFirstSplit(rows)}\n${SPLIT_FOOTNOTE}`);
  if (opts.json) {
    writeFileSync(opts.json, toJSON(rows));
    console.error(`bench: wrote ${rows.length} rows to ${opts.json}`);
  }
  if (opts.plot) {
    writeFileSync(opts.plot, plotBench(rows, { backend: getBackend().name, adapter: adapterName(), date: today(), runs }));
    console.error(`bench: wrote the chart of ${rows.length} rows to ${opts.plot}`);
  }
  const failed = rows.filter(
    (r) => (r.variant === "fused" || r.variant === "unfused") && (r.steadyMs === null || !(r.maxAbsErr === null || r.maxAbsErr <= MAX_ERR)),
  );
  for (const r of failed) console.error(`bench: ${r.workload} ${r.variant} failed${r.note ? `: ${r.note}` : ""}`);
  return failed.length > 0 ? 1 : 0;
}
