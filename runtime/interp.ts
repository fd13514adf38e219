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
import { type Graph, type Node, type Value, verify } from "../ir/graph.js";
import { inlineCalls } from "../ir/inline.js";
import { planMemory } from "../ir/memory-plan.js";
import { COMPOSITE_OPS, type CompositeOp, type Primitive, compositeBody } from "../ir/primitives.js";
import type { Backend, CompileOptions, DeviceBuffer, Executable, MemoryStats } from "./backend.js";
import { debugLog } from "./debug.js";
import { LiveBuffers } from "./memory.js";
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
  // The memory plan's liveness: a value is dropped once its storage is dead.
  const { storage, liveRange } = planMemory(g);
  const dead = (v: Value, i: number) => (liveRange.get(storage.get(v)!)?.[1] ?? Infinity) <= i;
  g.nodes.forEach((n, i) => {
    const outs = evalNode(n, n.inputs.map((v) => env.get(v)!));
    n.outputs.forEach((v, j) => env.set(v, outs[j]!));
    for (const v of [...n.inputs, ...n.outputs]) if (dead(v, i)) env.delete(v);
  });
  return g.outputs.map((v) => env.get(v)!);
}

/**
 * Peak device bytes of a call of `g`: the memory plan's (ir/memory-plan.ts), `jit` calls
 * inlined, so what the interpreter reports is what a device backend allocates.
 */
export function peakBytes(g: Graph): number {
  return planMemory(inlineCalls(g)).peakBytes;
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

const live = new LiveBuffers<InterpBuffer>();

function own(a: HostArray): InterpBuffer {
  return live.add(new InterpBuffer(a));
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

  /** Constants stay in the graph on the host: nothing to free. */
  disposed = false;
  dispose(): void {
    this.disposed = true;
  }

  run(inputs: readonly DeviceBuffer[]): DeviceBuffer[] {
    if (this.disposed) throw new Error(`@${this.graph.name} was disposed; compile it again`);
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
  memoryStats: (since?: MemoryStats) => live.stats(undefined, since),
  synchronize: async () => {},
};
