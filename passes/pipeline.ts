/**
 * The pass manager: a named pipeline of graph-to-graph passes. Each pass can be
 * switched off, and the graph after every pass is kept so a user can dump it.
 */
import type { Graph } from "../ir/graph.js";
import { verify } from "../ir/graph.js";
import type { Target } from "../codegen/target.js";
import { printIR } from "../ir/print.js";
import { debugLog } from "../runtime/debug.js";
import { inlinePass } from "./inline.js";

export interface PassContext {
  /** Limits and features of the device the graph is compiled for. */
  readonly target?: Target;
  /** Lines a pass writes to explain what it did (shown in dumps). */
  readonly notes: string[];
}

export interface Pass {
  readonly name: string;
  run(g: Graph, ctx: PassContext): Graph;
}

export interface PipelineOptions {
  readonly fuse?: boolean;
  /** Names of passes to skip. */
  readonly disable?: readonly string[];
  readonly target?: Target;
  /** Verify after every pass (always on in tests). */
  readonly verify?: boolean;
}

export interface Stage {
  readonly pass: string;
  readonly graph: Graph;
  readonly notes: readonly string[];
}

/** The pipeline for the given options, in order. */
export function pipeline(options: PipelineOptions = {}): Pass[] {
  const passes: Pass[] = [inlinePass];
  const disabled = new Set(options.disable ?? []);
  return passes.filter((p) => !disabled.has(p.name));
}

/** Runs passes in order; returns the final graph and the graph after each pass. */
export function runPipeline(g: Graph, options: PipelineOptions = {}): { graph: Graph; stages: Stage[] } {
  const stages: Stage[] = [{ pass: "trace", graph: g, notes: [] }];
  let cur = g;
  for (const p of pipeline(options)) {
    const ctx: PassContext = options.target ? { target: options.target, notes: [] } : { notes: [] };
    cur = p.run(cur, ctx);
    if (options.verify ?? true) verify(cur);
    stages.push({ pass: p.name, graph: cur, notes: ctx.notes });
    debugLog(5, () => `// after ${p.name}\n${printIR(cur)}`);
  }
  return { graph: cur, stages };
}
