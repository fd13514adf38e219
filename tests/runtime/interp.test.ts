import { readFileSync, readdirSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { type AbstractValue, type HostArray, hostArray } from "../../ir/dtype.js";
import { ShapeError, VerifyError } from "../../ir/errors.js";
import { type Graph, GraphBuilder, Value } from "../../ir/graph.js";
import { type Primitive, allPrimitives } from "../../ir/primitives.js";
import type { DeviceBuffer } from "../../runtime/backend.js";
import { evalGraph, evalRules, interpBackend, peakBytes } from "../../runtime/interp.js";
import { ev, f32, none, values } from "./interp-helpers.js";

const F4: AbstractValue = { dtype: "f32", shape: [4] };
/** chain() at 0: every exp rounds its result to f32. */
const CHAIN_AT_0 = Math.fround(Math.exp(Math.fround(Math.E)));

/** x ↦ exp(exp(exp(x))) over f32[4]: each intermediate is 16 bytes. */
function chain(name = "chain"): Graph {
  const b = new GraphBuilder(name);
  const x = b.input(F4, "x");
  const [a] = b.add("exp", [x], none);
  const [c] = b.add("exp", [a!], none);
  return b.build(b.add("exp", [c!], none));
}

describe("interp: evalGraph", () => {
  it("evaluates nodes in order, feeding each its operands", () => {
    const b = new GraphBuilder("affine");
    const x = b.input({ dtype: "f32", shape: [3] }, "x");
    const [two] = b.add("constant", [], { value: [2], shape: [3], dtype: "f32" });
    const [one] = b.add("constant", [], { value: [1], shape: [3], dtype: "f32" });
    const [y] = b.add("mul", [x, two!], none);
    const g = b.build(b.add("add", [y!, one!], none));
    expect(values(evalGraph(g, [f32([3], [1, 2, 3])])[0]!)).toEqual([3, 5, 7]);
  });
  it("returns every output, including an input returned as is", () => {
    const b = new GraphBuilder("pair");
    const x = b.input(F4, "x");
    const g = b.build([...b.add("neg", [x], none), x]);
    const input = f32([4], [1, 2, 3, 4]);
    const [n, same] = evalGraph(g, [input]);
    expect(values(n!)).toEqual([-1, -2, -3, -4]);
    expect(same).toBe(input);
  });
  it("rejects the wrong number of inputs with a ShapeError naming the graph", () => {
    expect(() => evalGraph(chain(), [])).toThrow(ShapeError);
    expect(() => evalGraph(chain(), [])).toThrow("@chain: takes 1 input(s), got 0");
  });
  it("rejects an input of the wrong type", () => {
    expect(() => evalGraph(chain(), [f32([3], [1, 2, 3])])).toThrow("input 0 is f32[3], expected f32[4]");
    expect(() => evalGraph(chain(), [hostArray("i32", [4])])).toThrow("input 0 is i32[4], expected f32[4]");
  });
  it("rejects an input whose data does not fill its shape", () => {
    const bad: HostArray = { dtype: "f32", shape: [4], data: new Float32Array(3) };
    expect(() => evalGraph(chain(), [bad])).toThrow("holds 3 elements, its shape needs 4");
  });
  it("does not mutate its inputs", () => {
    const input = f32([4], [0, 1, 2, 3]);
    evalGraph(chain(), [input]);
    expect(values(input)).toEqual([0, 1, 2, 3]);
  });
});

describe("interp: evalRules", () => {
  it("has a rule for every registered primitive", () => {
    for (const p of allPrimitives()) expect(typeof evalRules[p], p).toBe("function");
  });
  it("applies the primitive's shape rule, so bad operands raise a ShapeError", () => {
    expect(() => evalRules.add([f32([2], [1, 2]), f32([3], [1, 2, 3])], none)).toThrow(ShapeError);
  });
  it("every primitive is exercised by an interp test", () => {
    const here = dirname(fileURLToPath(import.meta.url));
    const tested = new Set<string>();
    for (const f of readdirSync(here).filter((n) => /^interp.*\.test\.ts$/.test(n)))
      for (const m of readFileSync(`${here}/${f}`, "utf8").matchAll(/\bev(?:All)?\("(\w+)"/g)) tested.add(m[1]!);
    const untested = allPrimitives().filter((p: Primitive) => !tested.has(p));
    expect(untested).toEqual([]);
  });
});

describe("interp: jit", () => {
  it("evaluates its callee graph", () => {
    expect(values(ev("jit", [f32([4], [0, 0, 0, 0])], { callee: chain() }))).toEqual(Array(4).fill(CHAIN_AT_0));
  });
  it("nests: jit of a graph that calls jit", () => {
    const b = new GraphBuilder("outer");
    const x = b.input(F4, "x");
    const [y] = b.add("jit", [x], { callee: chain() });
    const g = b.build(b.add("neg", [y!], none));
    expect(values(ev("jit", [f32([4], [0, 0, 0, 0])], { callee: g }))).toEqual(Array(4).fill(-CHAIN_AT_0));
  });
});

describe("interp: fusion", () => {
  it("evaluates its body, as the unfused graph would", () => {
    const out = ev("fusion", [f32([4], [0, 0, 0, 0])], { body: chain("fused"), kind: "elementwise", reason: "end of graph" });
    expect(values(out)).toEqual(Array(4).fill(CHAIN_AT_0));
  });
  it("holds only its outputs, since its body materialises no intermediate", () => {
    const b = new GraphBuilder("call");
    const [y] = b.add("fusion", [b.input(F4, "x")], { body: chain("fused"), kind: "elementwise", reason: "end of graph" });
    expect(peakBytes(b.build([y!]))).toBe(16);
  });
});

describe("interp: peakBytes by liveness", () => {
  it("a chain holds at most two intermediates at once", () => {
    expect(peakBytes(chain())).toBe(32);
  });
  it("a value stays live until its last use", () => {
    const b = new GraphBuilder("fan");
    const x = b.input(F4, "x");
    const [a] = b.add("exp", [x], none);
    const [c] = b.add("exp", [a!], none);
    const [d] = b.add("exp", [c!], none);
    const g = b.build(b.add("add", [a!, d!], none));
    expect(peakBytes(g)).toBe(48);
  });
  it("a jit node holds its callee's peak while it runs", () => {
    const b = new GraphBuilder("call");
    const [y] = b.add("jit", [b.input(F4, "x")], { callee: chain() });
    expect(peakBytes(b.build([y!]))).toBe(32);
  });
  it("an output that is an input counts, since run copies it", () => {
    const b = new GraphBuilder("id");
    const x = b.input(F4, "x");
    expect(peakBytes(b.build([x, x]))).toBe(32);
  });
});

describe("interp: the Backend", () => {
  const be = interpBackend;
  const stats = () => be.memoryStats();

  it("upload copies the host data", async () => {
    const a = f32([2], [1, 2]);
    const buf = be.upload(a);
    a.data[0] = 9;
    expect(values(await be.read(buf))).toEqual([1, 2]);
    be.free(buf);
  });
  it("read resolves a copy", async () => {
    const buf = be.upload(f32([2], [1, 2]));
    (await be.read(buf)).data[0] = 9;
    const back = await be.read(buf);
    expect([back.dtype, back.shape, values(back)]).toEqual(["f32", [2], [1, 2]]);
    be.free(buf);
  });
  it("memoryStats counts live buffers and their bytes", () => {
    const before = stats();
    const buf = be.upload(f32([4], [1, 2, 3, 4]));
    expect(be.memoryStats(before)).toMatchObject({ liveBuffers: 1, liveBytes: 16 });
    be.free(buf);
    expect(be.memoryStats(before)).toMatchObject({ liveBuffers: 0, liveBytes: 0 });
  });
  it("compile gives an executable whose run evaluates the graph and reports its peak", async () => {
    const exe = be.compile(chain());
    expect(exe.kernels).toEqual([]);
    expect(exe.peakBytes).toBe(32);
    const x = be.upload(f32([4], [0, 0, 0, 0]));
    const [y] = exe.run([x]);
    expect(values(await be.read(y!))).toEqual(Array(4).fill(CHAIN_AT_0));
    be.free(x);
    be.free(y!);
  });
  it("run leaves only its outputs live, and freeing them leaks nothing", () => {
    const before = stats();
    const x = be.upload(f32([4], [0, 1, 2, 3]));
    const outs = be.compile(chain()).run([x]);
    expect(be.memoryStats(before)).toMatchObject({ liveBuffers: 2, liveBytes: 32 });
    for (const b of [x, ...outs]) be.free(b);
    expect(be.memoryStats(before)).toMatchObject({ liveBuffers: 0, liveBytes: 0 });
  });
  it("run gives a fresh buffer for an output that is an input or repeats another output", async () => {
    const b = new GraphBuilder("id");
    const x = b.input(F4, "x");
    const [n] = b.add("neg", [x], none);
    const xs = be.upload(f32([4], [1, 2, 3, 4]));
    const outs = be.compile(b.build([x, n!, n!])).run([xs]);
    expect(new Set([xs, ...outs]).size).toBe(4);
    for (const o of outs) be.free(o);
    expect(values(await be.read(xs))).toEqual([1, 2, 3, 4]);
    be.free(xs);
  });
  it("refuses a freed buffer and a second free", async () => {
    const buf = be.upload(f32([1], [1]));
    be.free(buf);
    await expect(be.read(buf)).rejects.toThrow("already freed");
    expect(() => be.free(buf)).toThrow("already freed");
  });
  it("refuses a buffer of another backend", () => {
    const foreign = { backend: "webgpu", dtype: "f32", shape: [4] } as DeviceBuffer;
    expect(() => be.compile(chain()).run([foreign])).toThrow("got a webgpu buffer");
  });
  it("compile verifies the graph", () => {
    const stray = new Value(F4);
    const b = new GraphBuilder("bad");
    b.input(F4, "x");
    expect(() => be.compile(b.build([stray]))).toThrow(VerifyError);
  });
  it("synchronize resolves", async () => {
    await expect(be.synchronize()).resolves.toBeUndefined();
  });
});
