/**
 * W7 routed against its dense form on the default WebGPU adapter: steady time (median of
 * `runs` after 2 warm-ups, waiting for the result), kernels, the grouped matmuls against
 * plain matmuls of the same sizes, and the routed result's max |difference| from the dense
 * one. `npx tsx scripts/moe-speed.ts [tokens d experts hidden k runs]`.
 */
import { init, getBackend } from "../frontend/init.js";
import { installNodePlatform } from "../runtime/node-platform.js";
import { jit } from "../frontend/jit.js";
import * as nn from "../frontend/nn.js";
import * as np from "../frontend/np.js";
import * as random from "../frontend/random.js";
import { describeRates, groupedVsPlain } from "../bench/moe.js";
import { maxAbsErr, median } from "../bench/timing.js";

const [T, d, E, h, k, runs] = (process.argv.slice(2).length ? process.argv.slice(2) : ["1024", "512", "8", "1024", "2", "5"]).map(Number) as number[];
installNodePlatform();
await init({ backend: "webgpu" });
const key = random.key(1);
const u = (i: number, shape: number[], scale: number) => np.multiply(random.uniform(random.foldIn(key, i), shape, { minval: -1, maxval: 1 }), scale);
const xs = [u(0, [T!, d!], 1), u(1, [d!, E!], 1 / Math.sqrt(d!)), u(2, [E!, d!, h!], 1 / Math.sqrt(d!)), u(3, [E!, h!, d!], 1 / Math.sqrt(h!))];
const layer = (x: any, gate: any, w1: any, w2: any) => nn.moe(x, gate, { w1, w2 }, k!);
const out: Record<string, Float32Array> = {};
for (const [name, opts] of [["routed", {}], ["dense", { disablePasses: ["moe"] }]] as const) {
  const f = jit(layer, { name, ...opts });
  const times: number[] = [];
  const t0 = performance.now();
  for (let r = 0; r < runs! + 2; r++) {
    const t = performance.now();
    const y = f(...(xs as [any, any, any, any]));
    out[name] = (await y.data()) as Float32Array;
    y.dispose();
    if (r >= 2) times.push(performance.now() - t);
    if (r === 0) console.log(`${name}: first call ${(performance.now() - t0).toFixed(0)} ms`);
  }
  const prof = await f.lower(...(xs as [any, any, any, any])).profile(...xs);
  console.log(prof.entries.map((e) => `  ${e.kernel} ${(e.durUs / 1000).toFixed(1)} ms`).join("\n"));
  // The expert layers: routed, the two grouped matmuls (useful work T·k rows); dense, its two
  // longest kernels (every expert on every token, E·T rows).
  const layers = name === "routed"
    ? prof.entries.filter((e) => /expert[12]$/.test(e.kernel))
    : [...prof.entries].sort((a, b) => b.durUs - a.durUs).slice(0, 2);
  const flop = 2 * (name === "routed" ? T! * k! : E! * T!) * d! * h!;
  console.log(`${name}: expert layers ${layers.map((e) => `${e.kernel} ${(flop / (e.durUs * 1e3)).toFixed(2)} GFLOP/s`).join(", ")}`);
  console.log(`${name}: ${median(times).toFixed(1)} ms median of ${runs}, ${f.lower(...(xs as [any, any, any, any])).kernels.length} kernels`);
}
// The grouped matmuls against plain matmuls of the same sizes (bench/moe.ts).
{
  const rates = await groupedVsPlain(jit(layer, { name: "routed" }), xs, { tokens: T!, d: d!, k: k!, hidden: h! }, runs!);
  const flop = 2 * T! * k! * d! * h!;
  rates.forEach((r, i) => console.log(`same sizes: expert${i + 1} ${r.groupedMs.toFixed(1)} ms (${(flop / (r.groupedMs * 1e6)).toFixed(2)} GFLOP/s) vs plain ${r.plainMs.toFixed(1)} ms (${(flop / (r.plainMs * 1e6)).toFixed(2)} GFLOP/s)`));
  console.log(describeRates(rates, runs!));
}
console.log(`max |routed - dense| = ${maxAbsErr(out.routed!, out.dense!)}; routed[0..3] ${Array.from(out.routed!.slice(0, 3))} dense[0..3] ${Array.from(out.dense!.slice(0, 3))}`);
void getBackend;
