#!/usr/bin/env node
/**
 * The `smelt` command.
 *
 *   smelt ir <module> [--fn NAME] [--after PASS|all] [--no-fuse] [--backend B]
 *   smelt kernels <module> [--fn NAME] [--target wgsl|cuda] [--no-fuse]
 *   smelt profile <module> [--fn NAME] [--out TRACE.json] [--no-fuse]
 *   smelt bench [WORKLOAD...] [--json FILE] [--peers] [--backend B]
 *
 * A module declares what to trace by exporting functions that carry an `inputs`
 * property: a list of types written as in IR text (`"f32[512,768]"`).
 *
 *   export function mlp(x, w) { return nn.relu(np.matmul(x, w)); }
 *   mlp.inputs = ["f32[512,768]", "f32[768,3072]"];
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const USAGE = `usage:
  smelt ir <module> [--fn NAME] [--after PASS|all] [--no-fuse] [--backend interp|webgpu|cuda]
  smelt kernels <module> [--fn NAME] [--target wgsl|cuda] [--no-fuse]
  smelt profile <module> [--fn NAME] [--out TRACE.json] [--no-fuse]   (random inputs; Chrome-trace JSON)
  smelt bench [WORKLOAD...] [--json FILE] [--peers] [--backend B] [--runs N]`;

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
  if (/\.[cm]?ts$/.test(file) && !process.execArgv.some((a) => a.includes("tsx"))) {
    const { register } = await import("tsx/esm/api");
    register();
  }
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

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      fn: { type: "string" },
      after: { type: "string" },
      "no-fuse": { type: "boolean", default: false },
      backend: { type: "string" },
      target: { type: "string", default: "wgsl" },
      json: { type: "string" },
      peers: { type: "boolean", default: false },
      runs: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return command ? 0 : 1;
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
        const lowered = smelt.jit(t.fn, { name: t.name, fuse: !values["no-fuse"] }).lower(...(t.inputs.map(smelt.spec) as never[]));
        if (command === "ir") {
          console.log(values.after ? lowered.dump(values.after) : lowered.text());
        } else {
          const { printKernels } = await import("./kernels.js");
          console.log(printKernels(lowered, values.target as "wgsl" | "cuda"));
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
      for (const [i, t] of targets.entries()) {
        const key = smelt.random.key(i);
        const args = t.inputs.map((ty, j) => {
          const s = smelt.spec(ty);
          const k = smelt.random.foldIn(key, j);
          return s.dtype === "f32" ? smelt.random.normal(k, [...s.shape]) : smelt.np.zeros([...s.shape], s.dtype);
        });
        const f = smelt.jit(t.fn, { name: t.name, fuse: !values["no-fuse"] });
        const profile = await f.lower(...args).profile(...args);
        console.log(profile.toString());
        traces.push(...profile.toChromeTrace().traceEvents.map((e) => ({ ...e, pid: i + 1 })));
      }
      if (values.out) {
        const { writeFileSync } = await import("node:fs");
        writeFileSync(values.out, JSON.stringify({ traceEvents: traces, displayTimeUnit: "ms" }, null, 1));
        console.log(`wrote ${values.out} (open it in Perfetto or chrome://tracing)`);
      }
      return 0;
    }
    case "bench": {
      const { runBenchCommand } = await import("../bench/run.js");
      return runBenchCommand(rest, { json: values.json, peers: values.peers, runs: values.runs ? Number(values.runs) : undefined });
    }
    default:
      console.error(`unknown command '${command}'\n${USAGE}`);
      return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    const err = e as Error;
    console.error(`smelt: ${err.name && err.name !== "Error" ? err.name + ": " : ""}${err.message}`);
    if (process.env.SMELT_DEBUG) console.error(err.stack);
    process.exit(1);
  },
);
