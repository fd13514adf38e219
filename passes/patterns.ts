/**
 * Patterns of the compositions frontend/nn.ts emits, written with passes/match.ts, for
 * the passes that look for them (attention finds softmax inside its scores). nn.ts's
 * doc comments give the exact primitive sequences; change both together.
 */
import type { Node } from "../ir/graph.js";
import { type Captures, type Pattern, any, capture, op, reduceAxes, same } from "./match.js";

const lastAxisOf = (name: string) => (n: Node<"reduce_max" | "reduce_sum">, c: Captures) => {
  const axes = reduceAxes(n);
  return axes.length === 1 && axes[0] === c.values.get(name)!.shape.length - 1;
};

/** Broadcasts a per-row value back over the rows of `name` (nothing of size > 1 lands on the last axis). */
const overRowsOf = (name: string) => (n: Node<"broadcast_in_dim">, c: Captures) => {
  const x = c.values.get(name)!;
  const { shape, dims } = n.params;
  const operand = n.inputs[0]!.shape;
  return shape.join() === x.shape.join() && dims.every((d, i) => d !== x.shape.length - 1 || operand[i] === 1);
};

/**
 * softmax over the last axis as `nn.softmax` writes it:
 *   div(exp(sub(x, broadcast(reduce_max(x)))), broadcast(reduce_sum(exp(...))))
 * Captures `${name}.logits` (x, which must match `logits`), `${name}.exp` and `${name}`
 * (the result); a pattern with two softmaxes names them apart. Wrap it in
 * `through(["reshape"], ...)` to accept the keepdims spelling (reshape to [..., 1]).
 */
export function softmaxPattern(logits: Pattern = any(), name = "softmax"): Pattern {
  const [x, e] = [`${name}.logits`, `${name}.exp`];
  const rowMax = op("reduce_max", [same(x)]).where("reduces the last axis", lastAxisOf(x));
  const rowSum = op("reduce_sum", [same(e)]).where("reduces the last axis", lastAxisOf(x));
  const shifted = op("sub", [capture(x, logits), op("broadcast_in_dim", [rowMax]).where("broadcasts over the rows", overRowsOf(x))]);
  return capture(name, op("div", [
    capture(e, op("exp", [shifted])),
    op("broadcast_in_dim", [rowSum]).where("broadcasts over the rows", overRowsOf(x)),
  ]));
}
