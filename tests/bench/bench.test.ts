/**
 * The benchmark harness on the interpreter at tiny sizes: rows are well formed,
 * the JSON has the documented schema, fused and unfused agree with the
 * interpreter, and nothing leaks. No assertion looks at wall time.
 */
import { describe, expect, it } from "vitest";
import { getBackend, memoryStats } from "../../index.js";
import { runBench, runBenchCommand, variantsOf } from "../../bench/run.js";
import { type BenchRow, formatFirstSplit, formatTable, toJSON } from "../../bench/report.js";
import { type Timing, median, medianInterval, maxAbsErr, measureInterleaved } from "../../bench/timing.js";
import { DEFAULT_SIZES, DEFAULT_WORKLOADS, TINY_SIZES, WORKLOAD_IDS, chosenExperts, workload } from "../../bench/workloads.js";

const JSON_KEYS = ["workload", "variant", "backend", "steadyMs", "firstMs", "kernels", "peakBytes", "maxAbsErr", "steadyIntervalMs", "firstSplit"];

let cached: Promise<BenchRow[]> | undefined;
/** One tiny run of every workload, shared by the tests below. */
function tinyRun(): Promise<BenchRow[]> {
  cached ??= runBench({ workloads: WORKLOAD_IDS, sizes: TINY_SIZES, runs: 2 });
  return cached;
}


describe("benchmark workloads", () => {
  it("default to DESIGN's sizes and the W1–W5, W8 selection", () => {
    expect(workload("W1").sizes.n).toBe(4 * 2 ** 20);
    expect(workload("W8").sizes).toEqual({ seq: 256, d: 768, heads: 12, hidden: 3072 });
    expect(DEFAULT_WORKLOADS).toEqual(["W1", "W2", "W3", "W4", "W5", "W8"]);
    expect(DEFAULT_SIZES.W6).toEqual({ heads: 8, seq: 1024, dHead: 64 });
  });

  it("generate the same seeded inputs every time, shaped as declared", () => {
    for (const id of WORKLOAD_IDS) {
      const a = workload(id, TINY_SIZES[id] as never).inputs();
      const b = workload(id, TINY_SIZES[id] as never).inputs();
      expect(a.map((i) => i.data)).toEqual(b.map((i) => i.data));
      for (const i of a) expect(i.data.length).toBe(i.shape.reduce((x, y) => x * y, 1));
    }
  });
});

describe("W7-decode's weight floor", () => {
  it("counts the distinct experts the tokens choose: k when every token is the same, up to T·k", () => {
    const w = workload("W7-decode");
    const { tokens, d, experts, k, hidden } = w.sizes;
    const inputs = w.inputs();
    const perExpert = 2 * d * hidden * 4;
    const { bytes, what } = w.weightBytes!(inputs);
    const chosen = bytes / perExpert;
    expect(Number.isInteger(chosen) && chosen >= k && chosen <= Math.min(experts, tokens * k), what).toBe(true);
    expect(what).toContain(`the ${chosen} experts its ${tokens} tokens chose`);
    // Every token a copy of token 0: they all choose token 0's k experts.
    const x = inputs[0]!.data.slice();
    for (let t = 1; t < tokens; t++) x.copyWithin(t * d, 0, d);
    expect(chosenExperts(x, inputs[1]!.data, w.sizes)).toBe(k);
  });
});

describe("smelt bench on the interpreter", () => {
  it("reports a fused and an unfused row for every workload, a materialised one where attention is, a dense one for MoE", async () => {
    const rows = await tinyRun();
    for (const id of WORKLOAD_IDS)
      expect(rows.filter((r) => r.workload === id).map((r) => r.variant))
        .toEqual(variantsOf(id));
    expect(variantsOf("W6")).toEqual(["fused", "materialised", "unfused"]);
    expect(variantsOf("W6-long8k")).toEqual(["fused"]);
    expect(variantsOf("W7")).toEqual(["fused", "dense", "unfused"]);
    expect(variantsOf("W9")).toEqual(["fused", "forward", "materialised", "unfused"]);
  });

  it("W9's fused row says what multiple of its forward row the training step takes", async () => {
    const rows = (await tinyRun()).filter((r) => r.workload === "W9");
    const [step, fwd] = ["fused", "forward"].map((v) => rows.find((r) => r.variant === v)!);
    const m = /^forward \+ backward: ([\d.]+)× its forward$/.exec(step!.note ?? "");
    expect(m, step!.note).not.toBeNull();
    expect(Number(m![1])).toBeCloseTo(step!.steadyMs! / fwd!.steadyMs!, 1);
  });

  it("fills every measurement of a row it could run", async () => {
    for (const r of await tinyRun()) {
      if ((r.workload === "W9" || r.workload === "W7-train") && r.variant === "fused") expect(r.note).toMatch(/^forward \+ backward: /);
      else expect(r.note, `${r.workload} ${r.variant}`).toBeUndefined();
      expect(r.backend).toBe(getBackend().name);
      for (const v of [r.steadyMs, r.firstMs, r.peakBytes, r.maxAbsErr]) {
        expect(typeof v).toBe("number");
        expect(v as number).toBeGreaterThanOrEqual(0);
      }
      expect(Number.isInteger(r.kernels)).toBe(true);
    }
  });

  it("agrees with the interpreter, fused and unfused", async () => {
    for (const r of await tinyRun()) expect(r.maxAbsErr ?? NaN, `${r.workload} ${r.variant}: ${r.note ?? ""}`).toBeLessThan(1e-4);
  });

  it("writes JSON rows with exactly the documented fields", async () => {
    const rows = JSON.parse(toJSON(await tinyRun())) as Record<string, unknown>[];
    for (const r of rows) {
      expect(Object.keys(r).filter((k) => k !== "note").sort()).toEqual([...JSON_KEYS].sort());
      expect(["fused", "forward", "materialised", "dense", "unfused"]).toContain(r.variant);
      for (const k of JSON_KEYS.slice(3, -2)) expect(r[k] === null || typeof r[k] === "number").toBe(true);
      // Two timed calls are too few for a 95% interval of the median.
      expect(r.steadyIntervalMs).toBeNull();
    }
  });

  it("splits each first call into trace, passes, codegen, pipelines and the first run, which add up to it", async () => {
    for (const r of await tinyRun()) {
      const s = r.firstSplit!;
      const parts = [s.traceMs, s.passesMs, s.codegenMs, s.pipelinesMs, s.runMs];
      for (const p of parts) expect(p).toBeGreaterThanOrEqual(0);
      // Tracing and the passes ran for this row's first call (a fresh jit, an empty compile cache).
      expect(s.traceMs).toBeGreaterThan(0);
      expect(s.passesMs).toBeGreaterThan(0);
      expect(s.cached).toBe(false);
      expect(parts.reduce((a, b) => a + b)).toBeCloseTo(r.firstMs!, 6);
    }
    const text = formatFirstSplit(await tinyRun());
    expect(text.split("\n")[0]).toMatch(/^workload\s+variant\s+first ms\s+trace\s+passes\s+codegen\s+pipelines\s+first run\s+compile cache$/);
  });

  it("with autotune adds a tuned row per workload, checked against the interpreter like the others", async () => {
    const rows = await runBench({ workloads: ["W4", "W5"], sizes: TINY_SIZES, runs: 1, autotune: true });
    for (const w of ["W4", "W5"]) {
      const tuned = rows.find((r) => r.workload === w && r.variant === "tuned")!;
      expect(tuned).toBeDefined();
      expect(tuned.steadyMs).toBeGreaterThan(0);
      expect(tuned.maxAbsErr).not.toBeNull();
      expect(tuned.maxAbsErr!).toBeLessThanOrEqual(1e-4);
      expect(tuned.kernels).toBe(rows.find((r) => r.workload === w && r.variant === "fused")!.kernels);
    }
    expect(formatTable(rows)).toMatch(/^W5\s+tuned\s/m);
  });

  it("gives back all device memory it allocated", async () => {
    const before = memoryStats();
    await runBench({ workloads: ["W3"], sizes: TINY_SIZES, runs: 1 });
    expect(memoryStats(undefined, before)).toMatchObject({ liveBuffers: 0, liveBytes: 0 });
  });
});

describe("smelt bench arguments", () => {
  it("refuses an unknown workload and a run count that is not a positive integer", async () => {
    const errors: string[] = [];
    const saved = console.error;
    console.error = (m: string) => void errors.push(m);
    try {
      expect(await runBenchCommand(["W10"], {})).toBe(1);
      expect(await runBenchCommand(["W1"], { runs: 0 })).toBe(1);
    } finally {
      console.error = saved;
    }
    expect(errors[0]).toContain("unknown workload 'W10'");
    expect(errors[1]).toContain("--runs");
  });
});

describe("benchmark report", () => {
  const rows: BenchRow[] = [
    { workload: "W1", variant: "fused", backend: "webgpu", steadyMs: 2, firstMs: 40, kernels: 1, peakBytes: 2 ** 24, maxAbsErr: 1e-7 },
    { workload: "W1", variant: "unfused", backend: "webgpu", steadyMs: 16, firstMs: 90, kernels: 8, peakBytes: 2 ** 25, maxAbsErr: 0 },
    { workload: "W1", variant: "jax-js", backend: "webgpu", steadyMs: 20, firstMs: 300, kernels: null, peakBytes: null, maxAbsErr: NaN },
    { workload: "W2", variant: "tfjs", backend: "webgpu", steadyMs: null, firstMs: null, kernels: null, peakBytes: null, maxAbsErr: null, note: "tfjs unavailable: no adapter" },
  ];

  it("prints speed-ups as baseline time over the row's time", () => {
    const table = formatTable(rows, { peers: true });
    const fused = table.split("\n").find((l) => l.startsWith("W1") && l.includes("fused") && !l.includes("unfused"))!;
    expect(fused).toContain("8.00×"); // vs unfused
    expect(fused).toContain("10.00×"); // vs jax-js
    expect(table).toContain("tfjs unavailable: no adapter");
  });

  it("aligns every line of the table to the same columns", () => {
    const lines = formatTable(rows, { peers: true }).split("\n").filter((l) => l && !l.startsWith("-"));
    const col = (l: string) => l.indexOf("webgpu") >= 0 ? l.indexOf("webgpu") : l.indexOf("backend");
    expect(new Set(lines.map(col)).size).toBe(1);
  });

  it("writes NaN as null in JSON", () => {
    expect((JSON.parse(toJSON(rows)) as { maxAbsErr: unknown }[])[2]!.maxAbsErr).toBeNull();
  });
});

describe("timing helpers", () => {
  it("take the median of an even count as the mean of the middle two", () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([5, 1, 3])).toBe(3);
  });

  it("bound the median by the order statistics a 95% interval needs, and give none under 6 calls", () => {
    const shuffled = [7, 3, 10, 1, 5, 9, 2, 8, 4, 6];
    // n = 10: P(Binomial(10, ½) ≤ 1) = 11/1024 ≤ 2.5% < P(≤ 2), so the 2nd and 9th smallest.
    expect(medianInterval(shuffled)).toEqual([2, 9]);
    expect(medianInterval(shuffled.slice(0, 6))).toEqual([1, 10]);
    expect(medianInterval(shuffled.slice(0, 5))).toBeNull();
    expect(medianInterval(Array.from({ length: 20 }, (_, i) => i + 1))).toEqual([6, 15]);
  });

  it("interleave variants' timed calls round by round, after each one's first call and warm-ups; a failing variant reports its error alone", async () => {
    const log: string[] = [];
    const variant = (name: string, failOn?: number) => {
      let n = 0;
      return {
        call: () => {
          n++;
          if (n === failOn) throw new Error(`${name} broke on call ${n}`);
          log.push(name);
          return name;
        },
        wait: async () => {},
        release: () => {},
      };
    };
    const [a, b, c] = await measureInterleaved([variant("a"), variant("b"), variant("c", 5)], 3);
    // First call and 2 warm-ups each, then rounds a b c; c's 5th call (its 2nd timed one) throws.
    expect(log).toEqual(["a", "a", "a", "b", "b", "b", "c", "c", "c", "a", "b", "c", "a", "b", "a", "b"]);
    expect((a as Timing).samples).toHaveLength(3);
    expect((b as Timing).samples).toHaveLength(3);
    expect(c).toBeInstanceOf(Error);
    expect((c as Error).message).toBe("c broke on call 5");
  });

  it("never report a NaN or a length mismatch as a small error", () => {
    expect(maxAbsErr([1, 2], [1, 2.5])).toBe(0.5);
    expect(maxAbsErr([1, NaN], [1, 2])).toBeNaN();
    expect(maxAbsErr([1], [1, 2])).toBeNaN();
  });
});
