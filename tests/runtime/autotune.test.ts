/**
 * The autotuner's decisions (runtime/autotune.ts) with a timer that reports chosen times, so
 * every rule is checked without a device: the fastest candidate wins only by a margin, a
 * choice is stored and reused without timing, kernels that compile alike are timed once, a
 * choice never crosses devices, a stored entry that names no candidate is timed again, a
 * candidate that does not run never wins, and a synchronous compile counts what it left untuned.
 */
import { describe, expect, test } from "vitest";
import type { Kernel } from "../../codegen/kernel.js";
import type { Program } from "../../codegen/program.js";
import { lowerGraph } from "../../codegen/program.js";
import { type Target, WEBGPU_TARGET } from "../../codegen/target.js";
import { GraphBuilder } from "../../ir/graph.js";
import { KEEP_DEFAULT_MARGIN, type KernelTimer, applyStored, signature, tune } from "../../runtime/autotune.js";
import { platform } from "../../runtime/platform.js";

/** lavapipe-like: CPU adapter, subgroups of 8, candidates asked for. */
const TARGET: Target = {
  ...WEBGPU_TARGET, cpuAdapter: true, subgroupSize: 8, autotune: true,
  features: { ...WEBGPU_TARGET.features, subgroups: true },
};

/** `count` independent matmuls of the same shape (kernels that compile alike), m×k · k×n each. */
function matmuls(m: number, k: number, n: number, count = 1): Program {
  const b = new GraphBuilder("mm");
  const outs = Array.from({ length: count }, () => {
    const x = b.input({ dtype: "f32", shape: [m, k] }), w = b.input({ dtype: "f32", shape: [k, n] });
    return b.add("dot_general", [x, w], { lhs_contract: [1], rhs_contract: [0], lhs_batch: [], rhs_batch: [] });
  });
  return lowerGraph(b.build(outs.flat()), TARGET);
}

/** A timer for `device` that reports `times` per candidate (by position) and counts its calls. */
function fakeTimer(times: (i: number) => number, device = `test device ${Math.random()}`): KernelTimer & { calls: number } {
  const timer = {
    device,
    calls: 0,
    async time(kernels: readonly Kernel[]) {
      timer.calls++;
      return kernels.map((_, i) => times(i));
    },
  };
  return timer;
}

const labels = (p: Program) => p.launches[0]!.kernel.candidates!.map((c) => c.label);

describe("autotune", () => {
  test("lowering for autotuning gives a matmul its candidates, the default first", () => {
    const p = matmuls(70, 33, 130);
    expect(labels(p)).toEqual(["8×32 subgroup tile", "32×32 subgroup tile", "16×32 subgroup tile"]);
    // The same target without `autotune`: the default alone.
    const b = new GraphBuilder("mm");
    const x = b.input({ dtype: "f32", shape: [70, 33] }), w = b.input({ dtype: "f32", shape: [33, 130] });
    const plain = lowerGraph(b.build(b.add("dot_general", [x, w], { lhs_contract: [1], rhs_contract: [0], lhs_batch: [], rhs_batch: [] })), { ...TARGET, autotune: false });
    expect(plain.launches[0]!.kernel.candidates).toBeUndefined();
    expect(plain.launches[0]!.kernel.body).toEqual(p.launches[0]!.kernel.candidates![0]!.kernel.body);
  });

  test("the fastest candidate wins and is stored; the next tune reads it and times nothing", async () => {
    const p = matmuls(70, 33, 130);
    const timer = fakeTimer((i) => [10, 12, 6][i]!);
    const tuned = await tune(p, timer, 3);
    expect(timer.calls).toBe(1);
    expect(tuned.measured).toBe(1);
    const k = tuned.program.launches[0]!.kernel;
    expect(k.tuned).toMatchObject({ winner: "16×32 subgroup tile", from: "measured" });
    expect(k.tuned!.times.map((t) => t.ms)).toEqual([10, 12, 6]);
    // The winner's kernel, under the launch's name, without candidates.
    const chosen = p.launches[0]!.kernel.candidates![2]!.kernel;
    expect(k.grid).toEqual(chosen.grid);
    expect(k.body).toEqual(chosen.body);
    expect(k.name).toBe(p.launches[0]!.kernel.name);
    expect(k.candidates).toBeUndefined();

    const again = fakeTimer(() => { throw new Error("timed a stored choice"); }, timer.device);
    const reused = await tune(matmuls(70, 33, 130), again, 3);
    expect(again.calls).toBe(0);
    expect(reused.program.launches[0]!.kernel.tuned).toMatchObject({ winner: "16×32 subgroup tile", from: "stored" });
    // A synchronous compile finds it too.
    const sync = applyStored(matmuls(70, 33, 130), timer.device);
    expect(sync.untuned).toBe(0);
    expect(sync.program.launches[0]!.kernel.tuned?.winner).toBe("16×32 subgroup tile");
  });

  test(`the default stays unless a candidate is more than ${KEEP_DEFAULT_MARGIN * 100}% faster`, async () => {
    const close = await tune(matmuls(70, 33, 130), fakeTimer((i) => (i === 0 ? 10 : 10 * (1 - KEEP_DEFAULT_MARGIN) + 0.01)), 3);
    expect(close.program.launches[0]!.kernel.tuned?.winner).toBe("8×32 subgroup tile");
    const clear = await tune(matmuls(70, 33, 130), fakeTimer((i) => (i === 1 ? 9 : 10)), 3);
    expect(clear.program.launches[0]!.kernel.tuned?.winner).toBe("32×32 subgroup tile");
  });

  test("kernels that compile alike are timed once per program; other shapes are timed apart", async () => {
    const timer = fakeTimer((i) => [10, 5, 12][i]!);
    const tuned = await tune(matmuls(70, 33, 130, 3), timer, 3);
    expect(timer.calls).toBe(1);
    expect(tuned.program.launches.map((l) => l.kernel.tuned?.winner)).toEqual(Array(3).fill("32×32 subgroup tile"));
    await tune(matmuls(70, 34, 130), timer, 3);
    expect(timer.calls).toBe(2);
  });

  test("a choice never crosses devices", async () => {
    const a = fakeTimer((i) => [10, 5, 12][i]!);
    await tune(matmuls(72, 33, 130), a, 3);
    const b = fakeTimer((i) => [10, 12, 5][i]!);
    const onB = await tune(matmuls(72, 33, 130), b, 3);
    expect(b.calls).toBe(1);
    expect(onB.program.launches[0]!.kernel.tuned?.winner).toBe("16×32 subgroup tile");
  });

  test("a stored entry that names no candidate (or is not JSON) is timed again", async () => {
    const timer = fakeTimer((i) => [10, 5, 12][i]!);
    const p = matmuls(74, 33, 130);
    const store = platform().tuningStore!()!;
    const sig = signature(timer.device, p.launches[0]!.kernel);
    store.write(sig, JSON.stringify({ winner: "a tiling that no longer exists", times: [] }));
    expect((await tune(p, timer, 3)).measured).toBe(1);
    store.write(sig, "{not json");
    expect((await tune(p, timer, 3)).measured).toBe(1);
    expect(timer.calls).toBe(2);
  });

  test("a candidate that does not run never wins; a default that does not run is an error", async () => {
    const broken = await tune(matmuls(76, 33, 130), fakeTimer((i) => (i === 1 ? Infinity : [10, 0, 12][i]!)), 3);
    expect(broken.program.launches[0]!.kernel.tuned?.winner).toBe("8×32 subgroup tile");
    await expect(tune(matmuls(78, 33, 130), fakeTimer((i) => (i === 0 ? Infinity : 1)), 3)).rejects.toThrow(/default tiling did not run/);
  });

  test("a synchronous compile without stored choices runs the defaults and counts them", () => {
    const p = matmuls(80, 33, 130, 2);
    const sync = applyStored(p, "a device nothing was tuned on");
    expect(sync.untuned).toBe(2);
    for (const [i, l] of sync.program.launches.entries()) {
      expect(l.kernel.tuned).toBeUndefined();
      expect(l.kernel.candidates).toBeUndefined();
      expect(l.kernel.body).toEqual(p.launches[i]!.kernel.candidates![0]!.kernel.body);
    }
  });
});
