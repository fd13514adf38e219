/**
 * Shared set-up for the WebGPU suites: one backend per test file, and a one-node graph
 * run on WebGPU and on the interpreter. Without an adapter the suites skip with the
 * reason printed, unless SMELT_REQUIRE_WEBGPU is set (CI), where a missing adapter fails.
 */
import { type HostArray, formatType } from "../../ir/dtype.js";
import { type Graph, GraphBuilder, verify } from "../../ir/graph.js";
import type { Primitive, PrimitiveParams } from "../../ir/primitives.js";
import { evalGraph } from "../../runtime/interp.js";
import { WebGPUExecutable, type WebGPUBackend, createWebGPUBackend } from "../../runtime/webgpu.js";
import type { Program } from "../../codegen/program.js";

let backend: Promise<WebGPUBackend | undefined> | undefined;

/** The WebGPU backend, or undefined (with the reason printed) when there is no adapter and CI does not require one. */
export function webgpu(): Promise<WebGPUBackend | undefined> {
  return (backend ??= createWebGPUBackend().catch((e: Error) => {
    if (process.env.SMELT_REQUIRE_WEBGPU) throw new Error(`SMELT_REQUIRE_WEBGPU is set but WebGPU is unavailable: ${e.message}`);
    console.warn(`skipping WebGPU tests: ${e.message}`);
    return undefined;
  }));
}

export const gpu = await webgpu();

export function oneNode<P extends Primitive>(prim: P, inputs: readonly { dtype: HostArray["dtype"]; shape: HostArray["shape"] }[], params: PrimitiveParams[P]): Graph {
  const b = new GraphBuilder(`t_${prim}`);
  const vs = inputs.map((a) => b.input({ dtype: a.dtype, shape: a.shape }));
  const g = b.build(b.add(prim, vs, params));
  verify(g);
  return g;
}

/** Runs a lowered program on WebGPU once: uploads `xs`, reads the results back, frees everything. */
export async function runProgram(program: Program, xs: readonly HostArray[]): Promise<HostArray[]> {
  const be = gpu!;
  const exe = new WebGPUExecutable(be, program);
  const err = await exe.ready;
  if (err) throw err;
  const dev = xs.map((a) => be.upload(a));
  const outs = exe.run(dev);
  const got = await Promise.all(outs.map((o) => be.read(o)));
  for (const x of [...dev, ...outs]) be.free(x);
  return got;
}

/** Runs a graph on WebGPU (uploading and freeing everything) and on the interpreter. */
export async function runBoth(g: Graph, inputs: readonly HostArray[]): Promise<{ got: HostArray[]; want: HostArray[] }> {
  const be = gpu!;
  const exe = await be.compileAsync(g);
  const dev = inputs.map((a) => be.upload(a));
  const outs = exe.run(dev);
  const got = await Promise.all(outs.map((o) => be.read(o)));
  for (const b of [...dev, ...outs]) be.free(b);
  return { got, want: evalGraph(g, inputs) };
}

export interface Tolerance {
  readonly rtol: number;
  readonly atol: number;
}
export const EXACT: Tolerance = { rtol: 0, atol: 0 };

/** First element where `got` and `want` differ beyond tolerance (NaN matches NaN), as a message; undefined if none. */
export function mismatch(got: HostArray, want: HostArray, tol: Tolerance = EXACT): string | undefined {
  if (formatType(got) !== formatType(want)) return `type ${formatType(got)} != ${formatType(want)}`;
  for (let i = 0; i < want.data.length; i++) {
    const g = got.data[i]!, w = want.data[i]!;
    if (Number.isNaN(w) && Number.isNaN(g)) continue;
    if (g === w) continue;
    if (Math.abs(g - w) <= tol.atol + tol.rtol * Math.abs(w)) continue;
    return `element ${i} of ${formatType(want)}: got ${g}, want ${w}`;
  }
  return undefined;
}

/** Asserts WebGPU matches the interpreter on every result. */
export async function expectMatch(g: Graph, inputs: readonly HostArray[], tol: Tolerance = EXACT): Promise<void> {
  const { got, want } = await runBoth(g, inputs);
  got.forEach((x, i) => {
    const m = mismatch(x, want[i]!, tol);
    if (m) throw new Error(`${g.nodes.map((n) => n.prim).join(",")}: result ${i}: ${m}`);
  });
}
