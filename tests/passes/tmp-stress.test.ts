import fc from "fast-check";
import { it } from "vitest";
import { printIR } from "../../ir/print.js";
import { runPipeline } from "../../passes/pipeline.js";
import { limitTarget } from "./graphs.js";
import { buildProgram, programArb } from "./random-graphs.js";
it("look", () => {
  const ps = fc.sample(programArb.filter((p) => p.ops.length > 22), { numRuns: 3, seed: 7 });
  for (const p of ps.slice(1)) {
    const g = buildProgram(p);
    const { stages } = runPipeline(g, { target: limitTarget(8) });
    console.log(printIR(stages[2]!.graph));
    console.log(stages.find(s => s.pass === "fuse")!.notes.join("\n"));
    console.log(printIR(stages.at(-1)!.graph).split("\n\n").at(-1));
  }
});
