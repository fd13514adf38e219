/**
 * Graphs as deep as a user may make them: no walk over a graph, a module or a kernel may
 * recurse once per op or per nesting level, or a long model overflows the stack.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { Tensor } from "../../frontend/core.js";
import { init } from "../../frontend/init.js";
import { compileIR, jit } from "../../frontend/jit.js";
import * as np from "../../frontend/np.js";
import { verify } from "../../ir/graph.js";
import { parseIRSync } from "../../ir/parse.js";
import { printIR } from "../../ir/print.js";

beforeAll(async () => {
  await init({ backend: "interp" });
});

/** A module of `depth` functions, each calling the one above it; the innermost negates. */
function nestedModule(depth: number): string {
  const funcs = [`func @f0(%x: f32[4]) -> (f32[4]) {\n  %0 = neg %x : f32[4]\n  return %0\n}`];
  for (let i = 1; i < depth; i++)
    funcs.push(`func @f${i}(%x: f32[4]) -> (f32[4]) {\n  %0 = jit %x {callee=@f${i - 1}} : f32[4]\n  return %0\n}`);
  return funcs.join("\n\n") + "\n";
}

/** The chain `x + 0.001, * 0.999, + 0.001, …` of `n` ops, in f32 as the interpreter computes it. */
function chainInJs(xs: readonly number[], n: number): number[] {
  return xs.map((x) => {
    let y = Math.fround(x);
    for (let i = 0; i < n; i++) y = Math.fround(i % 2 ? y * Math.fround(0.999) : y + Math.fround(0.001));
    return y;
  });
}

describe("deep graphs", () => {
  it("10,000 nested IR functions parse, print back the same text, verify and run", async () => {
    const text = nestedModule(10_000);
    const g = parseIRSync(text);
    expect(printIR(g)).toBe(text);
    verify(g);
    const f = compileIR(g, { backend: "interp" });
    expect(Array.from(await f(np.array([1, -2, 3, 0.5])).data())).toEqual([-1, 2, -3, -0.5]);
  }, 600_000);

  it("a traced chain of 100,000 ops compiles and runs on the interpreter, matching JS", async () => {
    const n = 100_000;
    const chain = (x: Tensor) => {
      let y = x;
      for (let i = 0; i < n; i++) y = i % 2 ? np.multiply(y, 0.999) : np.add(y, 0.001);
      return y;
    };
    const xs = [1, 2, -3, 0.25];
    const got = Array.from(await jit(chain, { backend: "interp" })(np.array(xs)).data());
    const want = chainInJs(xs, n);
    got.forEach((g, i) => expect(g).toBeCloseTo(want[i]!, 4));
  }, 600_000);
});
