/**
 * A process of its own for tests/runtime/compile-cache.test.ts: compiles and runs W8 (tiny
 * sizes) through smelt's Node entry, on whatever SMELT_BACKEND and SMELT_CACHE_DIR it is
 * given, and prints the result's values as JSON on stdout. The compile log goes to stderr.
 *
 *   node --import tsx tests/runtime/compile-cache-child.ts
 */
import { TINY_SIZES, workload } from "../../bench/workloads.js";
import { jit, np } from "../../index.js";

const w = workload("W8", TINY_SIZES.W8);
const xs = w.inputs().map((i) => np.array(i.data, { shape: i.shape }));
const y = jit(w.fn, { name: "W8" })(...xs);
console.log(JSON.stringify(Array.from(await y.data())));
