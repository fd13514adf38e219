/**
 * The benchmark chart and the profile timeline, read back with a strict SVG parser:
 * well formed, one mark per row, lengths that follow the data on the chart's scale,
 * text escaped. Built from made-up rows and profiles; nothing here is timed.
 */
import { describe, expect, it } from "vitest";
import { plotBench, plotTimeline } from "../../bench/plot.js";
import type { BenchRow, Variant } from "../../bench/report.js";
import { Profile } from "../../frontend/profile.js";
import { MalformedSvgError, type SvgElement, byClass, elements, num, parseSvg } from "./svg.js";

function row(workload: string, variant: Variant, steadyMs: number | null, interval: [number, number] | null = null, note?: string): BenchRow {
  return {
    workload: workload as BenchRow["workload"], variant, backend: "webgpu", steadyMs, steadyIntervalMs: interval,
    firstMs: null, kernels: null, peakBytes: null, maxAbsErr: null, ...(note ? { note } : {}),
  };
}

const ROWS: BenchRow[] = [
  row("W1", "fused", 2.5, [2.2, 3.1]),
  row("W1", "unfused", 31, [29, 40]),
  row("W1", "jax-js", 7),
  row("W2", "fused", 0.4, [0.35, 0.5]),
  row("W2", "materialised", 900),
  row("W2", "unfused", 120, [100, 150]),
  row("W2", "tfjs", null, null, "tfjs unavailable: no adapter"),
];
const OPTIONS = { backend: "webgpu", adapter: "mesa / software / llvmpipe", date: "2026-12-02", runs: 10 };

/** The text of every <text> element, in document order. */
const texts = (root: SvgElement) => elements(root).filter((e) => e.name === "text").map((e) => e.text);

/**
 * Fits x = a·f(v) + b through the first and last points and returns the largest miss over
 * all of them, with a: a straight line in f(v) is what a scale in f means.
 */
function fit(points: readonly (readonly [number, number])[], f: (v: number) => number) {
  const [[v0, x0], [v1, x1]] = [points[0]!, points[points.length - 1]!];
  const a = (x1 - x0) / (f(v1) - f(v0));
  const b = x0 - a * f(v0);
  return { a, miss: Math.max(...points.map(([v, x]) => Math.abs(a * f(v) + b - x))) };
}

describe("the strict SVG reader the chart tests use", () => {
  it("rejects an unclosed tag, a mismatched close, a raw '<' or '&' in text, and a repeated attribute", () => {
    expect(() => parseSvg("<svg><g></svg>")).toThrow(MalformedSvgError);
    expect(() => parseSvg("<svg><g></svg></g>")).toThrow(/closes/);
    expect(() => parseSvg("<svg><text>a < b</text></svg>")).toThrow(MalformedSvgError);
    expect(() => parseSvg("<svg><text>a & b</text></svg>")).toThrow(/'&'/);
    expect(() => parseSvg('<svg><rect x="1" x="2"/></svg>')).toThrow(/repeats/);
    expect(parseSvg("<svg><text>a &lt;&amp; b</text></svg>").children[0]!.text).toBe("a <& b");
  });
});

describe("plotBench", () => {
  const svg = plotBench(ROWS, OPTIONS);
  const root = parseSvg(svg);
  const bars = byClass(root, "rect", "bar");

  it("writes a well-formed SVG document with its size declared", () => {
    expect(root.name).toBe("svg");
    expect(root.attrs.xmlns).toBe("http://www.w3.org/2000/svg");
    expect(num(root, "width")).toBeGreaterThan(0);
    expect(root.attrs.viewBox).toBe(`0 0 ${root.attrs.width} ${root.attrs.height}`);
  });

  it("draws one bar per (workload, variant) row that has a time, in row order", () => {
    const timed = ROWS.filter((r) => r.steadyMs !== null);
    expect(bars.map((b) => [b.attrs["data-workload"], b.attrs["data-variant"], Number(b.attrs["data-ms"])]))
      .toEqual(timed.map((r) => [r.workload, r.variant, r.steadyMs]));
  });

  it("makes bar lengths a straight line in log10 of the time, longer for slower rows", () => {
    const x0 = new Set(bars.map((b) => num(b, "x")));
    expect(x0.size).toBe(1);
    const points = bars.map((b) => [num(b, "data-ms"), num(b, "width")] as const).sort((p, q) => p[0] - q[0]);
    const { a, miss } = fit(points, Math.log10);
    expect(a).toBeGreaterThan(0);
    expect(miss).toBeLessThan(0.02);
    for (let i = 1; i < points.length; i++) expect(points[i]![1]).toBeGreaterThan(points[i - 1]![1]);
  });

  it("labels the axis in ms at positions on the same log scale as the bars", () => {
    const x0 = num(bars[0]!, "x");
    const ticks = byClass(root, "text", "tick").map((t) => [Number(t.text), num(t, "x") - x0] as const);
    expect(ticks.length).toBeGreaterThanOrEqual(4);
    expect(ticks[0]![0]).toBeLessThanOrEqual(0.35);
    expect(ticks[ticks.length - 1]![0]).toBeGreaterThanOrEqual(900);
    const bar = fit(bars.map((b) => [num(b, "data-ms"), num(b, "width")] as const), Math.log10);
    const axis = fit(ticks, Math.log10);
    expect(axis.miss).toBeLessThan(0.02);
    expect(axis.a).toBeCloseTo(bar.a, 1);
    expect(byClass(root, "text", "axis-title")[0]!.text).toContain("ms, log scale");
  });

  it("prints each bar's time, and a row without one says why where its bar would be", () => {
    expect(byClass(root, "text", "value").map((t) => t.text)).toEqual(["2.50 ms", "31.0 ms", "7.00 ms", "0.40 ms", "900 ms", "120 ms"]);
    expect(byClass(root, "text", "missing").map((t) => t.text)).toEqual(["no time: tfjs unavailable: no adapter"]);
  });

  it("draws a whisker from the low to the high end of each row's interval, on the bars' scale", () => {
    const whiskers = byClass(root, "path", "whisker");
    expect(whiskers.map((w) => [num(w, "data-low"), num(w, "data-high")])).toEqual(
      ROWS.filter((r) => r.steadyIntervalMs).map((r) => [...r.steadyIntervalMs!]));
    const x0 = num(bars[0]!, "x");
    const { a } = fit(bars.map((b) => [num(b, "data-ms"), num(b, "width")] as const), Math.log10);
    const fused = bars[0]!;
    for (const w of whiskers) {
      // The path starts with the whisker's line: "M{low} {y}H{high}", then its two end caps.
      const [, low, high] = /^M([\d.]+) [\d.]+H([\d.]+)/.exec(w.attrs.d!)!.map(Number);
      // Both ends sit where a bar of that time would end.
      const at = (ms: number) => x0 + num(fused, "width") + a * (Math.log10(ms) - Math.log10(num(fused, "data-ms")));
      expect(low).toBeCloseTo(at(num(w, "data-low")), 1);
      expect(high).toBeCloseTo(at(num(w, "data-high")), 1);
      expect(high).toBeGreaterThan(low!);
    }
    expect(texts(root)).toContain("95% confidence interval of the median");
  });

  it("has no whisker and no whisker legend when no row has an interval", () => {
    const bare = parseSvg(plotBench(ROWS.map((r) => ({ ...r, steadyIntervalMs: null })), OPTIONS));
    expect(byClass(bare, "path", "whisker")).toHaveLength(0);
    expect(texts(bare)).not.toContain("95% confidence interval of the median");
  });

  it("names the workloads, the variants in a legend, and the backend, adapter and date in the title", () => {
    expect(byClass(root, "text", "workload").map((t) => t.text)).toEqual(["W1", "W2"]);
    expect(byClass(root, "text", "legend").map((t) => t.text)).toEqual(
      ["fused", "materialised", "unfused", "jax-js", "tfjs", "95% confidence interval of the median"]);
    expect(byClass(root, "rect", "legend-swatch")).toHaveLength(5);
    const subtitle = byClass(root, "text", "subtitle")[0]!.text;
    for (const part of ["webgpu", "mesa / software / llvmpipe", "2026-12-02", "median of 10"]) expect(subtitle).toContain(part);
    expect(elements(root).find((e) => e.name === "title")!.text).toContain("2026-12-02");
  });

  it("escapes names and notes, which come back intact", () => {
    const odd = [row("W<&1>", "fused", 3), row("W<&1>", "tfjs", null, null, `"quoted" & <b>bold</b>`)];
    const text = plotBench(odd, { ...OPTIONS, adapter: "a<b>&c" });
    expect(text).not.toContain("W<&1>");
    expect(text).not.toContain("<b>");
    const back = parseSvg(text);
    expect(byClass(back, "text", "workload")[0]!.text).toBe("W<&1>");
    expect(byClass(back, "rect", "bar")[0]!.attrs["data-workload"]).toBe("W<&1>");
    expect(byClass(back, "text", "missing")[0]!.text).toBe(`no time: "quoted" & <b>bold</b>`);
    expect(byClass(back, "text", "subtitle")[0]!.text).toContain("a<b>&c");
  });

  it("is well formed with no time at all", () => {
    const none = parseSvg(plotBench([row("W1", "fused", null, null, "failed")], OPTIONS));
    expect(byClass(none, "rect", "bar")).toHaveLength(0);
    expect(texts(none)).toContain("no row has a time");
  });
});

describe("plotTimeline", () => {
  // Given out of start order, as a backend may report them.
  const mlp = new Profile("mlp", "webgpu", [
    { kernel: "matmul_2", startUs: 160, durUs: 300 },
    { kernel: "matmul_0", startUs: 0, durUs: 120 },
    { kernel: "reduction_3", startUs: 470, durUs: 30 },
    { kernel: "elementwise_1", startUs: 130, durUs: 2 },
  ]);
  const softmax = new Profile("softmax", "webgpu", [{ kernel: "reduction_0", startUs: 0, durUs: 50 }]);
  const root = parseSvg(plotTimeline([mlp, softmax], { source: "examples/models.ts", adapter: "llvmpipe", date: "2026-12-02" }));
  const launches = byClass(root, "rect", "launch");

  it("draws one bar per kernel launch, in start order within each function", () => {
    expect(launches.map((l) => l.attrs["data-kernel"])).toEqual(["matmul_0", "elementwise_1", "matmul_2", "reduction_3", "reduction_0"]);
    const rows = launches.map((l) => num(l, "y"));
    for (let i = 1; i < rows.length; i++) expect(rows[i]).toBeGreaterThan(rows[i - 1]!);
  });

  it("places each bar at its start and makes it as long as the launch, on one linear scale", () => {
    const x0 = num(launches[0]!, "x");
    const scale = num(launches[0]!, "width") / 120;
    for (const l of launches) {
      expect(num(l, "width")).toBeCloseTo(scale * num(l, "data-dur-us"), 1);
      expect(num(l, "x") - x0).toBeCloseTo(scale * num(l, "data-start-us"), 1);
    }
    // The axis's labels (ms) sit on the same scale.
    const ticks = byClass(root, "text", "tick");
    expect(ticks.length).toBeGreaterThanOrEqual(3);
    for (const t of ticks) expect(num(t, "x") - x0).toBeCloseTo(scale * 1000 * Number(t.text), 1);
    expect(Number(ticks[ticks.length - 1]!.text) * 1000).toBeGreaterThanOrEqual(mlp.spanUs);
  });

  it("labels every launch with its kernel and its duration in ms, and each function with its totals", () => {
    expect(byClass(root, "text", "kernel").map((t) => t.text)).toEqual(["matmul_0", "elementwise_1", "matmul_2", "reduction_3", "reduction_0"]);
    expect(byClass(root, "text", "value").map((t) => t.text)).toEqual(["0.120 ms", "0.002 ms", "0.300 ms", "0.030 ms", "0.050 ms"]);
    expect(byClass(root, "text", "function").map((t) => t.text)).toEqual([
      "@mlp on webgpu: 4 launch(es), 0.452 ms of kernels",
      "@softmax on webgpu: 1 launch(es), 0.050 ms of kernels",
    ]);
    const subtitle = byClass(root, "text", "subtitle")[0]!.text;
    for (const part of ["webgpu on llvmpipe", "2026-12-02"]) expect(subtitle).toContain(part);
  });

  it("colours launches of one kind alike and of different kinds apart", () => {
    const fill = (k: string) => launches.find((l) => l.attrs["data-kernel"] === k)!.attrs.fill;
    expect(fill("matmul_0")).toBe(fill("matmul_2"));
    expect(fill("reduction_3")).toBe(fill("reduction_0"));
    expect(fill("matmul_0")).not.toBe(fill("reduction_3"));
  });

  it("escapes kernel and function names", () => {
    const odd = new Profile("f<&>", "webgpu", [{ kernel: "k<&'\">", startUs: 0, durUs: 5 }]);
    const text = plotTimeline([odd], { date: "2026-12-02" });
    expect(text).not.toContain("k<&");
    const back = parseSvg(text);
    expect(byClass(back, "text", "kernel")[0]!.text).toBe("k<&'\">");
    expect(byClass(back, "rect", "launch")[0]!.attrs["data-kernel"]).toBe("k<&'\">");
    expect(byClass(back, "text", "function")[0]!.text).toContain("@f<&> on webgpu");
  });

  it("is well formed for a profile with no launches", () => {
    const back = parseSvg(plotTimeline([new Profile("empty", "webgpu", [])], { date: "2026-12-02" }));
    expect(byClass(back, "rect", "launch")).toHaveLength(0);
  });
});

describe("the progress line's durations", () => {
  it("round to whole seconds past a minute without a 60s remainder", async () => {
    const { seconds } = await import("../../bench/progress.js");
    expect(seconds(12_345)).toBe("12.3s");
    expect(seconds(479_600)).toBe("8m0s");
    expect(seconds(479_400)).toBe("7m59s");
    expect(seconds(61_000)).toBe("1m1s");
  });
});
