/**
 * np contractions: matmul (numpy semantics, batch broadcasting), dot, and einsum,
 * all lowered to `dot_general` without materialising transposes where the
 * contraction dims can be named instead.
 */
import type { Tensor, TensorLike } from "./core.js";
import * as lax from "./lax.js";
import { asTensor, broadcastShapes, broadcastTo, resultType, shapeError } from "./np-broadcast.js";
import { multiply } from "./np-math.js";

const fmt = (s: readonly number[]) => `[${s.join(",")}]`;
const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);

function operands(op: string, x: TensorLike, y: TensorLike): [Tensor, Tensor] {
  const dt = resultType(x, y);
  const a = asTensor(x, dt, op), b = asTensor(y, dt, op);
  if (dt === "bool") throw shapeError(op, `is not defined on bool operands (cast first)`, [a, b]);
  return [a, b];
}

/**
 * numpy.matmul. 1-D operands are vectors (their added axis is dropped again);
 * leading axes are batch axes, broadcast together. A 2-D right operand contracts
 * directly against the left one's last axis, the common x·W case, with no batch.
 */
export function matmul(x: TensorLike, y: TensorLike): Tensor {
  const [a, b] = operands("matmul", x, y);
  if (a.ndim === 0 || b.ndim === 0) throw shapeError("matmul", `operands must be at least 1-D (use multiply for scalars)`, [a, b]);
  const ka = a.shape[a.ndim - 1]!;
  const kbAxis = b.ndim === 1 ? 0 : b.ndim - 2;
  const kb = b.shape[kbAxis]!;
  if (ka !== kb)
    throw shapeError("matmul", `contracting dimensions differ: ${fmt(a.shape)} has ${ka} on its last axis, ${fmt(b.shape)} has ${kb} on axis ${kbAxis}`, [a, b]);
  if (a.ndim === 1 || b.ndim <= 2)
    return lax.dotGeneral(a, b, { lhsContract: [a.ndim - 1], rhsContract: [kbAxis] });
  const batchA = a.shape.slice(0, -2), batchB = b.shape.slice(0, -2);
  let batch: number[];
  try {
    batch = broadcastShapes("matmul", [{ shape: batchA, dtype: a.dtype }, { shape: batchB, dtype: b.dtype }]);
  } catch {
    throw shapeError("matmul", `batch dimensions ${fmt(batchA)} of ${fmt(a.shape)} and ${fmt(batchB)} of ${fmt(b.shape)} cannot be broadcast together`, [a, b]);
  }
  const nb = batch.length;
  const lhs = broadcastTo(a, [...batch, ...a.shape.slice(-2)], "matmul");
  const rhs = broadcastTo(b, [...batch, ...b.shape.slice(-2)], "matmul");
  return lax.dotGeneral(lhs, rhs, { lhsBatch: range(nb), rhsBatch: range(nb), lhsContract: [nb + 1], rhsContract: [nb] });
}

/**
 * numpy.dot: a sum product over the last axis of `x` and the second-to-last of `y`
 * (the only axis of a 1-D `y`); no batch axes, unlike matmul. Scalars multiply.
 */
export function dot(x: TensorLike, y: TensorLike): Tensor {
  const [a, b] = operands("dot", x, y);
  if (a.ndim === 0 || b.ndim === 0) return multiply(a, b);
  const kbAxis = b.ndim === 1 ? 0 : b.ndim - 2;
  if (a.shape[a.ndim - 1] !== b.shape[kbAxis])
    throw shapeError("dot", `shapes ${fmt(a.shape)} and ${fmt(b.shape)} not aligned: ${a.shape[a.ndim - 1]} (axis ${a.ndim - 1}) != ${b.shape[kbAxis]} (axis ${kbAxis})`, [a, b]);
  return lax.dotGeneral(a, b, { lhsContract: [a.ndim - 1], rhsContract: [kbAxis] });
}

/** The outer product of two vectors (flattened first, as numpy.outer does). */
export function outer(x: TensorLike, y: TensorLike): Tensor {
  const [a, b] = operands("outer", x, y);
  return lax.dotGeneral(lax.reshape(a, [a.size, 1]), lax.reshape(b, [1, b.size]), { lhsContract: [1], rhsContract: [0] });
}

interface Term {
  t: Tensor;
  letters: string[];
}

/** Sums away the axes of `term` whose letters are not in `keep`. */
function reduceAway(term: Term, keep: ReadonlySet<string>): Term {
  const axes = term.letters.flatMap((l, i) => (keep.has(l) ? [] : [i]));
  if (!axes.length) return term;
  return { t: lax.reduceSum(term.t, axes), letters: term.letters.filter((l) => keep.has(l)) };
}

/** One dot_general: shared letters in `keep` are batch axes, other shared letters contract. */
function contractPair(a: Term, b: Term, keep: ReadonlySet<string>): Term {
  a = reduceAway(a, new Set([...keep, ...b.letters]));
  b = reduceAway(b, new Set([...keep, ...a.letters]));
  const shared = a.letters.filter((l) => b.letters.includes(l));
  const batch = shared.filter((l) => keep.has(l)), contract = shared.filter((l) => !keep.has(l));
  const t = lax.dotGeneral(a.t, b.t, {
    lhsBatch: batch.map((l) => a.letters.indexOf(l)),
    rhsBatch: batch.map((l) => b.letters.indexOf(l)),
    lhsContract: contract.map((l) => a.letters.indexOf(l)),
    rhsContract: contract.map((l) => b.letters.indexOf(l)),
  });
  const free = (x: Term) => x.letters.filter((l) => !shared.includes(l));
  return { t, letters: [...batch, ...free(a), ...free(b)] };
}

/**
 * numpy.einsum for explicit (`"ij,jk->ik"`) and implicit (`"ij,jk"`) subscripts
 * over letters, without ellipses or repeated letters within one operand. Operands
 * are contracted left to right, one dot_general per pair, then transposed to the
 * output order.
 */
export function einsum(subscripts: string, ...xs: TensorLike[]): Tensor {
  const spec = subscripts.replace(/\s+/g, "");
  const m = /^([a-zA-Z,]*)(?:->([a-zA-Z]*))?$/.exec(spec);
  const inputs = m ? m[1]!.split(",") : [];
  const dt = resultType(...xs);
  const ts = xs.map((x) => asTensor(x, dt, "einsum"));
  if (!m || inputs.length !== xs.length)
    throw shapeError("einsum", `subscripts '${subscripts}' must be letters for each of the ${xs.length} operand(s), optionally followed by '->' and output letters (no ellipsis)`, ts);
  const sizes = new Map<string, number>();
  const counts = new Map<string, number>();
  inputs.forEach((letters, i) => {
    const t = ts[i]!;
    if (letters.length !== t.ndim) throw shapeError("einsum", `operand ${i} has rank ${t.ndim} but subscripts '${letters}'`, ts);
    if (new Set(letters).size !== letters.length) throw shapeError("einsum", `repeated subscript in '${letters}' (diagonals are not supported)`, ts);
    [...letters].forEach((l, j) => {
      const d = t.shape[j]!;
      if (sizes.has(l) && sizes.get(l) !== d)
        throw shapeError("einsum", `subscript '${l}' has size ${sizes.get(l)} and ${d} in ${ts.map((u) => fmt(u.shape)).join(", ")}`, ts);
      sizes.set(l, d);
      counts.set(l, (counts.get(l) ?? 0) + 1);
    });
  });
  const output = m[2] !== undefined ? [...m[2]] : [...counts.keys()].filter((l) => counts.get(l) === 1).sort();
  for (const l of output)
    if (!sizes.has(l) || output.indexOf(l) !== output.lastIndexOf(l))
      throw shapeError("einsum", `output subscript '${l}' must appear once in the output and in some operand`, ts);
  const terms: Term[] = ts.map((t, i) => ({ t, letters: [...inputs[i]!] }));
  let acc = terms[0]!;
  for (let i = 1; i < terms.length; i++) {
    const later = terms.slice(i + 1).flatMap((u) => u.letters);
    acc = contractPair(acc, terms[i]!, new Set([...output, ...later]));
  }
  acc = reduceAway(acc, new Set(output));
  return lax.transpose(acc.t, output.map((l) => acc.letters.indexOf(l)));
}
