/**
 * The throughput half of scripts/cuda-check.ts: smelt's matmuls next to cuBLAS's SGEMM on the
 * same shapes and the same device buffers, W6's causal flash attention in TFLOP/s, and a copy
 * kernel's GB/s. Every figure is device time between two CUDA events, and every result is
 * checked (against float64 at sampled entries, cuBLAS against smelt in full, flash against the
 * materialised attention), so a fast wrong kernel or a wrong binding is a failure, not a figure.
 */
import { type HostArray, hostArray } from "../ir/dtype.js";
import type { Graph } from "../ir/graph.js";
import { ShapeDtype, type Tensor, jit, nn, np } from "../index.js";
import { lowerGraph } from "../codegen/program.js";
import { runPipeline } from "../passes/pipeline.js";
import type { Backend, Executable } from "../runtime/backend.js";
import type { CudaBuffer, CudaDevice } from "../runtime/cuda.js";
import type { Cublas } from "../runtime/cublas.js";
import { attentionFlops, matmulFlops, tflops } from "../bench/flops.js";
import { median } from "../bench/timing.js";
import { DEFAULT_SIZES, type Sizes, workload } from "../bench/workloads.js";

export interface Bench {
  readonly backend: Backend & { device: CudaDevice };
  /** Timed calls per figure (the median is reported). */
  readonly runs: number;
  readonly rand: () => number;
  /** Records a failure; the check exits non-zero at the end. */
  fail(message: string): void;
}

const WARMUPS = 3;

/**
 * Median device time of one `enqueue`, in ms. Each timed call follows an untimed one, so for
 * any call longer than its own launch the device is still busy when the start event and the
 * timed call are queued: the events then measure the kernels, not the host's launch latency
 * through the FFI (the same for smelt's launches and cuBLAS's).
 */
export async function deviceMs(bench: Bench, enqueue: () => void): Promise<number> {
  const d = bench.backend.device.driver;
  for (let i = 0; i < WARMUPS; i++) enqueue();
  const samples: number[] = [];
  for (let i = 0; i < bench.runs; i++) {
    const [start, end] = [d.createEvent(), d.createEvent()];
    enqueue();
    d.record(start);
    enqueue();
    d.record(end);
    await bench.backend.synchronize();
    samples.push(d.elapsedMs(start, end));
    d.destroyEvent(start);
    d.destroyEvent(end);
  }
  return median(samples);
}

/** The traced graph of `fn` through the pass pipeline for this device, as jit would compile it. */
function compiled(bench: Bench, fn: (...xs: Tensor[]) => Tensor, shapes: readonly (readonly number[])[], disable: string[] = []): Graph {
  const traced = jit(fn, { backend: "interp" }).lower(...shapes.map((s) => new ShapeDtype([...s]))).graph;
  return runPipeline(traced, { fuse: true, target: bench.backend.target!, disable }).graph;
}

/**
 * Executables for `graphs`, their kernels compiled first by parallel nvcc processes (one
 * nvcc call per program in turn would spend a good part of the check's five minutes).
 */
async function compileAll(bench: Bench, graphs: readonly Graph[]): Promise<Executable[]> {
  const target = bench.backend.target!;
  await bench.backend.device.prepare(graphs.flatMap((g) => lowerGraph(g, target).launches.map((l) => l.kernel)));
  return graphs.map((g) => bench.backend.compile(g));
}

/** One call of `exe`, its outputs freed as soon as queued (the stream orders their reuse). */
const enqueueOf = (bench: Bench, exe: Executable, ins: readonly CudaBuffer[]) => () => {
  for (const o of exe.run(ins)) bench.backend.free(o);
};

async function runOnce(bench: Bench, exe: Executable, ins: readonly CudaBuffer[]): Promise<HostArray> {
  const [out] = exe.run(ins);
  try {
    return await bench.backend.read(out!);
  } finally {
    bench.backend.free(out!);
  }
}

const uniform = (bench: Bench, shape: readonly number[]): HostArray =>
  hostArray("f32", shape, Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => bench.rand() * 2 - 1));

// ---------------------------------------------------------------------------
// matmul against cuBLAS

export interface MatmulCase {
  readonly label: string;
  readonly m: number;
  readonly k: number;
  readonly n: number;
  /** gelu(x·w + b) (GPT-2's tanh GELU, as in W5): smelt fuses it into the matmul's kernel; cuBLAS SGEMM has no such epilogue. */
  readonly epilogue?: boolean;
}

const W5 = DEFAULT_SIZES.W5;
export const MATMUL_CASES: readonly MatmulCase[] = [
  { label: "1024³", m: 1024, k: 1024, n: 1024 },
  { label: "4096³", m: 4096, k: 4096, n: 4096 },
  { label: `W5 x·W1 ${W5.tokens}×${W5.d}×${W5.hidden}`, m: W5.tokens, k: W5.d, n: W5.hidden },
  { label: `W5 h·W2 ${W5.tokens}×${W5.hidden}×${W5.d}`, m: W5.tokens, k: W5.hidden, n: W5.d },
  { label: "gelu(x·w+b) 1024³", m: 1024, k: 1024, n: 1024, epilogue: true },
];

const geluTanh = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

/** The largest |got − ref| / (1 + |ref|) over 64 sampled entries, the reference in float64. */
function sampledError(bench: Bench, c: MatmulCase, [a, b, bias]: readonly HostArray[], got: HostArray): number {
  let worst = 0;
  for (let s = 0; s < 64; s++) {
    const [i, j] = [Math.floor(bench.rand() * c.m), Math.floor(bench.rand() * c.n)];
    let ref = 0;
    for (let l = 0; l < c.k; l++) ref += a!.data[i * c.k + l]! * b!.data[l * c.n + j]!;
    if (c.epilogue) ref = geluTanh(ref + bias!.data[j]!);
    worst = Math.max(worst, Math.abs(got.data[i * c.n + j]! - ref) / (1 + Math.abs(ref)));
  }
  return worst;
}

/** max |x − y| / max |y|: a norm-wise comparison, blind to summation order, not to a wrong operand. */
function normwiseDiff(x: HostArray, y: HostArray): number {
  let diff = 0, scale = 0;
  for (let i = 0; i < y.data.length; i++) {
    diff = Math.max(diff, Math.abs(x.data[i]! - y.data[i]!));
    scale = Math.max(scale, Math.abs(y.data[i]!));
  }
  return diff / (scale || 1);
}

const MAX_ERROR = 1e-3;

interface Figure {
  readonly ms: number;
  readonly error: number;
}

/** cuBLAS's SGEMM on smelt's buffers: its time, and its norm-wise distance from smelt's product. */
async function cublasFigure(bench: Bench, cublas: Cublas, c: MatmulCase, ins: readonly CudaBuffer[], host: readonly HostArray[], smelt: HostArray): Promise<Figure> {
  const dev = bench.backend.device;
  const out = dev.own("f32", [c.m, c.n]);
  try {
    const enqueue = () => cublas.sgemm(ins[0]!.ptr, ins[1]!.ptr, out.ptr, c.m, c.n, c.k);
    enqueue();
    const product = await dev.read(out);
    const sampled = sampledError(bench, c, host, product);
    if (sampled > MAX_ERROR) bench.fail(`cuBLAS matmul ${c.label}: relative error ${sampled.toExponential(2)} against float64 (a wrong binding?)`);
    const error = normwiseDiff(product, smelt);
    if (error > MAX_ERROR) bench.fail(`matmul ${c.label}: smelt and cuBLAS differ by ${error.toExponential(2)} (norm-wise)`);
    return { ms: await deviceMs(bench, enqueue), error };
  } finally {
    dev.disown(out);
  }
}

const operandShapes = (c: MatmulCase) => [[c.m, c.k], [c.k, c.n], ...(c.epilogue ? [[c.n]] : [])];

function matmulGraph(bench: Bench, c: MatmulCase): Graph {
  const fn = c.epilogue
    ? (x: Tensor, w: Tensor, b: Tensor) => nn.gelu(np.add(np.matmul(x, w), b), { approximate: true })
    : (x: Tensor, w: Tensor) => np.matmul(x, w);
  return compiled(bench, fn as (...xs: Tensor[]) => Tensor, operandShapes(c));
}

async function matmulLine(bench: Bench, cublas: Cublas | undefined, c: MatmulCase, exe: Executable): Promise<string> {
  const host = operandShapes(c).map((s) => uniform(bench, s));
  const ins = host.map((h) => bench.backend.device.upload(h));
  try {
    const product = await runOnce(bench, exe, ins);
    const error = sampledError(bench, c, host, product);
    if (error > MAX_ERROR) bench.fail(`matmul ${c.label}: relative error ${error.toExponential(2)} against float64`);
    const ms = await deviceMs(bench, enqueueOf(bench, exe, ins));
    const flops = matmulFlops(c.m, c.n, c.k);
    const smelt = `smelt ${tflops(flops, ms).toFixed(2)} TFLOP/s (${ms.toFixed(3)} ms, ${exe.kernels.length} kernel${exe.kernels.length === 1 ? "" : "s"}, ` +
      `max rel. error ${error.toExponential(1)} against float64)`;
    if (!cublas || c.epilogue) return `  ${c.label}: ${smelt}`;
    const blas = await cublasFigure(bench, cublas, c, ins, host, product);
    return `  ${c.label}: ${smelt}; cuBLAS ${tflops(flops, blas.ms).toFixed(2)} TFLOP/s (${blas.ms.toFixed(3)} ms); ` +
      `smelt at ${((100 * blas.ms) / ms).toFixed(0)}% of cuBLAS; norm-wise difference ${blas.error.toExponential(1)}`;
  } finally {
    for (const b of ins) bench.backend.free(b);
  }
}

/** cuBLAS bound to the backend's stream, or why not (one line) when the library is absent. */
async function openCublas(): Promise<Cublas | string> {
  const { Cublas, CublasUnavailableError } = await import("../runtime/cublas.js");
  try {
    const cublas = await Cublas.open();
    cublas.setStream(null);
    return cublas;
  } catch (e) {
    if (e instanceof CublasUnavailableError) return e.message;
    throw e;
  }
}

/** Prints each matmul case's TFLOP/s, smelt's and (when libcublas loads) cuBLAS's. */
export async function matmulAgainstCublas(bench: Bench, cases: readonly MatmulCase[] = MATMUL_CASES): Promise<void> {
  const cublas = await openCublas();
  const what = typeof cublas === "string"
    ? `cuBLAS: not compared (${cublas})`
    : `cuBLAS ${cublas.versionText} SGEMM (${cublas.path}, default math mode: FP32)`;
  console.log(`matmul f32 [m,k]·[k,n], device time, median of ${bench.runs}; FLOPs 2·m·n·k; ${what}`);
  try {
    const exes = await compileAll(bench, cases.map((c) => matmulGraph(bench, c)));
    for (const [i, c] of cases.entries()) console.log(await matmulLine(bench, typeof cublas === "string" ? undefined : cublas, c, exes[i]!));
  } finally {
    if (typeof cublas !== "string") cublas.destroy();
  }
}

// ---------------------------------------------------------------------------
// attention

/** W6 through the attention pass (flash_attention) and without it (materialised scores): TFLOP/s of each, and their agreement. */
export async function attentionThroughput(bench: Bench, sizes: Sizes["W6"] = DEFAULT_SIZES.W6): Promise<void> {
  const w = workload("W6", sizes);
  const { heads, seq, dHead } = w.sizes;
  const host = w.inputs();
  const shapes = host.map((h) => h.shape);
  const flashGraph = compiled(bench, w.fn, shapes);
  if (!flashGraph.nodes.some((n) => n.prim === "flash_attention"))
    return bench.fail(`W6: the attention pass did not produce a flash_attention node (got ${flashGraph.nodes.map((n) => n.prim).join(", ")})`);
  const ins = host.map((h) => bench.backend.device.upload(hostArray("f32", h.shape, h.data)));
  try {
    const flops = attentionFlops({ heads, seqQ: seq, seqK: seq, headDim: dHead, causal: true });
    const names = ["flash", "materialised"] as const;
    const exes = await compileAll(bench, [flashGraph, compiled(bench, w.fn, shapes, ["attention"])]);
    const runs = [];
    for (const [i, exe] of exes.entries()) {
      const name = names[i]!;
      const out = await runOnce(bench, exe, ins);
      runs.push({ name, out, kernels: exe.kernels.length, ms: await deviceMs(bench, enqueueOf(bench, exe, ins)) });
    }
    const [flash, mat] = runs as [(typeof runs)[number], (typeof runs)[number]];
    let diff = 0;
    for (let i = 0; i < flash.out.data.length; i++) diff = Math.max(diff, Math.abs(flash.out.data[i]! - mat.out.data[i]!));
    if (!(diff <= MAX_ERROR)) bench.fail(`W6: flash and materialised attention differ by ${diff} (max |difference|)`);
    const figure = (r: typeof flash) => `${r.name} ${tflops(flops, r.ms).toFixed(2)} TFLOP/s (${r.ms.toFixed(3)} ms, ${r.kernels} kernel${r.kernels === 1 ? "" : "s"})`;
    console.log(`W6 causal attention ${heads} heads × ${seq} × ${dHead}, FLOPs 4·heads·seq²·dHead/2 = ${(flops / 1e9).toFixed(2)} G ` +
      `(FlashAttention's count): ${figure(flash)}; ${figure(mat)}; max |flash − materialised| ${diff.toExponential(1)}`);
  } finally {
    for (const b of ins) bench.backend.free(b);
  }
}

// ---------------------------------------------------------------------------
// bandwidth

/** An elementwise kernel over 4 Mi floats: one read and one write per element. */
export async function copyBandwidth(bench: Bench): Promise<void> {
  const n = 4 * 2 ** 20;
  const [exe] = await compileAll(bench, [compiled(bench, (x) => np.negative(x), [[n]])]);
  const x = bench.backend.device.upload(hostArray("f32", [n], []));
  try {
    const ms = await deviceMs(bench, enqueueOf(bench, exe!, [x]));
    console.log(`elementwise f32[${n}] (read + write): ${((8 * n) / ms / 1e6).toFixed(0)} GB/s device time (${ms.toFixed(3)} ms/call)`);
  } finally {
    bench.backend.free(x);
  }
}
