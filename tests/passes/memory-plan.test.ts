import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Graph } from "../../ir/graph.js";
import { isDenseConstant } from "../../ir/memory-plan.js";
import { bytesOf, planMemory } from "../../passes/memory-plan.js";
import { runPipeline } from "../../passes/pipeline.js";
import { Tb, limitTarget, mlp } from "./graphs.js";
import { buildProgram, programArb } from "./random-graphs.js";

/** The plan's invariants: every value placed, slots big enough, no two live values in one slot. */
function expectSoundPlan(g: Graph): void {
  const plan = planMemory(g);
  // Every value a node defines has a slot, unless its storage is an input or load-time data.
  for (const v of g.nodes.flatMap((n) => n.outputs)) {
    const s = plan.storage.get(v)!;
    const def = g.nodes.find((n) => n.outputs.includes(s));
    const unplanned = g.inputs.includes(s) || (def !== undefined && isDenseConstant(def));
    expect(plan.assignment.has(v) || unplanned).toBe(true);
    if (plan.assignment.has(v)) expect(plan.assignment.get(v)).toBe(plan.assignment.get(s));
  }
  for (const slot of plan.slots) {
    for (const v of slot.values) {
      expect(plan.assignment.get(v)).toBe(slot.id);
      expect(slot.bytes).toBeGreaterThanOrEqual(bytesOf(v));
    }
    const ranges = slot.values.map((v) => plan.liveRange.get(v)!);
    for (let i = 0; i < ranges.length; i++)
      for (let j = i + 1; j < ranges.length; j++) {
        const [a, b] = [ranges[i]!, ranges[j]!];
        expect(a[1] < b[0] || b[1] < a[0], `values ${i} and ${j} of slot ${slot.id} overlap: [${a}] [${b}]`).toBe(true);
      }
  }
  expect(plan.peakBytes).toBeGreaterThanOrEqual(plan.peakLiveBytes);
  expect(plan.peakBytes).toBeLessThanOrEqual(plan.unplannedBytes);
}

/** A chain of `n` unary ops over f32[256] (1 KiB each). */
function chain(n: number): Graph {
  const t = new Tb("chain");
  let v = t.input("f32", [256], "x");
  for (let i = 0; i < n; i++) v = t.op(i % 2 ? "exp" : "neg", [v]);
  return t.build([v]);
}

describe("memory plan", () => {
  it("reuses buffers along a chain: two slots serve any length", () => {
    const plan = planMemory(chain(10));
    expect(plan.slots).toHaveLength(2);
    expect(plan.peakBytes).toBe(2 * 1024);
    expect(plan.unplannedBytes).toBe(10 * 1024);
  });

  it("never frees a result: its slot is the caller's", () => {
    const t = new Tb("g");
    const x = t.input("f32", [4], "x");
    const a = t.op("exp", [x]);
    const b = t.op("neg", [a]);
    const c = t.op("neg", [b]);
    const plan = planMemory(t.build([a, c]));
    const slotOfA = plan.slots[plan.assignment.get(a)!]!;
    expect(slotOfA.values).toEqual([a]);
    expect(slotOfA.result).toBe(true);
  });

  it("counts a returned input, or a repeated result, as one more buffer (the backend copies it)", () => {
    const t = new Tb("g");
    const x = t.input("f32", [4], "x");
    const a = t.op("exp", [x]);
    expect(planMemory(t.build([a, a, x])).peakBytes).toBe(3 * 16);
  });

  it("grows a free slot rather than opening a new one when nothing free fits", () => {
    const t = new Tb("g");
    const x = t.input("f32", [4], "x");
    const small = t.op("neg", [x]); // 16 B, dies at the broadcast
    const big = t.op("neg", [t.bcast(small, [8, 4], [1])]); // 128 B, takes small's slot, grown
    const g = t.build([t.op("reduce_sum", [big], { axes: [0, 1] })]);
    const plan = planMemory(g);
    expect(plan.slots.map((s) => s.bytes)).toEqual([128, 128]);
    expect(plan.assignment.get(big)).toBe(plan.assignment.get(small));
    expectSoundPlan(g);
  });

  it("is the plan the pipeline returns for its final graph, and the last pass reports it", () => {
    const { graph, stages, memoryPlan } = runPipeline(mlp(), { target: limitTarget(8) });
    expect(memoryPlan).toBe(planMemory(graph));
    expect(stages.at(-1)!.pass).toBe("memory-plan");
    expect(stages.at(-1)!.notes.join("\n")).toMatch(/2 buffer\(s\) in 2 slot\(s\), peak 384 B/);
  });

  it("never lets two simultaneously live values share a slot (random graphs, fused and unfused)", () => {
    fc.assert(
      fc.property(programArb, fc.boolean(), (p, fuse) => {
        const g = buildProgram(p);
        expectSoundPlan(g);
        expectSoundPlan(runPipeline(g, { fuse, target: limitTarget(8) }).graph);
      }),
      { numRuns: 150 },
    );
  });
});
