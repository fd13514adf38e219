/**
 * Graph building: the trace that records primitives into an ir.Graph instead of
 * running them (autodidax's make_jaxpr). jit pushes it as the dynamic trace, so
 * constants created inside the traced function are staged too.
 */
import { type AbstractValue, formatType } from "../ir/dtype.js";
import { Graph, GraphBuilder, Value } from "../ir/graph.js";
import type { Primitive, PrimitiveParams } from "../ir/primitives.js";
import { ConcreteTensor, MainTrace, Tensor, Trace, Tracer, TracerError, bind, withMainTrace } from "./core.js";

/** Constants at most this many elements, known on the host, are written into the graph. */
const INLINE_CONSTANT_LIMIT = 16;

interface StagingState {
  builder: GraphBuilder;
  /** Values from outside the traced function, captured as extra graph inputs. */
  captured: Map<Tensor, Value>;
  capturedOrder: Tensor[];
}

export class GraphTracer extends Tracer {
  constructor(
    trace: Trace,
    readonly aval: AbstractValue,
    readonly value: Value,
  ) {
    super(trace);
  }
  override toString(): string {
    return `Traced<${formatType(this.aval)}>`;
  }
}

class GraphTrace extends Trace {
  private get state(): StagingState {
    return this.main.globalData as StagingState;
  }
  pure(x: Tensor): Tensor {
    const st = this.state;
    const known = st.captured.get(x);
    if (known) return new GraphTracer(this, x.aval, known);
    if (x instanceof ConcreteTensor && x.host && x.size <= INLINE_CONSTANT_LIMIT) {
      const [v] = st.builder.add("constant", [], {
        value: Array.from(x.host, Number),
        shape: [...x.shape],
        dtype: x.dtype,
      });
      return new GraphTracer(this, x.aval, v!);
    }
    const v = st.builder.input(x.aval, `c${st.capturedOrder.length}`);
    st.captured.set(x, v);
    st.capturedOrder.push(x);
    return new GraphTracer(this, x.aval, v);
  }
  processPrimitive<P extends Primitive>(prim: P, tracers: Tensor[], params: PrimitiveParams[P]): Tensor[] {
    const values = tracers.map((t) => (t as GraphTracer).value);
    const outs = this.state.builder.add(prim, values, params);
    return outs.map((v) => new GraphTracer(this, v.type, v));
  }
}

export interface StagedGraph {
  graph: Graph;
  /** Captured outside values, appended after the declared inputs. */
  consts: Tensor[];
}

/**
 * Traces `fn` on abstract inputs into a graph. `fn` receives tracers and returns
 * a flat list of tensors (callers flatten pytrees around it).
 */
export function stageGraph(
  name: string,
  inAvals: readonly AbstractValue[],
  fn: (args: Tensor[]) => Tensor[],
  hints: readonly (string | undefined)[] = [],
): StagedGraph {
  const state: StagingState = { builder: new GraphBuilder(name), captured: new Map(), capturedOrder: [] };
  return withMainTrace(
    GraphTrace,
    state,
    (main: MainTrace) => {
      const trace = new GraphTrace(main);
      const args = inAvals.map((a, i) => new GraphTracer(trace, a, state.builder.input(a, hints[i])));
      const outs = fn(args).map((o) => {
        if (o.trace.main === main) return o as GraphTracer;
        if (o.trace.main.level > main.level)
          throw new TracerError(`a traced ${formatType(o.aval)} from an inner transformation escaped into @${name}'s result`);
        return trace.pure(o) as GraphTracer;
      });
      return { graph: state.builder.build(outs.map((o) => o.value)), consts: state.capturedOrder };
    },
    true,
  );
}

/** Runs a graph's nodes through `bind`, so whatever trace is current interprets them. */
export function evalGraphWithBind(g: Graph, inputs: readonly Tensor[]): Tensor[] {
  const env = new Map<Value, Tensor>();
  g.inputs.forEach((v, i) => env.set(v, inputs[i]!));
  for (const n of g.nodes) {
    const outs = bind(n.prim, n.inputs.map((v) => env.get(v)!), n.params);
    n.outputs.forEach((v, i) => env.set(v, outs[i]!));
  }
  return g.outputs.map((v) => env.get(v)!);
}
