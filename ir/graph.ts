/**
 * SSA graphs. A `Graph` has typed inputs, topologically ordered nodes (each may
 * define several values, e.g. top_k), and outputs. Sub-graphs (a `jit` callee, a
 * fusion body) are referenced from a node's attributes and print as separate
 * functions of one module.
 */
import { type AbstractValue, formatType } from "./dtype.js";
import { ShapeError, VerifyError } from "./errors.js";
import { type Primitive, type PrimitiveParams, inferTypes, isPrimitive, primitiveDef } from "./primitives.js";

let nextValueId = 0;

export class Value {
  readonly id = nextValueId++;
  constructor(
    readonly type: AbstractValue,
    /** A name hint for printing (graph inputs); SSA identity is the object. */
    readonly hint?: string,
  ) {}
  get dtype() {
    return this.type.dtype;
  }
  get shape() {
    return this.type.shape;
  }
}

export interface Node<P extends Primitive = Primitive> {
  readonly prim: P;
  readonly inputs: readonly Value[];
  readonly params: PrimitiveParams[P];
  readonly outputs: readonly Value[];
  /** Where the user's code created this node (file:line), when the tracer knows. */
  readonly loc?: string;
}

export class Graph {
  constructor(
    readonly name: string,
    readonly inputs: readonly Value[],
    readonly nodes: readonly Node[],
    readonly outputs: readonly Value[],
  ) {}

  /** Sub-graphs referenced directly by this graph's nodes. */
  callees(): Graph[] {
    const out: Graph[] = [];
    for (const n of this.nodes) {
      // An unknown primitive or a missing attribute is for `verify` to report, not to crash on.
      if (!isPrimitive(n.prim)) continue;
      const def = primitiveDef(n.prim);
      for (const [k, kind] of Object.entries(def.params)) {
        const callee = (n.params as Record<string, unknown>)[k];
        if (kind === "graph" && callee instanceof Graph) out.push(callee);
      }
    }
    return out;
  }
}

/** Builds a graph node by node, running each primitive's shape rule as it goes. */
export class GraphBuilder {
  private readonly nodes: Node[] = [];
  private readonly inputs: Value[] = [];
  constructor(readonly name: string) {}

  input(type: AbstractValue, hint?: string): Value {
    const v = new Value({ dtype: type.dtype, shape: [...type.shape] }, hint);
    this.inputs.push(v);
    return v;
  }

  add<P extends Primitive>(prim: P, inputs: readonly Value[], params: PrimitiveParams[P], loc?: string): Value[] {
    const types = inferTypes(prim, inputs.map((v) => v.type), params);
    const outputs = types.map((t) => new Value(t));
    this.nodes.push(loc === undefined ? { prim, inputs, params, outputs } : { prim, inputs, params, outputs, loc });
    return outputs;
  }

  /** Re-adds `n` (same primitive and attributes) on new operands; passes copy nodes this way. */
  copy(n: Node, inputs: readonly Value[]): Value[] {
    return this.add(n.prim, inputs, n.params as PrimitiveParams[Primitive] as never, n.loc);
  }

  /** Append a node whose outputs already exist (used when copying graphs). */
  push(node: Node): void {
    this.nodes.push(node);
  }

  build(outputs: readonly Value[]): Graph {
    return new Graph(this.name, this.inputs, this.nodes, outputs);
  }
}

function describe(n: Node, index: number): string {
  return `node ${index} (${n.prim})`;
}

/**
 * Every graph reachable from `g` through sub-graph attributes, callees before their
 * callers (post-order), each once. Iterative: a module may nest calls thousands deep.
 */
export function graphsInCallOrder(g: Graph): Graph[] {
  const order: Graph[] = [];
  const seen = new Set<Graph>([g]);
  const stack: { graph: Graph; callees: Graph[] }[] = [{ graph: g, callees: g.callees().reverse() }];
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const next = top.callees.pop();
    if (next === undefined) {
      order.push(top.graph);
      stack.pop();
    } else if (!seen.has(next)) {
      seen.add(next);
      stack.push({ graph: next, callees: next.callees().reverse() });
    }
  }
  return order;
}

/**
 * Checks SSA (each value defined once, before use), that every node's output types
 * are what its primitive's rule says, and every sub-graph (callees first, so a caller's
 * rule reads checked callees).
 */
export function verify(g: Graph, seen = new Set<Graph>()): void {
  for (const h of graphsInCallOrder(g)) {
    if (seen.has(h)) continue;
    seen.add(h);
    verifyOne(h);
  }
}

/** Checks one graph, not its sub-graphs. */
function verifyOne(g: Graph): void {
  const defined = new Set<Value>();
  for (const v of g.inputs) {
    if (defined.has(v)) throw new VerifyError(`@${g.name} input`, `value %${v.hint ?? v.id} is an input twice`);
    defined.add(v);
  }
  g.nodes.forEach((n, i) => {
    const where = `@${g.name} ${describe(n, i)}`;
    if (!isPrimitive(n.prim)) throw new VerifyError(where, `unknown primitive '${n.prim}'`);
    n.inputs.forEach((v, j) => {
      if (!defined.has(v)) throw new VerifyError(where, `operand ${j} is used before it is defined`);
    });
    // Attributes before the rule: a rule reads its attributes and would crash on a missing one.
    const def = primitiveDef(n.prim);
    for (const [k, kind] of Object.entries(def.params)) {
      if (!(k in (n.params as object))) throw new VerifyError(where, `attribute '${k}' is missing`);
    }
    let want: AbstractValue[];
    try {
      want = inferTypes(n.prim, n.inputs.map((v) => v.type), n.params);
    } catch (e) {
      if (e instanceof ShapeError) throw new VerifyError(where, `shape rule rejects it: ${e.detail}`);
      throw e;
    }
    if (want.length !== n.outputs.length)
      throw new VerifyError(where, `defines ${n.outputs.length} value(s), its rule gives ${want.length}`);
    n.outputs.forEach((v, j) => {
      if (defined.has(v)) throw new VerifyError(where, `output ${j} redefines a value`);
      const w = want[j]!;
      if (formatType(w) !== formatType(v.type))
        throw new VerifyError(where, `output ${j} is typed ${formatType(v.type)}, its rule gives ${formatType(w)}`);
      defined.add(v);
    });
  });
  g.outputs.forEach((v, j) => {
    if (!defined.has(v)) throw new VerifyError(`@${g.name} return`, `result ${j} is not defined`);
  });
}
