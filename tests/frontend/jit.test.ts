import { beforeAll, describe, expect, test } from "vitest";
import { init } from "../../frontend/init.js";
import { jit, compileIR, spec, ShapeDtype } from "../../frontend/jit.js";
import { type Tensor, TracerError } from "../../frontend/core.js";
import { fromHost } from "../../frontend/creation.js";
import * as lax from "../../frontend/lax.js";
import { ShapeError } from "../../ir/errors.js";
import { parseIRSync } from "../../ir/parse.js";
import { parseIR } from "../../ir/parser.js";
import { printIR } from "../../ir/print.js";

beforeAll(async () => {
  await init({ backend: "interp" });
});

const f32 = (shape: number[], values: number[]) => fromHost("f32", shape, Float32Array.from(values));
const range = (n: number, scale = 1) => Array.from({ length: n }, (_, i) => (i - n / 2) * scale);

describe("jit", () => {
  test("a second call with the same signature does not retrace", async () => {
    const f = jit((x: Tensor, y: Tensor) => lax.add(lax.mul(x, y), x));
    const a = f32([3], [1, 2, 3]);
    const b = f32([3], [4, 5, 6]);
    expect(Array.from(await f(a, b).data())).toEqual([5, 12, 21]);
    expect(Array.from(await f(b, a).data())).toEqual([8, 15, 24]);
    expect(f.traceCount).toBe(1);
  });

  test("a new shape or dtype traces again and both signatures stay cached", async () => {
    const f = jit((x: Tensor) => lax.neg(x));
    f(f32([2], [1, 2]));
    f(f32([3], [1, 2, 3]));
    f(fromHost("i32", [2], Int32Array.from([1, 2])));
    f(f32([2], [5, 6]));
    expect(f.traceCount).toBe(3);
  });

  test("nested pytrees of inputs and outputs keep their structure", async () => {
    const f = jit((p: { w: Tensor; b: Tensor }, xs: Tensor[]) => ({
      y: lax.add(lax.mul(xs[0]!, p.w), p.b),
      parts: [xs[1]!, lax.neg(xs[1]!)],
    }));
    const out = f({ w: f32([2], [2, 3]), b: f32([2], [1, 1]) }, [f32([2], [1, 2]), f32([2], [7, 8])]);
    expect(Array.from(await out.y.data())).toEqual([3, 7]);
    expect(Array.from(await out.parts[1]!.data())).toEqual([-7, -8]);
  });

  test("static arguments are part of the cache key", async () => {
    const f = jit((x: Tensor, axis: number) => lax.reduceSum(x, [axis]), { staticArgnums: [1] });
    const x = f32([2, 3], range(6));
    expect(Array.from(await f(x, 0).data())).toEqual([-3, -1, 1]);
    expect(Array.from(await f(x, 1).data())).toEqual([-6, 3]);
    expect(f.traceCount).toBe(2);
  });

  test("a shape error while tracing names the primitive, the shapes and the caller's line", () => {
    const f = jit((x: Tensor, y: Tensor) => lax.add(x, y));
    let err: unknown;
    try {
      f(f32([2, 3], range(6)), f32([3, 2], range(6)));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ShapeError);
    const msg = (err as Error).message;
    expect(msg).toContain("add");
    expect(msg).toContain("f32[2,3]");
    expect(msg).toContain("f32[3,2]");
    expect(msg).toMatch(/jit\.test\.ts:\d+/);
  });

  test("reading a traced value is a TracerError thrown at once (not a rejected promise)", () => {
    let captured: Tensor | undefined;
    const traced = jit((x: Tensor) => {
      captured = x;
      return x;
    });
    traced(f32([1], [1]));
    expect(() => captured!.data()).toThrow(TracerError);
    expect(() => captured!.tolist()).toThrow(TracerError);
  });

  test("a tracer that escapes its jit is refused when used later", () => {
    let leaked: Tensor | undefined;
    const f = jit((x: Tensor) => {
      leaked = x;
      return lax.neg(x);
    });
    f(f32([2], [1, 2]));
    const g = jit((y: Tensor) => lax.add(y, leaked!));
    expect(() => g(f32([2], [1, 2]))).toThrow(TracerError);
  });

  test("jit inside jit stays a call node and computes the same values", async () => {
    const inner = jit((x: Tensor) => lax.mul(x, x), { name: "square" });
    const outer = jit((x: Tensor) => lax.add(inner(x), x), { name: "outer" });
    const x = f32([3], [1, 2, 3]);
    expect(Array.from(await outer(x).data())).toEqual([2, 6, 12]);
    const text = outer.lower(x).text();
    expect(text).toContain("func @square");
    expect(text).toMatch(/= jit %x \{callee=@square\}/);
  });

  test("captured outside tensors become graph inputs, small ones constants", async () => {
    const w = f32([40], range(40));
    const s = f32([1], [2]);
    const f = jit((x: Tensor) => lax.mul(lax.add(x, w), lax.broadcastInDim(s, [40], [0])));
    const x = f32([40], range(40, -1));
    const text = f.lower(x).text();
    expect(text).toMatch(/%c0: f32\[40\]/);
    expect(text).toContain("constant {value=[2], shape=[1], dtype=f32}");
    const got = await f(x).data();
    expect(Array.from(got)).toEqual(range(40).map((v, i) => (v + range(40, -1)[i]!) * 2));
  });
});

describe("lower and compileIR", () => {
  test("lower accepts ShapeDtype specs and shows the traced IR", () => {
    const f = jit((x: Tensor, w: Tensor) => lax.dotGeneral(x, w, { lhsContract: [1], rhsContract: [0] }), { name: "mm" });
    const low = f.lower(spec("f32[2,3]"), new ShapeDtype([3, 4]));
    expect(low.text()).toBe(
      [
        "func @mm(%x: f32[2,3], %w: f32[3,4]) -> (f32[2,4]) {",
        "  %0 = dot_general %x, %w {lhs_contract=[1], rhs_contract=[0], lhs_batch=[], rhs_batch=[]} : f32[2,4]",
        "  return %0",
        "}",
        "",
      ].join("\n"),
    );
    expect(low.passes[0]).toBe("trace");
  });

  test("IR dumped from lower parses back, and compileIR of the text gives the jitted values", async () => {
    const f = jit((x: Tensor, y: Tensor) => lax.tanh(lax.sub(lax.exp(x), y)));
    const x = f32([4], [0.1, 0.2, -0.3, 1]);
    const y = f32([4], [1, 0, 2, -1]);
    const text = f.lower(x, y).text();
    expect(printIR(parseIRSync(text))).toBe(text);
    const g = compileIR(await parseIR(text));
    expect(Array.from(await (g(x, y) as Tensor).data())).toEqual(Array.from(await f(x, y).data()));
  });

  test("an edited IR text runs with the edit", async () => {
    const f = jit((x: Tensor, y: Tensor) => lax.add(x, y));
    const x = f32([2], [3, 4]);
    const y = f32([2], [1, 2]);
    const edited = f.lower(x, y).text().replace("= add", "= mul");
    expect(Array.from(await (compileIR(await parseIR(edited))(x, y) as Tensor).data())).toEqual([3, 8]);
  });

  test("lower().dump('all') shows the graph after every pass", () => {
    const f = jit((x: Tensor) => lax.neg(x), { name: "negate" });
    const dump = f.lower(spec("f32[3]")).dump("all");
    expect(dump).toContain("// ---- after trace");
    expect(dump).toContain("// ---- after inline");
    expect(() => f.lower(spec("f32[3]")).after("no_such_pass")).toThrow(/no pass named/);
  });
});
