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
// The grouped matmuls against plain matmuls of the same sizes (m = T·k rows, the useful
// work): x·w1 with the same exact-gelu epilogue, and h·w2. Profiled in alternation with the
// routed layer, `runs` rounds, medians of the device's timestamps.
{
  const rows = T! * k!;
  const a1 = u(4, [rows, d!], 1), b1 = u(5, [d!, h!], 1 / Math.sqrt(d!)), a2 = u(6, [rows, h!], 1), b2 = u(7, [h!, d!], 1 / Math.sqrt(h!));
  const plain1 = jit((a: any, b: any) => nn.gelu(np.matmul(a, b), { approximate: false }), { name: "plain1" });
  const plain2 = jit((a: any, b: any) => np.matmul(a, b), { name: "plain2" });
  const routed = jit(layer, { name: "routed" });
  const ms: Record<string, number[]> = { expert1: [], expert2: [], plain1: [], plain2: [] };
  for (let r = 0; r < runs!; r++) {
    for (const e of (await routed.lower(...(xs as [any, any, any, any])).profile(...xs)).entries) {
      const m = /expert([12])$/.exec(e.kernel);
      if (m) ms[`expert${m[1]}`]!.push(e.durUs / 1000);
    }
    for (const [name, f, args] of [["plain1", plain1, [a1, b1]], ["plain2", plain2, [a2, b2]]] as const)
      ms[name]!.push((await f.lower(...args).profile(...args)).entries.reduce((s, e) => s + e.durUs / 1000, 0));
  }
  const flop = 2 * rows * d! * h!;
  const rate = (name: string) => flop / (median(ms[name]!) * 1e6);
  for (const i of [1, 2])
    console.log(`same sizes: expert${i} ${median(ms[`expert${i}`]!).toFixed(1)} ms (${rate(`expert${i}`).toFixed(2)} GFLOP/s) vs plain [${rows}×${i === 1 ? d : h}]·[${i === 1 ? `${d}×${h}` : `${h}×${d}`}] ${median(ms[`plain${i}`]!).toFixed(1)} ms (${rate(`plain${i}`).toFixed(2)} GFLOP/s): ${((100 * rate(`expert${i}`)) / rate(`plain${i}`)).toFixed(0)}%, median of ${runs}`);
}
console.log(`max |routed - dense| = ${maxAbsErr(out.routed!, out.dense!)}; routed[0..3] ${Array.from(out.routed!.slice(0, 3))} dense[0..3] ${Array.from(out.dense!.slice(0, 3))}`);
void getBackend;
