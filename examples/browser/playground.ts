/**
 * The playground page: compile a benchmark workload (or a function typed into the page)
 * fused and unfused on the page's own adapter, and show the traced IR, the graph after
 * each pass with the passes' notes, the WGSL of each kernel, and a chart of both variants'
 * steady times measured live. Without WebGPU it runs on smelt's reference interpreter and
 * says so.
 *
 * For tests the page keeps its state on <body>: data-state ("loading", "running", "ready"
 * or "error"), data-backend ("webgpu" or "interp"), data-shown (the workload id, or
 * "function") and data-run (how many runs have started); each bar of the chart is a
 * <rect data-variant data-ms>.
 *
 *   npm run playground        (bundles this page and serves it on http://localhost:5173)
 */
import { type Lowered, type Tensor, getBackend, jit, np } from "../../browser.js";
import { type Sizes, type Workload, workload } from "../../bench/workloads.js";
import { barChart } from "./chart.js";
import { inputsFor, userFunction } from "./user-function.js";

const PLAYGROUND_IDS = ["W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8"] as const;
type PlaygroundId = (typeof PLAYGROUND_IDS)[number];

/** Sizes at which both variants compile and run in a second or two on a software adapter (SwiftShader, lavapipe). */
const PLAYGROUND_SIZES: Pick<Sizes, PlaygroundId> = {
  W1: { n: 2 ** 18 },
  W2: { rows: 128, cols: 512 },
  W3: { rows: 128, cols: 512 },
  W4: { m: 128, k: 256, n: 128 },
  W5: { tokens: 64, d: 128, hidden: 512 },
  W6: { heads: 4, seq: 128, dHead: 32 },
  W7: { tokens: 64, d: 64, experts: 8, k: 2, hidden: 128 },
  W8: { seq: 32, d: 128, heads: 4, hidden: 512 },
};

/** Untimed calls after the first (which compiles) and before the timed ones, as `smelt bench` makes. */
const WARMUP_CALLS = 2;

type Job = { readonly kind: "workload"; readonly id: PlaygroundId } | { readonly kind: "function"; readonly source: string; readonly types: string };

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const page = {
  backend: $<HTMLParagraphElement>("backend"),
  workload: $<HTMLSelectElement>("workload"),
  runs: $<HTMLInputElement>("runs"),
  again: $<HTMLButtonElement>("again"),
  editor: $<HTMLFormElement>("editor"),
  source: $<HTMLTextAreaElement>("source"),
  types: $<HTMLInputElement>("types"),
  title: $<HTMLParagraphElement>("title"),
  status: $<HTMLParagraphElement>("status"),
  error: $<HTMLPreElement>("error"),
  chart: $<HTMLDivElement>("chart"),
  ir: $<HTMLPreElement>("ir"),
  passes: $<HTMLDivElement>("passes"),
  kernels: $<HTMLDivElement>("kernels"),
};

function setState(state: "running" | "ready" | "error", status: string): void {
  document.body.dataset.state = state;
  page.status.textContent = status;
}

/** What the adapter is, for the chart's caption; or why there is no WebGPU. */
async function describeAdapter(): Promise<{ webgpu: true; adapter: string } | { webgpu: false; why: string }> {
  if (!navigator.gpu) return { webgpu: false, why: "this browser has no navigator.gpu" };
  if (getBackend().name !== "webgpu") {
    const adapter = await navigator.gpu.requestAdapter().catch(() => null);
    return { webgpu: false, why: adapter ? "smelt could not open a WebGPU device on this adapter (the console says why)" : "navigator.gpu.requestAdapter() found no adapter" };
  }
  const info = (await navigator.gpu.requestAdapter().catch(() => null))?.info;
  const adapter = info ? [info.vendor, info.architecture, info.description].filter(Boolean).join(" / ") : "";
  return { webgpu: true, adapter: adapter || "an adapter that does not describe itself" };
}

const where = await describeAdapter();
document.body.dataset.backend = getBackend().name;
if (where.webgpu) {
  page.backend.textContent = `WebGPU on ${where.adapter}`;
} else {
  page.backend.classList.add("warn");
  page.backend.textContent =
    `No WebGPU here: ${where.why}. smelt runs everything on its reference interpreter instead, so the times below ` +
    "are the interpreter's, not a GPU's, and the WGSL shown is generated for WebGPU's default limits without running.";
}
page.runs.value = where.webgpu ? "10" : "5";

// ---- running a job: compile both variants, show what the compiler made, time them

interface Variant {
  readonly name: "fused" | "unfused";
  readonly call: (...xs: Tensor[]) => unknown;
  readonly lowered: Lowered;
  readonly firstMs: number;
  readonly samples: number[];
}

interface Prepared {
  readonly label: string;
  readonly title: string;
  readonly fn: (...xs: Tensor[]) => unknown;
  readonly args: Tensor[];
}

function prepare(job: Job): Prepared {
  if (job.kind === "workload") {
    const w: Workload = workload(job.id, PLAYGROUND_SIZES[job.id]);
    const args = w.inputs().map((i) => np.array(i.data, { shape: i.shape }));
    return { label: job.id, title: `${w.id}: ${w.title}`, fn: w.fn, args };
  }
  const { fn, types } = userFunction(job.source, job.types);
  return { label: "function", title: `your function over ${types.map((t) => `${t.dtype}[${t.shape}]`).join(", ")}`, fn, args: inputsFor(types) };
}

function dispose(tree: unknown): void {
  if (tree && typeof tree === "object" && "dispose" in tree && typeof tree.dispose === "function") tree.dispose();
  else if (Array.isArray(tree)) tree.forEach(dispose);
  else if (tree && typeof tree === "object") Object.values(tree).forEach(dispose);
}

/** One call, waited for on the device (not read back), in milliseconds. */
async function timedCall(call: (...xs: Tensor[]) => unknown, args: Tensor[]): Promise<number> {
  const t0 = performance.now();
  const out = call(...args);
  await getBackend().synchronize();
  const ms = performance.now() - t0;
  dispose(out);
  // On the interpreter nothing above yields, and the page should repaint between calls.
  await new Promise((resolve) => setTimeout(resolve));
  return ms;
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

let pending: Job | undefined;
let last: Job | undefined;
let draining = false;
let runsStarted = 0;
let held: { args: Tensor[]; clear: (() => void)[] } = { args: [], clear: [] };

/** Runs the latest request; a request made while one runs replaces any still waiting. */
function request(job: Job): void {
  pending = last = job;
  if (!draining) void drain();
}

async function drain(): Promise<void> {
  draining = true;
  while (pending) {
    const job = pending;
    pending = undefined;
    await run(job);
  }
  draining = false;
}

async function run(job: Job): Promise<void> {
  const runs = Math.max(1, Math.min(100, Math.round(Number(page.runs.value)) || 1));
  held.args.forEach((a) => a.dispose());
  held.clear.forEach((c) => c());
  held = { args: [], clear: [] };
  runsStarted++;
  document.body.dataset.run = String(runsStarted);
  document.body.dataset.shown = job.kind === "workload" ? job.id : "function";
  page.error.hidden = true;
  page.title.textContent = job.kind === "workload" ? job.id : `your function over ${job.types.trim() || "(no input types)"}`;
  try {
    setState("running", "tracing…");
    const p = prepare(job);
    held.args = p.args;
    page.title.textContent = p.title;
    const variants: Variant[] = [];
    for (const name of ["fused", "unfused"] as const) {
      setState("running", `compiling and running ${name}…`);
      await new Promise((resolve) => setTimeout(resolve));
      const f = jit(p.fn, { fuse: name === "fused", name: p.label === "function" ? "f" : p.label });
      held.clear.push(() => f.clearCache());
      const firstMs = await timedCall(f, p.args);
      variants.push({ name, call: f, lowered: f.lower(...p.args), firstMs, samples: [] });
      if (name === "fused") await showCompiler(variants[0]!.lowered);
    }
    showUnfusedKernels(variants[1]!.lowered);
    for (let r = -WARMUP_CALLS; r < runs; r++) {
      if (pending) return;
      setState("running", r < 0 ? "warming up…" : `timing: run ${r + 1} of ${runs}`);
      // Alternating the variants spreads a busy machine's slow moments over both.
      for (const v of variants) {
        const ms = await timedCall(v.call, p.args);
        if (r >= 0) v.samples.push(ms);
      }
    }
    drawChart(variants, runs);
    setState("ready", `ready: ${p.title}`);
  } catch (e) {
    clearOutputs();
    const err = e instanceof Error ? e : new Error(String(e));
    page.error.textContent = `${err.name === "Error" ? "" : `${err.name}: `}${err.message}`;
    page.error.hidden = false;
    setState("error", "stopped at the error above");
  }
}

function clearOutputs(): void {
  for (const e of [page.chart, page.ir, page.passes, page.kernels]) e.replaceChildren();
}

// ---- what the page shows

function details(summary: string, body: Node, open = false): HTMLDetailsElement {
  const d = document.createElement("details");
  d.open = open;
  const s = document.createElement("summary");
  s.textContent = summary;
  d.append(s, body);
  return d;
}

/** A dump as <pre>, its `//` note lines marked so the page can set them apart. */
function dumpBlock(text: string, className: string): HTMLPreElement {
  const pre = document.createElement("pre");
  pre.className = className;
  for (const line of text.split("\n")) {
    if (line.startsWith("// ---- after")) continue;
    if (line.startsWith("//")) {
      const note = document.createElement("span");
      note.className = "note";
      note.textContent = line + "\n";
      pre.append(note);
    } else {
      pre.append(line + "\n");
    }
  }
  return pre;
}

async function showCompiler(lowered: Lowered): Promise<void> {
  page.ir.textContent = lowered.text();
  page.passes.replaceChildren(
    ...lowered.passes.map((pass) => {
      const dump = lowered.dump(pass);
      const notes = dump.split("\n").filter((l) => l.startsWith("// ") && !l.startsWith("// ----")).length;
      return details(`${pass}${notes ? ` (${notes} note${notes > 1 ? "s" : ""})` : ""}`, dumpBlock(dump, "ir"), pass === "fuse");
    }),
  );
  page.kernels.replaceChildren(
    ...(await kernelSources(lowered)).map((k, i) => details(`${k.name}  workgroups=[${k.workgroups.join(",")}]`, dumpBlock(k.source, "wgsl"), i === 0)),
  );
}

/** The WGSL the backend compiled; on the interpreter, what codegen renders for WebGPU's default limits. */
async function kernelSources(lowered: Lowered): Promise<{ name: string; workgroups: readonly number[]; source: string }[]> {
  if (lowered.backend === "webgpu") return lowered.kernels.map((k) => ({ name: k.name, workgroups: k.workgroups, source: k.source ?? "" }));
  const [{ renderGraphKernels }, { WEBGPU_TARGET }] = await Promise.all([import("../../codegen/render/index.js"), import("../../codegen/target.js")]);
  return renderGraphKernels(lowered.optimized, WEBGPU_TARGET).map((k) => ({ name: k.name, workgroups: k.grid, source: `// not run: no WebGPU here\n${k.source}` }));
}

function showUnfusedKernels(lowered: Lowered): void {
  const names = document.createElement("pre");
  names.className = "wgsl";
  const kernels = lowered.backend === "webgpu" ? lowered.kernels.map((k) => k.name) : [`(the interpreter runs the graph's ${lowered.optimized.nodes.length} nodes one by one)`];
  names.textContent = kernels.join("\n");
  page.kernels.append(details(`unfused: ${lowered.backend === "webgpu" ? `${kernels.length} kernels` : "no kernels"}`, names));
}

function drawChart(variants: readonly Variant[], runs: number): void {
  const steady = variants.map((v) => median(v.samples));
  const kernelCount = (v: Variant) => (v.lowered.backend === "webgpu" ? `${v.lowered.kernels.length} kernel${v.lowered.kernels.length === 1 ? "" : "s"}, ` : "");
  const bars = variants.map((v, i) => ({ variant: v.name, ms: steady[i]!, label: `${kernelCount(v)}${formatMs(steady[i]!)} (first ${formatMs(v.firstMs)})` }));
  const on = where.webgpu ? where.adapter : "the reference interpreter (no WebGPU)";
  const ratio = steady[1]! / steady[0]!;
  const caption = `steady time, median of ${runs} awaited call${runs === 1 ? "" : "s"} on ${on}; fused ${ratio >= 1 ? `${ratio.toFixed(2)}× faster` : `${(1 / ratio).toFixed(2)}× slower`}`;
  page.chart.replaceChildren(barChart(bars, caption));
}

const formatMs = (ms: number) => `${ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : ms.toFixed(0)} ms`;

// ---- controls

for (const id of PLAYGROUND_IDS) {
  const option = document.createElement("option");
  option.value = id;
  option.textContent = `${id}: ${workload(id, PLAYGROUND_SIZES[id]).title}`;
  page.workload.append(option);
}
page.workload.addEventListener("change", () => request({ kind: "workload", id: page.workload.value as PlaygroundId }));
page.again.addEventListener("click", () => last && request(last));
page.editor.addEventListener("submit", (e) => {
  e.preventDefault();
  request({ kind: "function", source: page.source.value, types: page.types.value });
});
request({ kind: "workload", id: "W1" });
