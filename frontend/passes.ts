/**
 * The passes the frontend runs, in one module that the compile step loads on first use
 * (frontend/compile.ts `loadPasses`): the pipeline for jit, and the attention
 * and moe passes that run on a jitted graph before it is differentiated.
 */
export { runPipeline } from "../passes/pipeline.js";
export { attentionPass } from "../passes/attention.js";
export { moePass } from "../passes/moe.js";
export { canonicalizePass } from "../passes/canonicalize.js";
