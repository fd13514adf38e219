/**
 * The benchmark and a profile as SVG charts, built as strings: no DOM and no Node, so
 * the same functions serve the CLI, a browser page and the tests. Every piece of text
 * from the data (workload, variant and kernel names, notes) is escaped.
 *
 * plotBench: steady time per (workload, variant) as grouped horizontal bars on a log
 * scale, whiskers for the median's confidence interval where the row has one.
 * plotTimeline: one row per kernel launch of a profiled call, at its start and as long
 * as it ran, on a linear time axis.
 */
import { type Profile, kernelMs } from "../frontend/profile.js";
import { type BenchRow, type Variant, formatMs } from "./report.js";
import { WARMUP_RUNS } from "./timing.js";

const FONT = 12;
/** Width of one character at FONT: an estimate (SVG text cannot be measured without a renderer). */
const CHAR = 7;
const ROW = 18;
const BAR = 12;
const GAP = 10;
const PAD = 12;
const PLOT = 560;
/** Room right of the longest bar for its value. */
const VALUE = 80;

const VARIANT_COLOURS: Record<Variant, string> = {
  fused: "#1f77b4",
  materialised: "#ff7f0e",
  dense: "#9467bd",
  unfused: "#7f7f7f",
  tuned: "#8c564b",
  forward: "#bcbd22",
  "jax-js": "#2ca02c",
  tfjs: "#d62728",
  template: "#17becf",
};
/** Kernel kinds in a timeline, coloured in order of appearance. */
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"];

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c]!);
}

type Attrs = Record<string, string | number | undefined>;

/** Coordinates to 0.01 px: enough for any screen, short enough to read. */
const px = (x: number) => Math.round(x * 100) / 100;

function el(tag: string, attrs: Attrs, children: string | readonly string[] = []): string {
  const list = Object.entries(attrs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${typeof v === "number" ? px(v) : escapeXml(v!)}"`)
    .join("");
  const body = typeof children === "string" ? escapeXml(children) : children.join("");
  return body ? `<${tag}${list}>${body}</${tag}>` : `<${tag}${list}/>`;
}

const textWidth = (s: string, size = FONT) => [...s].length * CHAR * (size / FONT);

/** At most `max` characters, an ellipsis marking a cut. */
function clip(s: string, max: number): string {
  const chars = [...s];
  return chars.length <= max ? s : chars.slice(0, Math.max(1, max - 1)).join("") + "…";
}

function svg(width: number, height: number, title: string, body: readonly string[]): string {
  return (
    el("svg", { xmlns: "http://www.w3.org/2000/svg", width, height, viewBox: `0 0 ${px(width)} ${px(height)}`, "font-family": "Helvetica, Arial, sans-serif", "font-size": FONT }, [
      el("title", {}, title),
      el("rect", { class: "background", x: 0, y: 0, width, height, fill: "#ffffff" }),
      ...body,
    ]) + "\n"
  );
}

/** A tick's label: a plain decimal without float noise (0.1, 2, 500, 1000). */
const tickLabel = (v: number) => String(Number(v.toPrecision(6)));

/** A log10 axis over whole decades covering [min, max], from x0 over `width` pixels. */
function logAxis(min: number, max: number, x0: number, width: number) {
  const lo = Math.floor(Math.log10(min));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(max)));
  const x = (v: number) => x0 + ((Math.log10(v) - lo) / (hi - lo)) * width;
  // Up to three decades, 2 and 5 are labelled too.
  const steps = hi - lo <= 3 ? [1, 2, 5] : [1];
  const ticks: number[] = [];
  for (let d = lo; d <= hi; d++) for (const m of steps) if (d < hi || m === 1) ticks.push(m * 10 ** d);
  return { x, ticks, min: 10 ** lo };
}

/** A linear axis from 0 with 1-2-5 steps, about `count` of them. */
function linearAxis(max: number, x0: number, width: number, count = 6) {
  const raw = (max > 0 ? max : 1) / count;
  const decade = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * decade >= raw) ?? 10) * decade;
  const end = Math.ceil((max > 0 ? max : 1) / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let i = 0; i * step <= end * (1 + 1e-9); i++) ticks.push(i * step);
  return { x: (v: number) => x0 + (v / end) * width, ticks, end };
}

function axisLines(ticks: readonly number[], x: (v: number) => number, top: number, bottom: number, caption: string): string[] {
  const out: string[] = [];
  for (const t of ticks) {
    out.push(el("line", { class: "grid", x1: x(t), y1: top, x2: x(t), y2: bottom, stroke: "#e0e0e0" }));
    out.push(el("text", { class: "tick", x: x(t), y: bottom + 14, "text-anchor": "middle", fill: "#333333" }, tickLabel(t)));
  }
  out.push(el("line", { x1: x(ticks[0]!), y1: bottom, x2: x(ticks[ticks.length - 1]!), y2: bottom, stroke: "#333333" }));
  const mid = (x(ticks[0]!) + x(ticks[ticks.length - 1]!)) / 2;
  out.push(el("text", { class: "axis-title", x: mid, y: bottom + 30, "text-anchor": "middle", fill: "#333333" }, caption));
  return out;
}

function titleLines(title: string, subtitle: string): string[] {
  return [
    el("text", { class: "title", x: PAD, y: PAD + 14, "font-size": 16, "font-weight": "bold" }, title),
    el("text", { class: "subtitle", x: PAD, y: PAD + 32, fill: "#555555" }, subtitle),
  ];
}

// ---------------------------------------------------------------------------
// the benchmark

export interface BenchPlotOptions {
  /** The backend the smelt rows ran on ("webgpu"). */
  readonly backend: string;
  /** The device under it, where there is one ("mesa / software / llvmpipe: ..."). */
  readonly adapter?: string;
  /** The run's date (YYYY-MM-DD): given, not read, so the chart is a function of its inputs. */
  readonly date: string;
  /** Timed calls per variant, for the subtitle. */
  readonly runs?: number;
}

/** A row's bar extent: its steady time and interval, when it has a positive time. */
const timed = (r: BenchRow) => r.steadyMs !== null && Number.isFinite(r.steadyMs) && r.steadyMs > 0;

/**
 * Grouped horizontal bars, one per (workload, variant) row with a time, on a log scale of
 * ms; a row without one shows its note where the bar would be. Each bar carries its
 * row in `data-*` attributes (workload, variant, ms) so a reader can check it.
 */
export function plotBench(rows: readonly BenchRow[], options: BenchPlotOptions): string {
  const workloads = [...new Set(rows.map((r) => r.workload))];
  const variants = (Object.keys(VARIANT_COLOURS) as Variant[]).filter((v) => rows.some((r) => r.variant === v));
  const whiskers = rows.some((r) => timed(r) && r.steadyIntervalMs);
  const title = "smelt bench: steady time per call (log scale)";
  const subtitle = [
    options.adapter ? `${options.backend} on ${options.adapter}` : options.backend,
    options.date,
    options.runs ? `median of ${options.runs} call${options.runs === 1 ? "" : "s"} after ${WARMUP_RUNS} warm-ups` : undefined,
  ].filter(Boolean).join(" · ");

  const workloadWidth = Math.max(0, ...workloads.map((w) => textWidth(w) + 6));
  const variantWidth = Math.max(0, ...variants.map((v) => textWidth(v)));
  const x0 = PAD + workloadWidth + 8 + variantWidth + 8;

  // The legend: a swatch per variant, then the whisker's meaning.
  const legendY = PAD + 50;
  const legend: string[] = [];
  let lx = PAD;
  for (const v of variants) {
    legend.push(el("rect", { class: "legend-swatch", x: lx, y: legendY - 10, width: 12, height: 12, fill: VARIANT_COLOURS[v] }));
    legend.push(el("text", { class: "legend", x: lx + 16, y: legendY }, v));
    lx += 16 + textWidth(v) + 14;
  }
  if (whiskers) {
    const meaning = "95% confidence interval of the median";
    legend.push(el("path", { d: `M${px(lx)} ${legendY - 4}h14M${px(lx)} ${legendY - 8}v8M${px(lx + 14)} ${legendY - 8}v8`, stroke: "#000000", fill: "none" }));
    legend.push(el("text", { class: "legend", x: lx + 18, y: legendY }, meaning));
    lx += 18 + textWidth(meaning);
  }
  const width = Math.max(x0 + PLOT + VALUE + PAD, PAD + textWidth(subtitle) + PAD, lx + PAD);

  const top = legendY + 16;
  let y = top;
  const measured = rows.filter(timed);
  const times = measured.flatMap((r) => [r.steadyMs!, ...(r.steadyIntervalMs ?? [])]).filter((t) => t > 0);
  const axis = times.length ? logAxis(Math.min(...times), Math.max(...times), x0, PLOT) : undefined;
  const bars: string[] = [];
  for (const w of workloads) {
    bars.push(el("text", { class: "workload", x: PAD, y: y + BAR - 1, "font-weight": "bold" }, w));
    for (const r of rows.filter((o) => o.workload === w)) {
      const mid = y + BAR / 2;
      bars.push(el("text", { class: "variant", x: x0 - 8, y: y + BAR - 1, "text-anchor": "end", fill: "#333333" }, r.variant));
      if (axis && timed(r)) {
        const end = axis.x(r.steadyMs!);
        bars.push(el("rect", {
          class: "bar", x: x0, y, width: end - x0, height: BAR, fill: VARIANT_COLOURS[r.variant],
          "data-workload": r.workload, "data-variant": r.variant, "data-ms": r.steadyMs!,
        }));
        let right = end;
        const interval = r.steadyIntervalMs;
        if (interval && interval[0] > 0) {
          const [a, b] = [axis.x(interval[0]), axis.x(interval[1])];
          right = Math.max(right, b);
          bars.push(el("path", {
            class: "whisker", d: `M${px(a)} ${px(mid)}H${px(b)}M${px(a)} ${px(mid - 4)}v8M${px(b)} ${px(mid - 4)}v8`,
            stroke: "#000000", fill: "none", "data-low": interval[0], "data-high": interval[1],
          }));
        }
        bars.push(el("text", { class: "value", x: right + 4, y: y + BAR - 1 }, `${formatMs(r.steadyMs)} ms`));
      } else {
        const why = r.note ? `no time: ${r.note}` : "no time";
        bars.push(el("text", { class: "missing", x: x0 + 4, y: y + BAR - 1, fill: "#888888", "font-style": "italic" },
          clip(why, Math.floor((width - x0 - PAD) / CHAR))));
      }
      y += ROW;
    }
    y += GAP;
  }
  const bottom = y;
  const body = [...titleLines(title, subtitle), ...legend];
  if (axis) body.push(...axisLines(axis.ticks, axis.x, top - 4, bottom, "steady time per call (ms, log scale)"));
  else body.push(el("text", { class: "missing", x: x0, y: bottom, fill: "#888888" }, "no row has a time"));
  body.push(...bars);
  return svg(width, bottom + 44, `${title}: ${subtitle}`, body);
}

// ---------------------------------------------------------------------------
// a profile

export interface TimelinePlotOptions {
  /** What was profiled ("examples/models.ts"), for the title. */
  readonly source?: string;
  readonly adapter?: string;
  /** The run's date (YYYY-MM-DD). */
  readonly date: string;
}

/** A kernel's kind: its name without the numbering (reduction_3 → reduction). */
const kindOf = (kernel: string) => kernel.replace(/_\d+$/, "");

/**
 * One row per kernel launch, in start order within each profiled function, on one time
 * axis from 0 (each profile's first launch) to the last launch's end. Bars carry
 * `data-kernel`, `data-start-us` and `data-dur-us`.
 */
export function plotTimeline(profiles: readonly Profile[], options: TimelinePlotOptions): string {
  const backends = [...new Set(profiles.map((p) => p.backend))].join(", ");
  const title = `smelt profile${options.source ? `: ${options.source}` : ""}`;
  const subtitle = [options.adapter ? `${backends} on ${options.adapter}` : backends, options.date, "one row per kernel launch"]
    .filter(Boolean).join(" · ");
  const launches = profiles.map((p) => [...p.entries].sort((a, b) => a.startUs - b.startUs));
  const names = launches.flat().map((e) => clip(e.kernel, 48));
  const x0 = PAD + Math.max(80, ...names.map((n) => textWidth(n))) + 8;
  const width = Math.max(x0 + PLOT + VALUE + PAD, PAD + textWidth(subtitle) + PAD);
  const span = Math.max(0, ...profiles.map((p) => p.spanUs)) / 1000;
  const axis = linearAxis(span, x0, PLOT);
  const kinds = new Map<string, string>();
  const colour = (kernel: string) => {
    const kind = kindOf(kernel);
    if (!kinds.has(kind)) kinds.set(kind, PALETTE[kinds.size % PALETTE.length]!);
    return kinds.get(kind)!;
  };

  const top = PAD + 50;
  let y = top;
  const rows: string[] = [];
  profiles.forEach((p, i) => {
    rows.push(el("text", { class: "function", x: PAD, y: y + BAR - 1, "font-weight": "bold" },
      `@${p.name} on ${p.backend}: ${p.entries.length} launch(es), ${kernelMs(p.totalUs)} ms of kernels`));
    y += ROW;
    for (const e of launches[i]!) {
      const x = axis.x(e.startUs / 1000);
      const w = axis.x((e.startUs + e.durUs) / 1000) - x;
      rows.push(el("text", { class: "kernel", x: x0 - 8, y: y + BAR - 1, "text-anchor": "end", fill: "#333333" }, clip(e.kernel, 48)));
      // The stroke keeps a launch too short for a pixel visible without changing its width.
      rows.push(el("rect", {
        class: "launch", x, y, width: w, height: BAR, fill: colour(e.kernel), stroke: colour(e.kernel), "stroke-width": 0.5,
        "data-kernel": e.kernel, "data-start-us": e.startUs, "data-dur-us": e.durUs,
      }));
      rows.push(el("text", { class: "value", x: x + w + 4, y: y + BAR - 1 }, `${kernelMs(e.durUs)} ms`));
      y += ROW;
    }
    y += GAP;
  });
  const bottom = y;
  const body = [...titleLines(title, subtitle), ...axisLines(axis.ticks, axis.x, top - 4, bottom, "time since the first launch (ms)"), ...rows];
  return svg(width, bottom + 44, `${title}: ${subtitle}`, body);
}
