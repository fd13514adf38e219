/**
 * A process of its own for tests/runtime/autotune.test.ts: W5 (small sizes) jitted with
 * `autotune` through smelt's Node entry, on whatever SMELT_CACHE_DIR it is given. With
 * `precompile` as its argument it awaits `f.precompile` first (which may time candidates);
 * without, it only calls. Prints the result's values and each kernel's tuning as JSON on
 * stdout; the compile log (SMELT_DEBUG) goes to stderr.
 *
 *   node --import tsx tests/runtime/autotune-child.ts [precompile]
 */
import { workload } from "../../bench/workloads.js";
import { jit, np } from "../../index.js";

const SIZES = { tokens: 40, d: 16, hidden: 24 };
const w = workload("W5", SIZES);
const xs = w.inputs().map((i) => np.array(i.data, { shape: i.shape }));
const f = jit(w.fn, { name: "W5", autotune: true });
if (process.argv[2] === "precompile") await f.precompile(...xs);
const y = f(...xs);
const values = Array.from(await y.data());
const tuned = f.lower(...xs).kernels.map((k) => k.tuned ?? null);
console.log(JSON.stringify({ values, tuned }));
