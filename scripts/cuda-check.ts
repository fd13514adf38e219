/**
 * The CUDA backend on a real GPU, against the interpreter: every graph of the lowering
 * corpus (every primitive) and generated property cases run on the device, unfused and
 * fused, and must match;
 * nothing may leak; then matmul f32 1024³ GFLOP/s and a copy kernel's GB/s are printed.
 * Run through scripts/cuda-check.sh (`npm run cuda-check`). Exit status 1 on any mismatch.
 *
 *   node --import tsx scripts/cuda-check.ts [--cases N] [--seed S] [--runs R]
 */
import { parseArgs } from "node:util";
import { type HostArray, hostArray } from "../ir/dtype.js";
import { type Graph, GraphBuilder } from "../ir/graph.js";
import { lowerGraph } from "../codegen/program.js";
import { evalGraph } from "../runtime/interp.js";
import type { DeviceBuffer } from "../runtime/backend.js";
import { createCudaBackend } from "../runtime/cuda.js";
import { findNvcc, toolkit } from "../runtime/cuda-compile.js";
import { compiledGraph, loweringCorpus } from "../tests/codegen/cuda-corpus.js";
import { type Case, compare, generatedCases, randomInput, rng } from "./cuda-cases.js";

const { values: opts } = parseArgs({
  options: { cases: { type: "string", default: "400" }, seed: { type: "string", default: "20240611" }, runs: { type: "string", default: "20" } },
});
const seed = Number(opts.seed), runs = Number(opts.runs);
const t0 = performance.now();
const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(1)} s`;

const backend = await createCudaBackend();
const dev = backend.device.driver.device;
console.log(`device: ${dev.name}, sm_${dev.sm}, ${(dev.totalBytes / 2 ** 30).toFixed(1)} GiB, ${dev.attributes.multiprocessorCount} SMs; ` +
  `driver ${Math.floor(dev.driverVersion / 1000)}.${(dev.driverVersion % 1000) / 10}; nvcc ${toolkit(findNvcc()!).version}; node ${process.version}`);

// ---------------------------------------------------------------------------
// correctness against the interpreter

const cases: Case[] = [...loweringCorpus(), ...generatedCases(seed, Number(opts.cases))];
// Each case as a backend receives it: through the pipeline unfused (one kernel per
// primitive) and fused (the fusion templates).
const variants = cases.flatMap((c) => [false, true].map((fuse) => ({ c, fuse, graph: compiledGraph(c.graph, fuse, backend.target!) })));
// Every kernel of every case compiled up front, by parallel nvcc processes.
const tPrep = performance.now();
const kernels = variants.flatMap((v) => lowerGraph(v.graph, backend.target!).launches.map((l) => l.kernel));
await backend.device.prepare(kernels);
console.log(`compiled ${kernels.length} kernels of ${variants.length} programs ahead: ${((performance.now() - tPrep) / 1000).toFixed(1)} s`);

const baseline = backend.memoryStats();
const failures: string[] = [];
const r = rng(seed ^ 0x5eed);
for (const c of cases) {
  const inputs = c.graph.inputs.map((v) => randomInput(r, v.dtype, v.shape));
  const want = evalGraph(c.graph, inputs);
  for (const v of variants.filter((x) => x.c === c)) {
    const where = `${c.name} (@${c.graph.name}, ${v.fuse ? "fused" : "unfused"})`;
    let got: HostArray[];
    try {
      const exe = backend.compile(v.graph);
      const ins = inputs.map((a) => backend.upload(a));
      const outs = exe.run(ins);
      got = await Promise.all(outs.map((o) => backend.read(o)));
      for (const b of [...ins, ...outs]) backend.free(b);
    } catch (e) {
      failures.push(`${where}: ${(e as Error).message}`);
      continue;
    }
    want.forEach((w, j) => {
      const bad = compare(got[j]!, w, c.graph);
      if (bad) failures.push(`${where} result ${j}: ${bad}`);
    });
  }
}
const leaked = backend.memoryStats(baseline);
if (leaked.liveBuffers !== 0) failures.push(`leak: ${leaked.liveBuffers} buffer(s) still live`);
console.log(`${cases.length} graphs (${cases.length - Number(opts.cases)} corpus, ${opts.cases} generated, seed ${seed}), each unfused and fused, ` +
  `against the interpreter: ${failures.length ? `${failures.length} FAILED` : "all match"} (${elapsed()})`);
for (const f of failures.slice(0, 40)) console.log(`  FAIL ${f}`);

// ---------------------------------------------------------------------------
// throughput

function graphOf(name: string, build: (b: GraphBuilder) => ReturnType<GraphBuilder["add"]>): Graph {
  const b = new GraphBuilder(name);
  return b.build(build(b));
}

/** Median device time of one call, in ms, from CUDA events; and the wall time per call with launches queued back to back. */
async function timeIt(g: Graph, ins: DeviceBuffer[]): Promise<{ deviceMs: number; wallMs: number }> {
  const exe = backend.compile(g);
  for (let i = 0; i < 3; i++) for (const o of exe.run(ins)) backend.free(o);
  await backend.synchronize();
  const device: number[] = [];
  for (let i = 0; i < Math.min(runs, 10); i++) device.push((await exe.profile!(ins)).reduce((s, p) => s + p.durUs, 0) / 1000);
  const w0 = performance.now();
  for (let i = 0; i < runs; i++) for (const o of exe.run(ins)) backend.free(o);
  await backend.synchronize();
  device.sort((a, b) => a - b);
  return { deviceMs: device[device.length >> 1]!, wallMs: (performance.now() - w0) / runs };
}

const N = 1024;
const a = randomInput(r, "f32", [N, N]), bm = randomInput(r, "f32", [N, N]);
const ins = [backend.upload(a), backend.upload(bm)];
const mm = graphOf("matmul", (b) => {
  const x = b.input({ dtype: "f32", shape: [N, N] }), y = b.input({ dtype: "f32", shape: [N, N] });
  return b.add("dot_general", [x, y], { lhs_contract: [1], rhs_contract: [0], lhs_batch: [], rhs_batch: [] });
});
// Spot-check 64 entries of the product in float64 (the full interpreter product is slow in JS).
const [c] = backend.compile(mm).run(ins);
const prod = await backend.read(c!);
backend.free(c!);
let spot = 0;
for (let s = 0; s < 64; s++) {
  const [i, j] = [Math.floor(r() * N), Math.floor(r() * N)];
  let ref = 0;
  for (let k = 0; k < N; k++) ref += a.data[i * N + k]! * bm.data[k * N + j]!;
  spot = Math.max(spot, Math.abs(prod.data[i * N + j]! - ref) / (1 + Math.abs(ref)));
}
if (spot > 1e-3) failures.push(`matmul 1024³: relative error ${spot.toExponential(2)} against float64`);
const t = await timeIt(mm, ins);
const flops = 2 * N ** 3;
console.log(`matmul f32 ${N}x${N}x${N}: ${(flops / t.deviceMs / 1e6).toFixed(0)} GFLOP/s device time ` +
  `(${t.deviceMs.toFixed(3)} ms/call; ${(flops / t.wallMs / 1e6).toFixed(0)} GFLOP/s wall, ${runs} calls; max rel. error ${spot.toExponential(1)})`);

const M = 4 * 2 ** 20;
const x = backend.upload(hostArray("f32", [M], []));
const copy = graphOf("copy", (b) => b.add("neg", [b.input({ dtype: "f32", shape: [M] })], {}));
const ct = await timeIt(copy, [x]);
console.log(`elementwise f32[${M}] (read + write): ${((8 * M) / ct.deviceMs / 1e6).toFixed(0)} GB/s device time (${ct.deviceMs.toFixed(3)} ms/call)`);
for (const b of [...ins, x]) backend.free(b);

console.log(`${failures.length ? "FAILED" : "PASSED"} in ${elapsed()}`);
process.exit(failures.length ? 1 : 0);
