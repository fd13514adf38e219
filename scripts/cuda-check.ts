/**
 * The CUDA backend on a real GPU, against the interpreter: every graph of the lowering
 * corpus (every primitive) and generated property cases run on the device, unfused and
 * fused, and must match; nothing may leak. Then throughput (scripts/cuda-throughput.ts):
 * smelt's matmul TFLOP/s next to cuBLAS's SGEMM where libcublas loads (1024³, 4096³, W5's two
 * matmuls; smelt's fused gelu(x·w+b) alone), W6's causal flash attention in TFLOP/s, and a
 * copy kernel's GB/s. Run through scripts/cuda-check.sh (`npm run cuda-check`).
 * Exit status 1 on any mismatch, 2 when there is no CUDA driver, device or nvcc.
 *
 *   node --import tsx scripts/cuda-check.ts [--cases N] [--seed S] [--runs R]
 */
import { parseArgs } from "node:util";
import type { HostArray } from "../ir/dtype.js";
import { lowerGraph } from "../codegen/program.js";
import { evalGraph } from "../runtime/interp.js";
import { CudaUnavailableError, createCudaBackend } from "../runtime/cuda.js";
import { findNvcc, toolkit } from "../runtime/cuda-compile.js";
import { compiledGraph, loweringCorpus } from "../tests/codegen/cuda-corpus.js";
import { type Case, compare, generatedCases, randomInput, rng } from "./cuda-cases.js";
import { type Bench, attentionThroughput, copyBandwidth, matmulAgainstCublas } from "./cuda-throughput.js";

const { values: opts } = parseArgs({
  options: { cases: { type: "string", default: "400" }, seed: { type: "string", default: "20240611" }, runs: { type: "string", default: "20" } },
});
const seed = Number(opts.seed), runs = Number(opts.runs);
const t0 = performance.now();
const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(1)} s`;

const backend = await createCudaBackend().catch((e: unknown) => {
  if (!(e instanceof CudaUnavailableError)) throw e;
  // Nothing to check here: one line saying why, no stack trace, and a status that is not a mismatch's.
  console.error(`cuda-check: no CUDA to check: ${e.message}`);
  process.exit(2);
});
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

const bench: Bench = {
  backend, runs, rand: r,
  fail: (m) => {
    failures.push(m);
    console.log(`  FAIL ${m}`);
  },
};
await matmulAgainstCublas(bench);
await attentionThroughput(bench);
await copyBandwidth(bench);

console.log(`${failures.length ? "FAILED" : "PASSED"} in ${elapsed()}`);
process.exit(failures.length ? 1 : 0);
