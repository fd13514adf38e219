/**
 * Autotuning, paid once (`jit(f, { autotune: true })`, `SMELT_AUTOTUNE=1`). Lowering for a
 * target with `autotune` gives each tunable kernel its candidate tilings (Kernel.candidates:
 * matmuls, codegen/matmul.ts; flash-attention forwards, codegen/attention.ts). Before a program is loaded, each such
 * kernel is replaced by one candidate:
 * - the choice stored for its signature, when there is one (a directory under
 *   SMELT_CACHE_DIR in Node, this page's memory in a browser): nothing is run;
 * - else, on the asynchronous path (`await f.precompile(...)`, `smelt bench --autotune`),
 *   the fastest: every candidate runs on the device over buffers of the launch's sizes, in
 *   rounds that take turns (so a change of load hits all alike), and the median decides,
 *   the default kept unless another beats it by 5%; the choice is stored;
 * - else (a plain synchronous call, which cannot wait for the device) the default tiling,
 *   counted in `untuned` so the program is not stored in the compile cache as if tuned.
 *
 * A signature is the device (adapter and target), the candidates' names and the default
 * kernel's IR without its name: kernels that compile alike share one measurement, in any
 * program. Tiling changes what a sum adds first, never what it adds, so every candidate
 * computes the same values up to rounding (the tests hold each to the interpreter).
 */
import type { Kernel, TunedChoice } from "../codegen/kernel.js";
import { type LaunchStep, Program, type Step } from "../codegen/program.js";
import { debugLog } from "./debug.js";
import { type ProgramStore, platform } from "./platform.js";

/** What a backend provides to tune on its device. */
export interface KernelTimer {
  /** The device as part of a signature: adapter and target, so a choice never crosses devices. */
  readonly device: string;
  /**
   * Median ms of each kernel over `rounds` rounds in which they take turns, all bound to
   * fresh buffers of `bytes` (one per binding); a candidate that fails to compile or run
   * gets Infinity (the first, the default, must not).
   */
  time(kernels: readonly Kernel[], bytes: readonly number[], rounds: number): Promise<number[]>;
}

/** How much faster than the default tiling a candidate must measure to replace it. */
export const KEEP_DEFAULT_MARGIN = 0.05;

/** Rounds per measurement (SMELT_AUTOTUNE_ROUNDS overrides in Node). */
export const DEFAULT_ROUNDS = 5;

/** Kernels of `program` that carry candidates, and how many. */
export function tunableCount(program: Program): number {
  return program.launches.filter((l) => l.kernel.candidates).length;
}

/** What `tune` did: the program with one candidate per kernel, and how many ran their default for want of a choice. */
export interface Tuned {
  readonly program: Program;
  /** Kernels that had no stored choice and were not measured (synchronous compiles). */
  readonly untuned: number;
  /** Kernels measured now. */
  readonly measured: number;
}

/** Replaces each tunable kernel by its stored choice, or its default; measures nothing. */
export function applyStored(program: Program, device: string): Tuned {
  let untuned = 0;
  const steps = program.steps.map((s) => {
    if (s.op !== "launch" || !s.kernel.candidates) return s;
    const stored = readChoice(signature(device, s.kernel), s.kernel);
    if (!stored) untuned++;
    return withKernel(s, stored ? choose(s.kernel, stored) : plain(s.kernel.candidates[0]!.kernel));
  });
  if (untuned > 0) debugLog(1, `autotune: @${program.name}: ${untuned} kernel(s) have no stored choice and run their default tiling (await f.precompile(...) measures them)`);
  return { program: rebuild(program, steps), untuned, measured: 0 };
}

/** Replaces each tunable kernel by its stored choice, measuring the candidates of those without one. */
export async function tune(program: Program, timer: KernelTimer, rounds = roundsFromEnv()): Promise<Tuned> {
  const steps: Step[] = [];
  let measured = 0;
  // Kernels of one signature in this program are measured once.
  const decided = new Map<string, TunedChoice>();
  for (const s of program.steps) {
    if (s.op !== "launch" || !s.kernel.candidates) {
      steps.push(s);
      continue;
    }
    const sig = signature(timer.device, s.kernel);
    let choice = decided.get(sig) ?? readChoice(sig, s.kernel);
    if (!choice) {
      choice = await measure(program, s, timer, rounds);
      measured++;
      store()?.write(sig, JSON.stringify({ winner: choice.winner, times: choice.times }));
    }
    decided.set(sig, choice);
    steps.push(withKernel(s, choose(s.kernel, choice)));
  }
  return { program: rebuild(program, steps), untuned: 0, measured };
}

async function measure(program: Program, launch: LaunchStep, timer: KernelTimer, rounds: number): Promise<TunedChoice> {
  const candidates = launch.kernel.candidates!;
  const bytes = launch.args.map((id) => program.buffers[id]!.bytes);
  const t0 = performance.now();
  const ms = await timer.time(candidates.map((c) => c.kernel), bytes, rounds);
  if (!Number.isFinite(ms[0]!)) throw new Error(`autotune: ${launch.kernel.name}'s default tiling did not run`);
  // The default stays unless a candidate beats it by KEEP_DEFAULT_MARGIN: a few percent is
  // the noise of one measurement on a shared machine, and the default is what the rest of
  // smelt is tested and measured with.
  const fastest = ms.reduce((b, t, i) => (t < ms[b]! ? i : b), 0);
  const best = ms[fastest]! < ms[0]! * (1 - KEEP_DEFAULT_MARGIN) ? fastest : 0;
  const times = candidates.map((c, i) => ({ label: c.label, ms: ms[i]! }));
  debugLog(1, () => `autotune: ${launch.kernel.name}: ${times.map((t) => `${t.label} ${t.ms.toFixed(2)} ms`).join(", ")} → ` +
    `${candidates[best]!.label} (${(performance.now() - t0).toFixed(0)} ms to measure)`);
  return { winner: candidates[best]!.label, times, from: "measured" };
}

/** The candidate `choice` names, marked with the choice; a kernel without candidates afterwards. */
function choose(kernel: Kernel, choice: TunedChoice): Kernel {
  const c = kernel.candidates!.find((x) => x.label === choice.winner) ?? kernel.candidates![0]!;
  return { ...plain(c.kernel), tuned: choice };
}

/** A candidate's kernel under the launch's name and source, without the candidate list. */
function plain(k: Kernel): Kernel {
  const { candidates: _drop, ...rest } = k;
  return rest;
}

const withKernel = (s: LaunchStep, kernel: Kernel): LaunchStep => ({ ...s, kernel: { ...kernel, name: s.kernel.name, source: s.kernel.source } });

const rebuild = (p: Program, steps: readonly Step[]) => new Program(p.name, p.buffers, p.slots, p.inputs, p.outputs, steps);

/** The device, the candidates' names and the default kernel's IR (its name and source left out). */
export function signature(device: string, kernel: Kernel): string {
  const labels = kernel.candidates!.map((c) => c.label).join(" | ");
  const { name: _n, source: _s, candidates: _c, tuned: _t, ...ir } = kernel.candidates![0]!.kernel;
  return `autotune/1\n${device}\n${labels}\n${JSON.stringify(ir)}`;
}

/** The stored choice for `sig`, if it names one of `kernel`'s candidates. */
function readChoice(sig: string, kernel: Kernel): TunedChoice | undefined {
  const text = store()?.read(sig)?.text;
  if (!text) return undefined;
  try {
    const j = JSON.parse(text) as { winner?: unknown; times?: unknown };
    if (typeof j.winner !== "string" || !Array.isArray(j.times) || !kernel.candidates!.some((c) => c.label === j.winner)) return undefined;
    return { winner: j.winner, times: j.times as TunedChoice["times"], from: "stored" };
  } catch {
    return undefined;
  }
}

/** Choices kept in memory where the host keeps none (a browser page): measured once per page. */
const memory = new Map<string, string>();
const memoryStore: ProgramStore = {
  read: (key) => {
    const text = memory.get(key);
    return text === undefined ? undefined : { text, where: "memory" };
  },
  write: (key, text) => {
    memory.set(key, text);
    return "memory";
  },
};

function store(): ProgramStore | undefined {
  return platform().tuningStore?.() ?? memoryStore;
}

function roundsFromEnv(): number {
  const env = globalThis.process?.env?.SMELT_AUTOTUNE_ROUNDS;
  const n = env === undefined ? NaN : Number(env);
  return Number.isInteger(n) && n >= 1 ? n : DEFAULT_ROUNDS;
}
