/**
 * Reverse mode: vjp, grad, valueAndGrad. Instead of autodidax's partial
 * evaluation, vjp stages the JVP of `f` into one graph (inputs: primals, then
 * tangents, then captured values) with `stageGraph`. Nodes that depend on the
 * tangent inputs are linear (frontend/transpose.ts); the others are the primal
 * computation. The primal nodes run now, through bind; the vjp function later
 * runs the linear nodes' transposes, also through bind, so that outer
 * transformations apply their rules to both (JAX's "linearize + transpose").
 */
import { formatType, isFloat } from "../ir/dtype.js";
import type { Value } from "../ir/graph.js";
import { ArgumentError, checkNotAsync, describe } from "./arguments.js";
import { type Tensor, TracerError } from "./core.js";
import { full } from "./creation.js";
import { jvpFlat, flattenTensors } from "./jvp.js";
import * as lax from "./lax.js";
import { backwardPass, evalNonlinear, linearValues, zerosOf } from "./transpose.js";
import { stageGraph } from "./staging.js";
import { type TreeDef, unflatten } from "./tree.js";

/** Maps cotangents of the outputs (null: zero) to cotangents of the inputs (null: zero). */
export type Pullback = (cts: readonly (Tensor | null)[]) => (Tensor | null)[];

/**
 * Linearizes `fn` at `primals` (flat lists): returns the outputs and the
 * pullback. Only floating-point inputs get tangents; the others' cotangents are null.
 */
export function vjpFlat(
  fn: (xs: Tensor[]) => Tensor[],
  primals: readonly Tensor[],
  /** Which outputs to compute now (default all); grad needs none of them, only what the pullback reads. */
  wantOutputs?: (i: number) => boolean,
): [(Tensor | null)[], Pullback] {
  const n = primals.length;
  const diff = primals.map((p) => isFloat(p.dtype));
  let outNonzero: boolean[] = [];
  const staged = stageGraph(
    "vjp",
    [...primals.map((p) => p.aval), ...primals.filter((_, i) => diff[i]).map((p) => p.aval)],
    (args) => {
      let k = n;
      const tangents = diff.map((d) => (d ? args[k++]! : null));
      const [outs, touts] = jvpFlat(fn, args.slice(0, n), tangents);
      outNonzero = touts.map((t) => t !== null);
      return [...outs, ...touts.filter((t): t is Tensor => t !== null)];
    },
  );
  const g = staged.graph;
  const m = diff.filter(Boolean).length;
  const tangentIns = g.inputs.slice(n, n + m);
  const env = new Map<Value, Tensor>();
  g.inputs.slice(0, n).forEach((v, i) => env.set(v, primals[i]!));
  g.inputs.slice(n + m).forEach((v, i) => env.set(v, staged.consts[i]!));
  const lin = linearValues(g, tangentIns);
  const primalOuts = g.outputs.slice(0, outNonzero.length);
  const wanted = primalOuts.filter((_, i) => wantOutputs?.(i) ?? true);
  evalNonlinear(g, lin, env, wanted);
  const outs = primalOuts.map((v) => (wanted.includes(v) ? env.get(v)! : null));
  const tangentOuts: (Value | null)[] = [];
  let k = outNonzero.length;
  for (const nz of outNonzero) tangentOuts.push(nz ? g.outputs[k++]! : null);

  const pullback: Pullback = (cts) => {
    if (cts.length !== outs.length) throw new TypeError(`vjp: expected ${outs.length} cotangent(s), got ${cts.length}`);
    const pairs: [Value, Tensor | null][] = [];
    tangentOuts.forEach((v, i) => {
      const c = cts[i] ?? null;
      const want = primalOuts[i]!.type;
      if (c && (c.dtype !== want.dtype || c.shape.join() !== want.shape.join()))
        throw new TypeError(`vjp: cotangent ${i} is ${formatType(c.aval)}, but the output is ${formatType(want)}; they must match`);
      if (v) pairs.push([v, c]);
    });
    const ctIn = backwardPass(g, lin, env, pairs);
    let j = 0;
    return diff.map((d) => (d ? (ctIn.get(tangentIns[j++]!) ?? null) : null));
  };
  return [outs, pullback];
}

/**
 * The type of a gradient (or cotangent) for an argument of type T: tensors and JS
 * numbers give tensors, pytrees keep their structure.
 */
export type GradOf<T> = T extends Tensor | number
  ? Tensor
  : T extends readonly unknown[]
    ? { -readonly [K in keyof T]: GradOf<T[K]> }
    : T extends object
      ? { -readonly [K in keyof T]: GradOf<T[K]> }
      : T;

/** The gradients `argnums` selects from arguments A: one (a number) or a tuple (a list). */
export type GradsOf<A extends readonly unknown[], N> = N extends number
  ? GradOf<A[N]>
  : N extends readonly number[]
    ? { -readonly [K in keyof N]: GradOf<A[N[K] & number]> }
    : unknown;

/**
 * jax.vjp: returns `f(...primals)` and a function from output cotangents (a
 * pytree like the output) to input cotangents (an array like `primals`).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function vjp<A extends any[], R>(f: (...args: A) => R, ...primals: A): [R, (ct: R) => GradOf<A>];
export function vjp(f: (...args: never[]) => unknown, ...primals: unknown[]): [unknown, (ct: unknown) => unknown[]] {
  checkNotAsync("vjp", f);
  const [leaves, inDef] = flattenTensors(primals);
  let outDef: TreeDef | undefined;
  const [outs, pullback] = vjpFlat((xs) => {
    const [o, def] = flattenTensors(f(...(unflatten(inDef, xs) as never[])));
    outDef = def;
    return o;
  }, leaves);
  const fn = (ct: unknown) => {
    const [cts] = flattenTensors(ct);
    const grads = pullback(cts);
    return unflatten(inDef, grads.map((g, i) => g ?? lax.zerosLike(leaves[i]!))) as unknown[];
  };
  return [unflatten(outDef!, outs as Tensor[]), fn];
}

export interface GradOptions {
  /** Which positional arguments to differentiate (default 0). An array gives an array of gradients. */
  readonly argnums?: number | readonly number[];
  /** `f` returns [value, aux]; aux is returned alongside, not differentiated. */
  readonly hasAux?: boolean;
}

/**
 * jax.value_and_grad: `f` must return a scalar f32 (or [scalar, aux] with
 * hasAux). Returns [value, grads] (or [[value, aux], grads]); grads has the
 * pytree structure of the differentiated argument(s).
 */
/* eslint-disable @typescript-eslint/no-explicit-any */
export function valueAndGrad<A extends any[], Aux, const N extends number | readonly number[] = 0>(
  f: (...args: A) => readonly [Tensor, Aux],
  options: { readonly argnums?: N; readonly hasAux: true },
): (...args: A) => [[Tensor, Aux], GradsOf<A, N>];
export function valueAndGrad<A extends any[], const N extends number | readonly number[] = 0>(
  f: (...args: A) => unknown,
  options?: { readonly argnums?: N; readonly hasAux?: false },
): (...args: A) => [Tensor, GradsOf<A, N>];
export function valueAndGrad(f: (...args: never[]) => unknown, options?: GradOptions): (...args: any[]) => [unknown, unknown];
export function valueAndGrad(f: (...args: never[]) => unknown, options: GradOptions = {}) {
  checkNotAsync("valueAndGrad", f);
  return valueAndGradWith("valueAndGrad", f, options, true);
}
/* eslint-enable @typescript-eslint/no-explicit-any */

function valueAndGradWith(name: string, f: (...args: never[]) => unknown, options: GradOptions, wantValue: boolean) {
  if (options === null || typeof options !== "object") throw new ArgumentError(name, "options", describe(options), "an object { argnums?, hasAux? }");
  const argnums = options.argnums ?? 0;
  const nums = typeof argnums === "number" ? [argnums] : [...argnums];
  return (...args: unknown[]): [unknown, unknown] => {
    for (const a of nums)
      if (!Number.isInteger(a) || a < 0 || a >= args.length)
        throw new RangeError(`grad: argnums ${a} is out of range for ${args.length} argument(s)`);
    const [leaves, diffDef] = flattenTensors(nums.map((a) => args[a]));
    leaves.forEach((l, i) => {
      // JAX: "grad requires real- or complex-valued inputs (input dtype that is a sub-dtype of np.inexact)".
      if (!isFloat(l.dtype))
        throw new ArgumentError(name, `the differentiated argument${nums.length > 1 || leaves.length > 1 ? `s (leaf ${i})` : ` ${nums[0]}`}`,
          `a tensor of type ${formatType(l.aval)}`, "floating-point (f32): grad requires real-valued inputs, as in JAX",
          "cast it with np.astype(x, \"f32\"), or leave integer inputs out of argnums");
    });
    let auxDef: TreeDef | undefined;
    let nAux = 0;
    const [outs, pullback] = vjpFlat((xs) => {
      const rebuilt = [...args];
      (unflatten(diffDef, xs) as unknown[]).forEach((v, i) => (rebuilt[nums[i]!] = v));
      const result = f(...(rebuilt as never[]));
      let value = result;
      if (options.hasAux) {
        if (!Array.isArray(result) || result.length !== 2)
          throw new TypeError(`grad with hasAux: the function must return [value, aux]`);
        value = result[0];
        const [aux, def] = flattenTensors(result[1]);
        auxDef = def;
        nAux = aux.length;
        return [checkScalar(value), ...aux];
      }
      return [checkScalar(value)];
    }, leaves, (i) => wantValue || i > 0);
    const value = outs[0]!;
    const grads = pullback([full([], 1, "f32"), ...new Array<null>(nAux).fill(null)]).map(
      (g, i) => g ?? lax.zerosLike(leaves[i]!),
    );
    const gradTree = unflatten(diffDef, grads) as unknown[];
    const out = options.hasAux ? [value, unflatten(auxDef!, outs.slice(1) as Tensor[])] : value;
    return [out, typeof argnums === "number" ? gradTree[0] : gradTree];
  };
}

/** jax.grad: the gradient of a scalar function with respect to `argnums`. */
/* eslint-disable @typescript-eslint/no-explicit-any */
export function grad<A extends any[], const N extends number | readonly number[] = 0>(
  f: (...args: A) => unknown,
  options?: { readonly argnums?: N },
): (...args: A) => GradsOf<A, N>;
export function grad(f: (...args: never[]) => unknown, options?: Omit<GradOptions, "hasAux">): (...args: any[]) => unknown;
export function grad(f: (...args: never[]) => unknown, options: Omit<GradOptions, "hasAux"> = {}) {
  checkNotAsync("grad", f);
  const vg = valueAndGradWith("grad", f, options, false);
  return (...args: unknown[]): unknown => vg(...args)[1];
}
/* eslint-enable @typescript-eslint/no-explicit-any */

function checkScalar(v: unknown): Tensor {
  const [leaves] = flattenTensors(v);
  const t = leaves[0];
  if (leaves.length !== 1 || !t || t.shape.length !== 0 || !isFloat(t.dtype))
    throw new TracerError(
      `grad needs a function returning one scalar floating-point tensor, got ${leaves.length === 1 ? formatType(t!.aval) : `${leaves.length} values`}; ` +
        `use vjp for other outputs`,
    );
  return t;
}

/**
 * jax.linear_transpose: for `f` linear in its arguments, returns the function
 * computing its transpose at the given example arguments (their values unused).
 */
export function linearTranspose(f: (...args: never[]) => unknown, ...examples: unknown[]) {
  const [leaves, inDef] = flattenTensors(examples);
  let outDef: TreeDef | undefined;
  const staged = stageGraph("linear", leaves.map((l) => l.aval), (xs) => {
    const [o, def] = flattenTensors(f(...(unflatten(inDef, xs) as never[])));
    outDef = def;
    return o;
  });
  const g = staged.graph;
  const ins = g.inputs.slice(0, leaves.length);
  return (ct: unknown): unknown[] => {
    const env = new Map<Value, Tensor>();
    g.inputs.slice(leaves.length).forEach((v, i) => env.set(v, staged.consts[i]!));
    const lin = linearValues(g, ins);
    evalNonlinear(g, lin, env, []);
    const [cts] = flattenTensors(ct);
    if (outDef === undefined || cts.length !== g.outputs.length) throw new TypeError(`linearTranspose: cotangent structure differs from the output`);
    const ctIn = backwardPass(g, lin, env, g.outputs.map((v, i) => [v, cts[i]!]));
    return unflatten(inDef, ins.map((v) => ctIn.get(v) ?? zerosOf(v.type))) as unknown[];
  };
}
