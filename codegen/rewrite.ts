/**
 * Kernel rewrites: target quirks expressed as kernel-to-kernel transforms, applied before
 * rendering (tinygrad's "rewrites, not ifs in the printer"). Each target lists the
 * rewrites it needs; the renderers then only print.
 */
import {
  type Binding, type Expr, type Kernel,
  bin, call, f32, lit, load, mul, select, sub, u32,
} from "./kernel.js";
import { type Hoist, declaredNames, mapExpr, mapStmts, readNames, renameStmts } from "./traverse.js";

export type KernelRewrite = (k: Kernel) => Kernel;

/** Rewrites one expression node (its children already rewritten); `hoist` names a value. */
type ExprRule = (e: Expr, hoist: Hoist) => Expr | undefined;

/** A namer of fresh locals for kernel `k`: never one of its bindings, shared arrays or locals. */
function freshNames(k: Kernel): (hint: string) => string {
  const names = new Set<string>([...k.bindings.map((b) => b.name), ...k.shared.map((s) => s.name), ...declaredNames(k.body)]);
  return (hint) => {
    let n = 0;
    while (names.has(n ? `${hint}_${n}` : hint)) n++;
    const name = n ? `${hint}_${n}` : hint;
    names.add(name);
    return name;
  };
}

/** Applies `rule` bottom-up to every expression; hoisted values become `let`s before the statement using them. */
export function rewriteExprs(k: Kernel, rule: ExprRule): Kernel {
  const body = mapStmts(k.body, {
    expr: (e, hoist) => mapExpr(e, (x) => rule(x, hoist) ?? x),
    fresh: freshNames(k),
  });
  return { ...k, body };
}

/** bool arrays live in memory as 32-bit words (0 or 1): loads compare with 0, stores select. */
export const boolStorage: KernelRewrite = (k) => {
  const boolBufs = new Set(k.bindings.filter((b) => b.dtype === "bool").map((b) => b.name));
  if (boolBufs.size === 0) return k;
  const bindings: Binding[] = k.bindings.map((b) => (b.dtype === "bool" ? { ...b, dtype: "u32" } : b));
  const body = mapStmts(k.body, {
    stmt: (s) =>
      s.k === "store" && s.space === "global" && boolBufs.has(s.name) && s.value.t === "bool"
        ? { ...s, value: select(s.value, u32(1), u32(0)) }
        : s,
  });
  return rewriteExprs({ ...k, bindings, body }, (e) =>
    e.k === "load" && e.space === "global" && boolBufs.has(e.name) && e.t === "bool"
      ? bin("ne", load("u32", e.name, e.index), u32(0))
      : undefined,
  );
};

/**
 * erf by Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7):
 * erf(x) = sign(x) (1 - t (a1 + t (a2 + t (a3 + t (a4 + t a5)))) e^{-x^2}), t = 1 / (1 + p|x|).
 */
export const expandErf: KernelRewrite = (k) =>
  rewriteExprs(k, (e, hoist) => {
    if (e.k !== "call" || e.fn !== "erf") return undefined;
    const x = hoist("erf_x", e.args[0]!);
    const ax = call("abs", x);
    const t = hoist("erf_t", bin("div", f32(1), bin("add", f32(1), mul(f32(0.3275911), ax))));
    const [a1, a2, a3, a4, a5] = [0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429].map(f32) as [Expr, Expr, Expr, Expr, Expr];
    const poly = mul(t, bin("add", a1, mul(t, bin("add", a2, mul(t, bin("add", a3, mul(t, bin("add", a4, mul(t, a5)))))))));
    const y = sub(f32(1), mul(poly, call("exp", mul(bin("sub", f32(0), x), x))));
    return mul(call("sign", x), y);
  });

/**
 * expm1 without the cancellation of exp(x) − 1 near 0: a degree-8 Taylor polynomial for
 * |x| < 0.5 (truncation below 1e-8 relative), exp(x) − 1 beyond (where the cancellation
 * costs at most a factor e^0.5 / (e^0.5 − 1) ≈ 2.5 of exp's error). Kahan's
 * (u − 1)·x / log(u) is not used: WGSL only bounds log's absolute error near 1.
 */
export const expandExpm1: KernelRewrite = (k) =>
  rewriteExprs(k, (e, hoist) => {
    if (e.k !== "call" || e.fn !== "expm1") return undefined;
    const x = hoist("expm1_x", e.args[0]!);
    let poly = f32(1 / 40320);
    for (const n of [7, 6, 5, 4, 3, 2, 1]) poly = bin("add", f32(1 / factorial(n)), mul(x, poly));
    return select(bin("lt", call("abs", x), f32(0.5)), mul(x, poly), sub(call("exp", x), f32(1)));
  });

const factorial = (n: number): number => (n <= 1 ? 1 : n * factorial(n - 1));

/**
 * pow as IEEE/JS define it: WGSL's pow is undefined for a negative base and gives NaN for
 * pow(0, 0). Negative bases with integral exponents take the sign of the exponent's parity.
 */
export const powSigned: KernelRewrite = (k) =>
  rewriteExprs(k, (e, hoist) => {
    if (e.k !== "call" || e.fn !== "pow") return undefined;
    const x = hoist("pow_x", e.args[0]!);
    const y = hoist("pow_y", e.args[1]!);
    const r = hoist("pow_r", call("pow", call("abs", x), y));
    const integral = bin("eq", call("floor", y), y);
    const half = mul(y, f32(0.5));
    const odd = bin("and", integral, bin("ne", call("floor", half), half));
    const negBase = select(integral, select(odd, { k: "un", t: "f32", op: "neg", a: r }, r), lit("f32", NaN));
    // C's pow (and the interpreter): pow(x, 0) = 1, pow(1, y) = 1 and pow(-1, ±inf) = 1, even for NaN.
    const one = bin("or", bin("or", bin("eq", y, f32(0)), bin("eq", x, f32(1))),
      bin("and", bin("eq", x, f32(-1)), bin("eq", call("abs", y), f32(Infinity))));
    return select(one, f32(1), select(bin("lt", x, f32(0)), negBase, r));
  });

/**
 * tanh saturates to ±1 in f32 beyond |x| = 9; some drivers compute it through exp and give
 * NaN (inf/inf) for large inputs, so the argument is clamped first.
 */
export const tanhClamped: KernelRewrite = (k) =>
  rewriteExprs(k, (e) => {
    if (e.k !== "call" || e.fn !== "tanh") return undefined;
    return { ...e, args: [bin("max", bin("min", e.args[0]!, f32(15)), f32(-15))] };
  });

/**
 * f32 min/max propagate NaN, as the interpreter, XLA and the CUDA renderer do; WGSL leaves
 * min/max of a NaN unspecified (lavapipe returns the other operand). a + b is NaN when
 * either operand is.
 */
export const minMaxNaN: KernelRewrite = (k) =>
  rewriteExprs(k, (e, hoist) => {
    if (e.k !== "bin" || (e.op !== "min" && e.op !== "max") || e.t !== "f32") return undefined;
    const a = hoist(`${e.op}_a`, e.a);
    const b = hoist(`${e.op}_b`, e.b);
    const eitherNaN = bin("or", call("isnan", a), call("isnan", b));
    return select(eitherNaN, bin("add", a, b), bin(e.op, a, b));
  });

/** isnan by bits: NaN compares may be folded away by optimising shader compilers. */
export const isnanByBits: KernelRewrite = (k) =>
  rewriteExprs(k, (e) => {
    if (e.k !== "call" || e.fn !== "isnan") return undefined;
    const bits = bin("and", { k: "bitcast", t: "u32", a: e.args[0]! }, u32(0x7fffffff));
    return bin("gt", bits, u32(0x7f800000));
  });

/**
 * Locals renamed away from binding and shared-array names. Kernel parameters live in the
 * body's outermost scope in C, so `const float x = x[i];` is a redeclaration, and a local
 * `a` in a loop hides the buffer `a` it loads from; WGSL tolerates the first (its buffers
 * are module-scope) but not the second, so this holds for both targets.
 */
export const distinctNames: KernelRewrite = (k) => {
  const taken = new Set([...k.bindings.map((b) => b.name), ...k.shared.map((s) => s.name)]);
  const declared = declaredNames(k.body);
  const rename = new Map<string, string>();
  const all = new Set([...taken, ...declared]);
  for (const name of declared) {
    if (!taken.has(name) || rename.has(name)) continue;
    let n = 1;
    while (all.has(`${name}_v${n > 1 ? n : ""}`)) n++;
    const fresh = `${name}_v${n > 1 ? n : ""}`;
    all.add(fresh);
    rename.set(name, fresh);
  }
  if (rename.size === 0) return k;
  const nm = (name: string) => rename.get(name) ?? name;
  return { ...k, body: renameStmts(k.body, nm) };
};

/**
 * Drops values nothing reads (expressions are pure, so this never changes results).
 * Lowering computes every coordinate of an unravelled index and uses some; nvcc warns
 * about the rest ("declared but never referenced"), WGSL does not.
 */
export const dropDeadValues: KernelRewrite = (k) => {
  let body = k.body;
  for (;;) {
    const used = readNames(body);
    let dropped = false;
    body = mapStmts(body, {
      stmt: (s) => {
        if ((s.k === "let" || s.k === "var" || s.k === "assign" || s.k === "load4") && !used.has(s.name)) {
          dropped = true;
          return [];
        }
        return s;
      },
    });
    if (!dropped) return { ...k, body };
  }
};

const isLit = (e: Expr, v: number) => e.k === "const" && e.v === v;

/**
 * Folds comparisons an unsigned value cannot fail (`j < 0u` is false, `j >= 0u` true), and
 * the `&&`/`||` they leave behind. Lowering emits them for degenerate extents (a top_k row
 * of one element); nvcc warns ("pointless comparison of unsigned integer with zero").
 */
export const foldUnsignedCompares: KernelRewrite = (k) =>
  rewriteExprs(k, (e) => {
    if (e.k !== "bin") return undefined;
    if (e.a.t === "u32" && e.b.t === "u32") {
      if ((e.op === "lt" && isLit(e.b, 0)) || (e.op === "gt" && isLit(e.a, 0))) return { k: "const", t: "bool", v: 0 };
      if ((e.op === "ge" && isLit(e.b, 0)) || (e.op === "le" && isLit(e.a, 0))) return { k: "const", t: "bool", v: 1 };
    }
    if (e.t === "bool" && (e.op === "and" || e.op === "or")) {
      const absorbing = e.op === "and" ? 0 : 1;
      if (isLit(e.a, absorbing) || isLit(e.b, absorbing)) return { k: "const", t: "bool", v: absorbing };
      if (isLit(e.a, 1 - absorbing)) return e.b;
      if (isLit(e.b, 1 - absorbing)) return e.a;
    }
    return undefined;
  });
