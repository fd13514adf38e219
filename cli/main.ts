#!/usr/bin/env node
/**
 * The `smelt` command.
 *
 *   smelt ir <module> [--fn NAME] [--after PASS|all] [--no-fuse] [--backend B]
 *   smelt kernels <module> [--fn NAME] [--target wgsl|cuda] [--stats] [--no-fuse] [--autotune]
 *   smelt profile <module> [--fn NAME] [--out TRACE.json] [--plot FILE.svg] [--no-fuse] [--autotune]
 *   smelt bench [WORKLOAD...] [--json FILE] [--plot FILE.svg] [--peers] [--backend B] [--runs N] [--verbose] [--autotune]
 *
 * A module declares what to trace by exporting functions that carry an `inputs`
 * property: a list of types written as in IR text (`"f32[512,768]"`).
 *
 *   export function mlp(x, w) { return nn.relu(np.matmul(x, w)); }
 *   mlp.inputs = ["f32[512,768]", "f32[768,3072]"];
 */
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import type { Profile } from "../frontend/profile.js";

const USAGE = `usage:
  smelt ir <module> [--fn NAME] [--after PASS|all] [--no-fuse] [--backend interp|webgpu|cuda]
  smelt kernels <module> [--fn NAME] [--target wgsl|cuda] [--stats] [--no-fuse] [--autotune]   (--autotune: time candidate matmul tilings on the device, or reuse the stored choice, and say which won; --stats: registers, spills, shared memory, sm_80/sm_90 occupancy and main-loop mix from nvcc/ptxas instead of the sources; needs --target cuda)
  smelt profile <module> [--fn NAME] [--out TRACE.json] [--plot FILE.svg] [--no-fuse] [--warmup N] [--backend B] [--autotune]   (random inputs; Chrome-trace JSON, SVG timeline)
  smelt bench [WORKLOAD...] [--json FILE] [--plot FILE.svg] [--peers] [--backend B] [--runs N] [--verbose] [--autotune]   (--verbose: each first call split into trace, passes, codegen, pipelines and first run; --autotune: a 'tuned' row per workload, its tilings chosen by timing)
  smelt --help | --version`;

/** A command-line mistake: printed with the usage, never with a stack. */
export class UsageError extends Error {
  override name = "UsageError";
}

const OPTIONS = {
  fn: { type: "string" },
  after: { type: "string" },
  "no-fuse": { type: "boolean" },
  backend: { type: "string" },
  target: { type: "string" },
  stats: { type: "boolean" },
  json: { type: "string" },
  plot: { type: "string" },
  peers: { type: "boolean" },
  runs: { type: "string" },
  warmup: { type: "string" },
  out: { type: "string" },
  verbose: { type: "boolean" },
  autotune: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "v" },
} as const;
type OptionName = keyof typeof OPTIONS;

/** Which options each command takes. */
const COMMAND_OPTIONS: Record<string, readonly OptionName[]> = {
  ir: ["fn", "after", "no-fuse", "backend"],
  kernels: ["fn", "target", "stats", "no-fuse", "backend", "autotune"],
  profile: ["fn", "out", "plot", "no-fuse", "warmup", "backend", "autotune"],
  bench: ["json", "plot", "peers", "backend", "runs", "verbose", "autotune"],
};

const CHOICES: Partial<Record<OptionName, readonly string[]>> = {
  backend: ["interp", "webgpu", "cuda"],
  target: ["wgsl", "cuda"],
};

function positiveInteger(option: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min)
    throw new UsageError(`--${option} must be an integer ≥ ${min}, got '${value}'`);
  return n;
}

/** The parsed options of one command, each checked against the command and its accepted values. */
function checkOptions(command: string, values: Partial<Record<OptionName, string | boolean>>) {
  const allowed = COMMAND_OPTIONS[command]!;
  for (const [name, value] of Object.entries(values) as [OptionName, string | boolean][]) {
    if (value === undefined || name === "help" || name === "version") continue;
    if (!allowed.includes(name))
      throw new UsageError(`smelt ${command} does not take --${name} (it takes ${allowed.map((o) => `--${o}`).join(", ")})`);
    const choices = CHOICES[name];
    if (choices && !choices.includes(value as string))
      throw new UsageError(`--${name} must be one of ${choices.join(", ")}, got '${value}'`);
  }
  if (values.stats && values.target !== "cuda")
    throw new UsageError(`--stats needs --target cuda (the statistics come from nvcc and ptxas; got --target ${values.target ?? "wgsl"})`);
  return {
    runs: positiveInteger("runs", values.runs as string | undefined, 1),
    warmup: positiveInteger("warmup", values.warmup as string | undefined, 0) ?? 1,
  };
}

/** The folder holding package.json: the repository root, or the installed package. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++, dir = dirname(dir)) if (existsSync(join(dir, "package.json"))) return dir;
  throw new Error("smelt: cannot find its package.json");
}

function version(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as { version: string }).version;
}

/**
 * The TypeScript sources next to this built CLI (dist/cli/main.js in a checkout), or
 * undefined. A TypeScript module loaded through tsx imports smelt's sources
 * (`../index.js` resolves to index.ts), so the built CLI must run on the same sources:
 * two copies would keep two trace stacks ("smelt is loaded twice").
 */
function checkoutSources(): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url));
  if (!/[\\/]dist[\\/]cli$/.test(here)) return undefined;
  const root = dirname(dirname(here));
  return existsSync(join(root, "cli", "main.ts")) && existsSync(join(root, "index.ts")) ? root : undefined;
}

/** Registers tsx's loader for the whole process (once), so TypeScript modules share one smelt. */
async function registerTypeScript(): Promise<void> {
  const flag = Symbol.for("smelt.cli.tsx");
  const g = globalThis as { [flag]?: boolean };
  if (g[flag] || process.execArgv.some((a) => a.includes("tsx"))) return;
  g[flag] = true;
  const { register } = await import("tsx/esm/api");
  register();
}

export interface TraceableExport {
  name: string;
  fn: (...args: never[]) => unknown;
  inputs: string[];
}

/** The exported functions of a module that declare `inputs`. */
export async function loadTraceables(file: string): Promise<TraceableExport[]> {
  const url = pathToFileURL(resolve(file)).href;
  // A TypeScript module is loaded through tsx's loader hook registered globally (not
  // tsImport's private namespace), so it shares this process's smelt instance: one
  // trace stack, one Tensor class.
  if (/\.[cm]?ts$/.test(file)) await registerTypeScript();
  const mod = (await import(url)) as Record<string, unknown>;
  const found: TraceableExport[] = [];
  for (const [name, value] of Object.entries(mod)) {
    if (typeof value !== "function") continue;
    const inputs = (value as { inputs?: unknown }).inputs;
    if (Array.isArray(inputs) && inputs.every((t) => typeof t === "string"))
      found.push({ name, fn: value as TraceableExport["fn"], inputs });
  }
  if (found.length === 0)
    throw new Error(`${file} exports no function with an \`inputs\` list (e.g. f.inputs = ["f32[2,3]"])`);
  return found;
}

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.version) {
    console.log(version());
    return 0;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!command) {
    console.error(USAGE);
    return 1;
  }
  if (!Object.hasOwn(COMMAND_OPTIONS, command)) {
    console.error(`unknown command '${command}'\n${USAGE}`);
    return 1;
  }
  const checked = checkOptions(command, values);
  const sources = checkoutSources();
  if (sources && rest.some((a) => /\.[cm]?ts$/.test(a))) {
    await registerTypeScript();
    const cli = (await import(pathToFileURL(join(sources, "cli", "main.ts")).href)) as { main(argv: string[]): Promise<number> };
    return cli.main(argv);
  }
  if (values.backend) process.env.SMELT_BACKEND = values.backend;
  const smelt = await import("../index.js");
  switch (command) {
    case "ir":
    case "kernels": {
      const file = rest[0];
      if (!file) throw new Error(`smelt ${command} needs a module path\n${USAGE}`);
      const targets = (await loadTraceables(file)).filter((t) => !values.fn || t.name === values.fn);
      if (targets.length === 0) throw new Error(`no traceable export named '${values.fn}' in ${file}`);
      for (const t of targets) {
        const f = smelt.jit(t.fn, { name: t.name, fuse: !values["no-fuse"], autotune: !!values.autotune });
        const specs = t.inputs.map(smelt.spec) as never[];
        // Autotuning times candidates on the device, which only the asynchronous compile can wait for.
        if (values.autotune) await f.precompile(...specs);
        const lowered = f.lower(...specs);
        if (command === "ir") {
          console.log(values.after ? lowered.dump(values.after) : lowered.text());
        } else {
          const { printKernels } = await import("./kernels.js");
          console.log(printKernels(lowered, (values.target ?? "wgsl") as "wgsl" | "cuda", { stats: values.stats }));
        }
      }
      return 0;
    }
    case "profile": {
      const file = rest[0];
      if (!file) throw new Error(`smelt profile needs a module path\n${USAGE}`);
      const targets = (await loadTraceables(file)).filter((t) => !values.fn || t.name === values.fn);
      if (targets.length === 0) throw new Error(`no traceable export named '${values.fn}' in ${file}`);
      const traces: object[] = [];
      const profiles: Profile[] = [];
      for (const [i, t] of targets.entries()) {
        const key = smelt.random.key(i);
        const args = t.inputs.map((ty, j) => {
          const s = smelt.spec(ty);
          const k = smelt.random.foldIn(key, j);
          return s.dtype === "f32" ? smelt.random.normal(k, [...s.shape]) : smelt.np.zeros([...s.shape], s.dtype);
        });
        const f = smelt.jit(t.fn, { name: t.name, fuse: !values["no-fuse"], autotune: !!values.autotune });
        if (values.autotune) await f.precompile(...args);
        const lowered = f.lower(...args);
        // The first runs build pipelines and fill caches: time a run after them.
        for (let w = 0; w < checked.warmup; w++) await lowered.profile(...args);
        const profile = await lowered.profile(...args);
        console.log(`${profile}\n  (timed after ${checked.warmup} warm-up run(s))`);
        traces.push(...profile.toChromeTrace().traceEvents.map((e) => ({ ...e, pid: i + 1 })));
        profiles.push(profile);
      }
      if (values.out) {
        const { writeFileSync } = await import("node:fs");
        writeFileSync(values.out, JSON.stringify({ traceEvents: traces, displayTimeUnit: "ms" }, null, 1));
        console.log(`wrote ${values.out} (open it in Perfetto or chrome://tracing)`);
      }
      if (values.plot) {
        const { writeFileSync } = await import("node:fs");
        const { plotTimeline } = await import("../bench/plot.js");
        const { adapterName, today } = await import("../bench/run.js");
        writeFileSync(values.plot, plotTimeline(profiles, { source: file, adapter: adapterName(), date: today() }));
        console.log(`wrote ${values.plot} (a timeline of ${profiles.reduce((n, p) => n + p.entries.length, 0)} kernel launch(es))`);
      }
      return 0;
    }
    case "bench": {
      const { runBenchCommand } = await import("../bench/run.js");
      return runBenchCommand(rest, { json: values.json, plot: values.plot, peers: values.peers, runs: checked.runs, verbose: values.verbose, autotune: values.autotune });
    }
    default:
      console.error(`unknown command '${command}'\n${USAGE}`);
      return 1;
  }
}

/** Whether this module is the program (not imported by the built CLI delegating to the sources). */
function isEntry(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

/**
 * Exits once stdout and stderr have written everything queued on them. The exit is explicit
 * (an open device would keep the process alive), but writes to a pipe are asynchronous: an
 * immediate exit cut `smelt kernels | less` at the pipe's 64 KiB.
 */
async function exitFlushed(code: number): Promise<never> {
  await Promise.all([process.stdout, process.stderr].map((s) => new Promise<void>((done) => s.write("", () => done()))));
  process.exit(code);
}

if (isEntry())
  main(process.argv.slice(2)).then(
    (code) => exitFlushed(code),
    (e: unknown) => {
      const err = e as Error;
      if (err instanceof UsageError) console.error(`smelt: ${err.message}\n${USAGE}`);
      else console.error(`smelt: ${err.name && err.name !== "Error" ? err.name + ": " : ""}${err.message}`);
      if (process.env.SMELT_DEBUG) console.error(err.stack);
      return exitFlushed(1);
    },
  );
