/**
 * A transformed function traced by jit is an ordinary graph: it verifies, prints,
 * parses back to the same text (the round-trip law), and the parsed graph runs
 * on the interpreter to the same numbers.
 */
import { describe, expect, test } from "vitest";
import type { Tensor } from "../../frontend/core.js";
import { init } from "../../frontend/init.js";
import { jit } from "../../frontend/jit.js";
import * as lax from "../../frontend/lax.js";
import * as nn from "../../frontend/nn.js";
import { grad } from "../../frontend/vjp.js";
import { vmap } from "../../frontend/vmap.js";
import { parseIRSync } from "../../ir/parse.js";
import { printIR } from "../../ir/print.js";
import { evalGraph } from "../../runtime/interp.js";
import { roundTrip } from "../ir/roundtrip.js";
import { read, uniform } from "./helpers.js";

await init({ backend: "interp" });

const loss = (w: Tensor, x: Tensor) => lax.reduceSum(nn.softmax(lax.dotGeneral(x, w, { lhsContract: [1], rhsContract: [0] })), [0, 1]);
const inner = jit((x: Tensor) => lax.mul(lax.tanh(x), x));

const programs: [string, (w: Tensor, x: Tensor) => Tensor][] = [
  ["jit(grad f)", (w, x) => grad(loss)(w, x) as Tensor],
  ["jit(grad(jit g)): calls of the jvp and transposed callees", (w, x) => grad((w: Tensor) => lax.reduceSum(inner(w), [0, 1]))(w) as Tensor],
  ["jit(vmap(grad f))", (w, x) => vmap(grad(loss), { inAxes: [null, 0] })(w, lax.reshape(x, [4, 1, 3])) as Tensor],
  ["jit(grad(grad f))", (w) => grad((v: Tensor) => lax.reduceSum(grad((u: Tensor) => lax.reduceSum(lax.sin(lax.mul(u, u)), [0, 1]))(v) as Tensor, [0, 1]))(w) as Tensor],
];

describe("transformed functions trace to graphs that print, parse and run", () => {
  const w = uniform([3, 2], 1), x = uniform([4, 3], 2);
  for (const [name, f] of programs)
    test(name, async () => {
      const jf = jit(f);
      const g = jf.lower(w, x).graph;
      roundTrip(g);
      const parsed = parseIRSync(printIR(g));
      const host = await Promise.all([w, x].map(async (t) => ({ dtype: t.dtype, shape: t.shape, data: await t.data() })));
      const [out] = evalGraph(parsed, host.slice(0, parsed.inputs.length));
      expect(Array.from(out!.data)).toEqual(await read(jf(w, x)));
    });
});
