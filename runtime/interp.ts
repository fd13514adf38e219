/**
 * The reference interpreter: evaluates a graph op by op on host arrays, with
 * float64 accumulation. It is the oracle every other backend is tested against,
 * and the backend used when no device is available; it is not a fast path.
 *
 * Evaluation is one table, `evalRules`, with one entry per primitive (autodidax's
 * `impl_rules`); its type makes a missing entry a compile error. The rules live in
 * runtime/interp/ by idea: elementwise, layout, reduce, contract.
 */
import { type HostArray, type HostData, deviceBytes, formatType, sameShape, sizeOf } from "../ir/dtype.js";
import { ShapeError } from "../ir/errors.js";
import { type Graph, type Node, type Value, graphsInCallOrder, verify } from "../ir/graph.js";
import { COMPOSITE_OPS, type CompositeOp, type Primitive, compositeBody } from "../ir/primitives.js";
import type { Backend, CompileOptions, DeviceBuffer, Executable, MemoryStats } from "./backend.js";
import { debugLog } from "./debug.js";
import { contractRules } from "./interp/contract.js";
import { elementwiseRules } from "./interp/elementwise.js";
import type { EvalRule, EvalRules } from "./interp/host.js";
import { layoutRules } from "./interp/layout.js";
import { reduceRules } from "./interp/reduce.js";

export type { EvalRule } from "./interp/host.js";
export { erf } from "../ir/erf.js";

function evalBody<P extends CompositeOp>(prim: P): EvalRule<P> {
  return (inputs, params) => evalGraph(compositeBody(prim, params), inputs);
}

export const evalRules: EvalRules<Primitive> = {
  ...elementwiseRules,
  ...layoutRules,
  ...reduceRules,
  ...contractRules,
  // A composite node (a jit call, a fusion, ...; ir/primitives.ts) means what its body computes.
  ...(Object.fromEntries(COMPOSITE_OPS.map((op) => [op, evalBody(op)])) as EvalRules<CompositeOp>),
};

/** For each value, the index of the last node that reads it (graph outputs: never released). */
function lastUses(g: Graph): Map<Value, number> {
  const last = new Map<Value, number>();
  g.nodes.forEach((n, i) => {
    for (const v of n.inputs) last.set(v, i);
    for (const v of n.outputs) last.set(v, i);
  });
  for (const v of g.outputs) last.set(v, Infinity);
  return last;
}

function checkInputs(g: Graph, inputs: readonly HostArray[]): void {
  const where = `@${g.name}`;
  if (inputs.length !== g.inputs.length)
    throw new ShapeError(where, `takes ${g.inputs.length} input(s), got ${inputs.length}`, inputs.map(formatType));
  g.inputs.forEach((v, i) => {
    const a = inputs[i]!;
    if (a.dtype !== v.type.dtype || !sameShape(a.shape, v.type.shape))
      throw new ShapeError(where, `input ${i} is ${formatType(a)}, expected ${formatType(v.type)}`, inputs.map(formatType));
    if (a.data.length !== sizeOf(a.shape))
      throw new ShapeError(where, `input ${i} (${formatType(a)}) holds ${a.data.length} elements, its shape needs ${sizeOf(a.shape)}`);
  });
}

function evalNode(n: Node, args: HostArray[]): HostArray[] {
  const rule = evalRules[n.prim] as EvalRule<Primitive> | undefined;
  if (!rule) throw new Error(`interp: no evaluation rule for primitive '${n.prim}'`);
  let outs: HostArray[];
  try {
    outs = rule(args, n.params);
  } catch (e) {
    throw e instanceof ShapeError ? e.withFrame(n.loc) : e;
  }
  if (outs.length !== n.outputs.length || outs.some((o, j) => formatType(o) !== formatType(n.outputs[j]!.type)))
    throw new Error(
      `interp: rule for '${n.prim}' returned (${outs.map(formatType).join(", ")}), ` +
        `the node is typed (${n.outputs.map((v) => formatType(v.type)).join(", ")})`,
    );
  return outs;
}

/**
 * Evaluates `g` on host arrays. Checks the inputs against the graph's signature,
 * and drops each intermediate after its last use. Inputs are never mutated; an
 * output may be an input array itself when the graph returns an input.
 */
export function evalGraph(g: Graph, inputs: readonly HostArray[]): HostArray[] {
  checkInputs(g, inputs);
  const env = new Map<Value, HostArray>();
  g.inputs.forEach((v, i) => env.set(v, inputs[i]!));
  const last = lastUses(g);
  g.nodes.forEach((n, i) => {
    const outs = evalNode(n, n.inputs.map((v) => env.get(v)!));
    n.outputs.forEach((v, j) => env.set(v, outs[j]!));
    for (const v of [...n.inputs, ...n.outputs]) if (last.get(v) === i) env.delete(v);
  });
  return g.outputs.map((v) => env.get(v)!);
}

const bytesOf = (v: Value) => deviceBytes(v.type.dtype) * sizeOf(v.type.shape);

/**
 * Peak bytes of intermediates and outputs while evaluating `g` in node order,
 * each value allocated when its node runs and released after its last use (inputs
 * excluded). A jit node holds its callee's peak while it runs; a fusion node only
 * its outputs, since its body runs as one kernel that materialises no intermediate.
 * Outputs that are graph inputs, or that repeat a value, count once more: `run`
 * copies them.
 */
export function peakBytes(g: Graph): number {
  // Callees first, so each jit node finds its callee's peak: no recursion per nesting level.
  const peaks = new Map<Graph, number>();
  for (const h of graphsInCallOrder(g)) peaks.set(h, peakOfOne(h, peaks));
  return peaks.get(g)!;
}

function peakOfOne(g: Graph, calleePeaks: ReadonlyMap<Graph, number>): number {
  const last = lastUses(g);
  const inputs = new Set(g.inputs);
  let live = 0, peak = 0;
  g.nodes.forEach((n, i) => {
    const made = n.outputs.reduce((s, v) => s + bytesOf(v), 0);
    const running = n.prim === "jit" ? Math.max(made, calleePeaks.get((n as Node<"jit">).params.callee)!) : made;
    peak = Math.max(peak, live + running);
    live += made;
    for (const v of new Set([...n.inputs, ...n.outputs])) if (last.get(v) === i && !inputs.has(v)) live -= bytesOf(v);
  });
  const seen = new Set<Value>();
  for (const v of g.outputs) {
    if (inputs.has(v) || seen.has(v)) live += bytesOf(v);
    seen.add(v);
  }
  return Math.max(peak, live);
}

// ---------------------------------------------------------------------------
// the Backend

class InterpBuffer implements DeviceBuffer {
  readonly backend = "interp" as const;
  freed = false;
  constructor(readonly host: HostArray) {}
  get dtype() {
    return this.host.dtype;
  }
  get shape() {
    return this.host.shape;
  }
  get bytes() {
    return deviceBytes(this.host.dtype) * this.host.data.length;
  }
}

const live = new Set<InterpBuffer>();

function own(a: HostArray): InterpBuffer {
  const b = new InterpBuffer(a);
  live.add(b);
  return b;
}

function copyOf(a: HostArray): HostArray {
  return { dtype: a.dtype, shape: [...a.shape], data: a.data.slice() as HostData };
}

function unwrap(b: DeviceBuffer, what: string): InterpBuffer {
  if (!(b instanceof InterpBuffer))
    throw new Error(`interp: ${what} got a ${b.backend} buffer (${formatType(b)}); move it to the interp backend first`);
  if (b.freed) throw new Error(`interp: ${what} got a buffer (${formatType(b)}) that was already freed`);
  return b;
}

class InterpExecutable implements Executable {
  readonly kernels = [];
  readonly peakBytes: number;
  constructor(readonly graph: Graph) {
    this.peakBytes = peakBytes(graph);
  }

  run(inputs: readonly DeviceBuffer[]): DeviceBuffer[] {
    const hosts = inputs.map((b, i) => unwrap(b, `@${this.graph.name} input ${i}`).host);
    const held = new Set<HostData>(hosts.map((h) => h.data));
    return evalGraph(this.graph, hosts).map((out) => {
      // The caller owns every output buffer: one that aliases an input or another output is copied.
      const fresh = held.has(out.data) ? copyOf(out) : out;
      held.add(fresh.data);
      return own(fresh);
    });
  }
}

export const interpBackend: Backend = {
  name: "interp",
  upload: (a) => own(copyOf(a)),
  read: async (b) => copyOf(unwrap(b, "read").host),
  free(b) {
    const buf = unwrap(b, "free");
    buf.freed = true;
    live.delete(buf);
  },
  compile(graph: Graph, _options?: CompileOptions): Executable {
    verify(graph);
    const exe = new InterpExecutable(graph);
    debugLog(1, `interp: compiled @${graph.name}: ${graph.nodes.length} nodes, peak ${exe.peakBytes} bytes`);
    return exe;
  },
  memoryStats(): MemoryStats {
    let liveBytes = 0;
    for (const b of live) liveBytes += b.bytes;
    return { liveBuffers: live.size, liveBytes };
  },
  synchronize: async () => {},
};
