/**
 * The pass manager: a named pipeline of graph-to-graph passes. Each pass can be
 * switched off, and the graph after every pass is kept so a user can dump it.
 *
 *   inline → canonicalize → [attention → moe] → fuse → canonicalize → memory-plan
 *
 * Unfused compilation (`fuse: false`) is the same pipeline without the bracketed
 * pattern passes and fuse, so every primitive becomes its own kernel.
 */
import type { Graph } from "../ir/graph.js";
import { verify } from "../ir/graph.js";
import type { Target } from "../codegen/target.js";
import { attentionPass } from "./attention.js";
import { canonicalizePass } from "./canonicalize.js";
import { fusePass } from "./fuse.js";
import { inlinePass } from "./inline.js";
import { moePass } from "./moe.js";
import { type MemoryPlan, memoryPlanPass, planMemory } from "./memory-plan.js";

export interface PassContext {
  /** Limits and features of the device the graph is compiled for. */
  readonly target?: Target;
  /** Lines a pass writes to explain what it did (shown in dumps). */
  readonly notes: string[];
  /** The graph is about to be differentiated (jit's rewrite before grad): its backward runs too. */
  readonly differentiated?: boolean;
}

export interface Pass {
  readonly name: string;
  run(g: Graph, ctx: PassContext): Graph;
}

export interface PipelineOptions {
  readonly fuse?: boolean;
  /**
   * Passes to skip, by name ("canonicalize" skips both runs) or by stage name
   * ("canonicalize.2" skips only the second).
   */
  readonly disable?: readonly string[];
  readonly target?: Target;
  /** Verify after every pass (always on in tests). */
  readonly verify?: boolean;
}

export interface Stage {
  /** The pass's name, suffixed `.2`, `.3`, … when the pipeline runs it again. */
  readonly pass: string;
  readonly graph: Graph;
  readonly notes: readonly string[];
}

/**
 * Passes that replace a whole pattern by one high-level node (attention → flash_attention,
 * moe → route/align/grouped matmul). They run before fuse, which would otherwise split
 * the pattern into generic kernels.
 */
const PATTERN_PASSES: readonly Pass[] = [attentionPass, moePass];

/** Names each pass's stage: its name, with `.n` for the n-th run of the same pass. */
function stageNames(passes: readonly Pass[]): string[] {
  const runs = new Map<string, number>();
  return passes.map((p) => {
    const k = (runs.get(p.name) ?? 0) + 1;
    runs.set(p.name, k);
    return k === 1 ? p.name : `${p.name}.${k}`;
  });
}

/** The pipeline for the given options, in order, with the stage name of each pass. */
export function pipeline(options: PipelineOptions = {}): { pass: Pass; stage: string }[] {
  const fused = options.fuse ?? true;
  const passes: Pass[] = [
    inlinePass,
    canonicalizePass,
    ...(fused ? [...PATTERN_PASSES, fusePass] : []),
    canonicalizePass,
    memoryPlanPass,
  ];
  const disabled = new Set(options.disable ?? []);
  const names = stageNames(passes);
  return passes
    .map((pass, i) => ({ pass, stage: names[i]! }))
    .filter(({ pass, stage }) => !disabled.has(pass.name) && !disabled.has(stage));
}

/** Names of every pass the pipeline may run, for CLI help and `disable` checks. */
export function passNames(): string[] {
  return [...new Set([inlinePass, canonicalizePass, ...PATTERN_PASSES, fusePass, memoryPlanPass].map((p) => p.name))];
}

/**
 * Runs the passes in order; returns the final graph, the graph after each pass, and
 * the memory plan of the final graph (what a backend allocates).
 */
export function runPipeline(g: Graph, options: PipelineOptions = {}): { graph: Graph; stages: Stage[]; memoryPlan: MemoryPlan } {
  const stages: Stage[] = [{ pass: "trace", graph: g, notes: [] }];
  let cur = g;
  for (const { pass, stage } of pipeline(options)) {
    const ctx: PassContext = options.target ? { target: options.target, notes: [] } : { notes: [] };
    cur = pass.run(cur, ctx);
    if (options.verify ?? true) verify(cur);
    stages.push({ pass: stage, graph: cur, notes: ctx.notes });
  }
  return { graph: cur, stages, memoryPlan: planMemory(cur) };
}
