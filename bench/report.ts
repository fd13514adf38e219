/**
 * What a benchmark run reports: one row per (workload, variant), printed as an
 * aligned table and written as JSON with the same fields. A measurement that could
 * not be made is null with a `note` saying why, never a made-up number.
 */
import type { WorkloadId } from "./workloads.js";

/**
 * "materialised": fused, but with the attention pass off (the scores exist in memory); "dense":
 * fused, the moe pass off; "tuned": fused with its matmul tilings chosen by timing (`--autotune`);
 * "forward": a training step's loss alone, fused (W9), so the step's cost reads as a multiple of it.
 */
export type SmeltVariant = "fused" | "materialised" | "dense" | "unfused" | "tuned" | "forward";
export type Variant = SmeltVariant | "jax-js" | "tfjs" | "template";

export interface BenchRow {
  readonly workload: WorkloadId | "matmul";
  readonly variant: Variant;
  readonly backend: string;
  /** Median of the timed calls after warm-up, waiting for results. */
  readonly steadyMs: number | null;
  /** That median's 95% confidence interval (bench/timing.ts medianInterval); null under 6 timed calls. */
  readonly steadyIntervalMs?: readonly [number, number] | null;
  /** The first call: trace, compile and run (for peers: their first call). */
  readonly firstMs: number | null;
  /** Kernel launches per call (smelt's own count; null for peers). */
  readonly kernels: number | null;
  /** Peak device bytes of one call's intermediates and outputs (smelt's memory plan). */
  readonly peakBytes: number | null;
  /** Largest |output - interpreter output|. */
  readonly maxAbsErr: number | null;
  /** smelt's first call taken apart (`--verbose` prints it). */
  readonly firstSplit?: FirstSplit;
  readonly note?: string;
}

/**
 * A first call's parts, in ms: tracing, the passes, codegen (lowering and rendering, or
 * reading the persistent compile cache), creating pipelines, and the first run (what is
 * left of the first call: dispatch and wait, including any compiling the driver defers to
 * the first dispatch, as lavapipe's LLVM does).
 */
export interface FirstSplit {
  readonly traceMs: number;
  readonly passesMs: number;
  readonly codegenMs: number;
  readonly pipelinesMs: number;
  readonly runMs: number;
  /** The program came from the persistent compile cache (no pass or codegen ran). */
  readonly cached: boolean;
}

/** NaN and ±Infinity are not JSON; they become null (and keep their note). */
export function toJSON(rows: readonly BenchRow[]): string {
  const clean = rows.map((r) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(r)) out[k] = typeof v === "number" && !Number.isFinite(v) ? null : v;
    return out;
  });
  return JSON.stringify(clean, null, 2) + "\n";
}

/** A time in ms to three significant figures or so ("-" for none): the table's and the chart's. */
export function formatMs(x: number | null): string {
  if (x === null || !Number.isFinite(x)) return "-";
  return x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0);
}

function ratio(base: number | null | undefined, x: number | null): string {
  if (base == null || x === null || !Number.isFinite(base) || !Number.isFinite(x) || x <= 0) return "-";
  return `${(base / x).toFixed(2)}×`;
}

function err(x: number | null): string {
  if (x === null) return "-";
  if (Number.isNaN(x)) return "NaN";
  return x === 0 ? "0" : x.toExponential(1);
}

interface Column {
  readonly title: string;
  readonly right: boolean;
  readonly cell: (r: BenchRow) => string;
}

/**
 * The table: speed-ups are the baseline's steady time over this row's (above 1:
 * this row is faster). "vs unfused" compares with smelt unfused on the same
 * workload; "vs jax-js" with @jax-js/jax measured in the same run.
 */
export function formatTable(rows: readonly BenchRow[], options: { peers?: boolean } = {}): string {
  const find = (r: BenchRow, variant: Variant) => rows.find((o) => o.workload === r.workload && o.variant === variant)?.steadyMs;
  const columns: Column[] = [
    { title: "workload", right: false, cell: (r) => r.workload },
    { title: "variant", right: false, cell: (r) => r.variant },
    { title: "backend", right: false, cell: (r) => r.backend },
    { title: "steady ms", right: true, cell: (r) => formatMs(r.steadyMs) },
    { title: "first ms", right: true, cell: (r) => formatMs(r.firstMs) },
    { title: "kernels", right: true, cell: (r) => (r.kernels === null ? "-" : String(r.kernels)) },
    { title: "peak MB", right: true, cell: (r) => (r.peakBytes === null ? "-" : (r.peakBytes / 2 ** 20).toFixed(1)) },
    { title: "max err", right: true, cell: (r) => err(r.maxAbsErr) },
    { title: "vs unfused", right: true, cell: (r) => (r.variant === "fused" || r.variant === "unfused" || r.variant === "tuned" ? ratio(find(r, "unfused"), r.steadyMs) : "-") },
  ];
  if (options.peers) columns.push({ title: "vs jax-js", right: true, cell: (r) => ratio(find(r, "jax-js"), r.steadyMs) });
  if (rows.some((r) => r.note)) columns.push({ title: "note", right: false, cell: (r) => r.note ?? "" });
  return renderColumns(rows, columns);
}

/** smelt's first calls taken apart, one row per variant that has a split (`smelt bench --verbose`). */
export function formatFirstSplit(rows: readonly BenchRow[]): string {
  const split = (pick: (s: FirstSplit) => number) => (r: BenchRow) => (r.firstSplit ? formatMs(pick(r.firstSplit)) : "-");
  const columns: Column[] = [
    { title: "workload", right: false, cell: (r) => r.workload },
    { title: "variant", right: false, cell: (r) => r.variant },
    { title: "first ms", right: true, cell: (r) => formatMs(r.firstMs) },
    { title: "trace", right: true, cell: split((s) => s.traceMs) },
    { title: "passes", right: true, cell: split((s) => s.passesMs) },
    { title: "codegen", right: true, cell: split((s) => s.codegenMs) },
    { title: "pipelines", right: true, cell: split((s) => s.pipelinesMs) },
    { title: "first run", right: true, cell: split((s) => s.runMs) },
    { title: "compile cache", right: false, cell: (r) => (r.firstSplit?.cached ? "hit" : "-") },
  ];
  return renderColumns(rows.filter((r) => r.firstSplit), columns);
}

/** Rows as aligned columns, a blank line between workloads. */
function renderColumns(rows: readonly BenchRow[], columns: readonly Column[]): string {
  const cells = rows.map((r) => columns.map((c) => c.cell(r)));
  const widths = columns.map((c, i) => Math.max(c.title.length, ...cells.map((row) => [...row[i]!].length)));
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => (columns[i]!.right ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  const out = [line(columns.map((c) => c.title)), line(widths.map((w) => "-".repeat(w)))];
  let last: string | undefined;
  cells.forEach((row, i) => {
    // A blank line between workloads keeps the variants of one workload together.
    if (last !== undefined && rows[i]!.workload !== last) out.push("");
    last = rows[i]!.workload;
    out.push(line(row));
  });
  return out.join("\n");
}
