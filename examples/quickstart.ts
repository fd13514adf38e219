/**
 * A first smelt program: jit a GELU MLP block, run it on the default backend
 * (WebGPU when an adapter exists), check it against the reference interpreter,
 * and look at what the compiler made of it.
 *
 *   npx tsx examples/quickstart.ts
 */
import { getBackend, jit, nn, np, random } from "../index.js";
import type { Tensor } from "../index.js";

const block = (x: Tensor, w: Tensor, b: Tensor) => nn.gelu(np.add(np.matmul(x, w), b));

const key = random.key(0);
const [k1, k2, k3] = random.split(key, 3);
const input = random.normal(k1!, [64, 128]);
const weight = random.normal(k2!, [128, 256]);
const bias = random.uniform(k3!, [256]);

const backend = getBackend().name;
const fast = jit(block);
const oracle = jit(block, { backend: "interp" });

const t0 = performance.now();
const y = fast(input, weight, bias);
const got = await y.data();
const firstMs = performance.now() - t0;
const want = await oracle(input, weight, bias).data();

let maxErr = 0;
for (let i = 0; i < got.length; i++) maxErr = Math.max(maxErr, Math.abs(got[i]! - want[i]!));

const lowered = fast.lower(input, weight, bias);
console.log(`backend: ${backend}`);
console.log(`output: ${y.dtype}[${y.shape}]  first call ${firstMs.toFixed(1)} ms  max |error| vs interpreter ${maxErr.toExponential(2)}`);
console.log(`kernels: ${lowered.kernels.length} (${lowered.kernels.map((k) => k.name).join(", ")})`);
console.log("traced IR:");
console.log(lowered.text());
console.log("after the fuse pass:");
console.log(lowered.dump("fuse"));
