/**
 * Kernel rewrites: target quirks expressed as kernel-to-kernel transforms, applied before
 * rendering (tinygrad's "rewrites, not ifs in the printer"). Each target lists the
 * rewrites it needs; the renderers then only print.
 */
import {
  type Binding, type Expr, type Kernel, type MathFn,
  bin, call, f32, lit, load, mul, select, sub, u32,
} from "./kernel.js";
import { type Hoist, declaredNames, mapExpr, mapStmts, readNames, renameStmts } from "./traverse.js";

export type KernelRewrite = (k: Kernel) => Kernel;

/** Rewrites one expression node (its children already rewritten); `hoist` names a value. */
type ExprRule = (e: Expr, hoist: Hoist) => Expr | undefined;

type CallExpr = Extract<Expr, { k: "call" }>;

/**
 * The rewrite of every call of `fn`: its operands hoisted into locals named `${fn}_${name}`
 * (one name per operand), then replaced by what `expand` builds from them.
 */
function expandCalls(fn: MathFn, names: readonly string[], expand: (args: Expr[], hoist: Hoist, e: CallExpr) => Expr): KernelRewrite {
  return (k) =>
    rewriteExprs(k, (e, hoist) => {
      if (e.k !== "call" || e.fn !== fn) return undefined;
      return expand(names.map((n, i) => hoist(`${fn}_${n}`, e.args[i]!)), hoist, e);
    });
}

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

const NEG = (a: Expr): Expr => ({ k: "un", t: "f32", op: "neg", a });
const bitsOf = (x: Expr): Expr => ({ k: "bitcast", t: "u32", a: x });
const fromBits = (x: Expr): Expr => ({ k: "bitcast", t: "f32", a: x });
/** The sign bit of an f32 (set for -0 and negative values, as numbers see it). */
const signBit = (x: Expr): Expr => bin("ge", bitsOf(x), u32(0x80000000));
const not = (x: Expr): Expr => ({ k: "un", t: "bool", op: "not", a: x });
const SMALLEST_NORMAL = 2 ** -126;
/** Subnormals times 2^24 are normal: the scale that brings them where drivers' log and pow are defined. */
const SUBNORMAL_SCALE = 2 ** 24;

/** Horner form of `c[0] + z (c[1] + z (c[2] + ...))`. */
const horner = (z: Expr, c: readonly number[]): Expr =>
  c.slice(0, -1).reduceRight<Expr>((acc, ci) => bin("add", f32(ci), mul(z, acc)), f32(c[c.length - 1]!));

/** Maclaurin coefficients of erf(x) / x in x^2: 2/√π · (−1)^n / (n! (2n + 1)). */
const ERF_SERIES = [0, 1, 2, 3, 4, 5].map((n) => (2 / Math.sqrt(Math.PI)) * (-1) ** n / (factorial(n) * (2 * n + 1)));

/**
 * erf by its Maclaurin series for |x| < 0.5 (truncation below 3e-8 relative; it keeps −0,
 * subnormals and the relative accuracy of small arguments), and by Abramowitz & Stegun
 * 7.1.26 beyond (|error| <= 1.5e-7, absolute):
 * erf(x) = sign(x) (1 - t (a1 + t (a2 + t (a3 + t (a4 + t a5)))) e^{-x^2}), t = 1 / (1 + p|x|).
 */
export const expandErf = expandCalls("erf", ["x"], ([x], hoist) => {
  const ax = hoist("erf_ax", call("abs", x));
  const t = hoist("erf_t", bin("div", f32(1), bin("add", f32(1), mul(f32(0.3275911), ax))));
  const [a1, a2, a3, a4, a5] = [0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429].map(f32) as [Expr, Expr, Expr, Expr, Expr];
  const poly = mul(t, bin("add", a1, mul(t, bin("add", a2, mul(t, bin("add", a3, mul(t, bin("add", a4, mul(t, a5)))))))));
  const y = sub(f32(1), mul(poly, call("exp", mul(bin("sub", f32(0), x), x))));
  const series = mul(x, horner(mul(x, x), ERF_SERIES));
  return select(bin("lt", ax, f32(0.5)), series, mul(call("sign", x), y));
});

/**
 * expm1 without the cancellation of exp(x) − 1 near 0: a degree-8 Taylor polynomial for
 * |x| < 0.5 (truncation below 1e-8 relative), exp(x) − 1 beyond (where the cancellation
 * costs at most a factor e^0.5 / (e^0.5 − 1) ≈ 2.5 of exp's error). Kahan's
 * (u − 1)·x / log(u) is not used: WGSL only bounds log's absolute error near 1.
 */
export const expandExpm1 = expandCalls("expm1", ["x"], ([x]) => {
  let poly = f32(1 / 40320);
  for (const n of [7, 6, 5, 4, 3, 2, 1]) poly = bin("add", f32(1 / factorial(n)), mul(x, poly));
  return select(bin("lt", call("abs", x), f32(0.5)), mul(x, poly), sub(call("exp", x), f32(1)));
});

function factorial(n: number): number {
  let r = 1;
  for (let i = 2; i <= n; i++) r *= i;
  return r;
}

/**
 * pow as C99 Annex F and the interpreter (ir/scalar.ts) define it. WGSL's pow is
 * exp2(y·log2 x): undefined for x < 0, and drivers give 0 for pow(0, y < 0), NaN for
 * pow(−inf, y) and flush subnormal bases. So pow here is taken of |x| (subnormal bases
 * scaled by 2^24 and the scale's power divided back out), zero and infinite bases are
 * decided by the sign of y, a sign bit and an odd integral exponent give a negative
 * result (−0 included), and a finite negative base with a non-integral exponent is NaN.
 * pow(x, 0) = 1, pow(1, y) = 1 and pow(−1, ±inf) = 1, even for NaN.
 */
export const powSigned = expandCalls("pow", ["x", "y"], ([x, y], hoist) => {
  const ax = hoist("pow_ax", call("abs", x));
  const tiny = hoist("pow_tiny", bin("lt", ax, f32(SMALLEST_NORMAL)));
  const scaled = call("pow", select(tiny, mul(ax, f32(SUBNORMAL_SCALE)), ax), y);
  // pow(1, ±inf) is NaN in WGSL, so the outer select; a literal base would let WGSL
  // evaluate pow(2^-24, y) for a constant y at compile time, where overflow is an error.
  const unscale = select(tiny, call("pow", select(tiny, f32(1 / SUBNORMAL_SCALE), f32(1)), y), f32(1));
  const yNeg = bin("lt", y, f32(0));
  const magnitude = select(bin("eq", ax, f32(0)), select(yNeg, f32(Infinity), f32(0)),
    select(bin("eq", ax, f32(Infinity)), select(yNeg, f32(0), f32(Infinity)), mul(scaled, unscale)));
  const r = hoist("pow_r", magnitude);
  const integral = hoist("pow_int", bin("eq", call("floor", y), y));
  const half = hoist("pow_half", mul(y, f32(0.5)));
  const odd = bin("and", integral, bin("ne", call("floor", half), half));
  const signed = select(bin("and", signBit(x), odd), NEG(r), r);
  const finiteNegative = bin("and", bin("lt", x, f32(0)), bin("ne", ax, f32(Infinity)));
  const nan = bin("or", bin("or", call("isnan", x), call("isnan", y)), bin("and", finiteNegative, not(integral)));
  const one = bin("or", bin("or", bin("eq", y, f32(0)), bin("eq", x, f32(1))),
    bin("and", bin("eq", x, f32(-1)), bin("eq", call("abs", y), f32(Infinity))));
  return select(one, f32(1), select(nan, f32(NaN), signed));
});

/** Below this |x| tanh is its odd Taylor polynomial (truncation below 1e-12 relative). */
const TANH_SERIES_BOUND = 0.0625;
const TANH_SERIES = [1, -1 / 3, 2 / 15, -17 / 315];

/**
 * tanh saturates to ±1 in f32 beyond |x| = 9; some drivers compute it through exp and give
 * NaN (inf/inf) for large inputs, so the argument is clamped first, by selects that NaN
 * passes through (min/max would turn it into ±15). Near 0 drivers' tanh has an absolute
 * error (lavapipe: 3e-8 at 1e-45), so small arguments take x·(1 + x²·p(x²)), which keeps
 * −0 and subnormals.
 */
export const tanhClamped = expandCalls("tanh", ["x"], ([x], _hoist, e) => {
  const clamped = select(bin("gt", x, f32(15)), f32(15), select(bin("lt", x, f32(-15)), f32(-15), x));
  const series = mul(x, horner(mul(x, x), TANH_SERIES));
  return select(bin("lt", call("abs", x), f32(TANH_SERIES_BOUND)), series, { ...e, args: [clamped] });
});

/** sign(x) as numpy and the interpreter: ±1, ±0 kept, NaN for NaN (WGSL's sign(NaN) is 0 on lavapipe). */
export const signIEEE: KernelRewrite = (k) =>
  rewriteExprs(k, (e, hoist) => {
    if (e.k !== "call" || e.fn !== "sign" || e.t !== "f32") return undefined;
    const x = hoist("sign_x", e.args[0]!);
    return select(bin("gt", x, f32(0)), f32(1), select(bin("lt", x, f32(0)), f32(-1), x));
  });

/**
 * log of a subnormal: drivers' log reads the exponent field and flushes subnormals
 * (lavapipe: log(2^-149) = −88.03, the log of 2^-127). Below the smallest normal the
 * argument is scaled by 2^24 and 24·ln 2 taken back; zero and negatives keep their −inf / NaN.
 */
export const logSubnormal = expandCalls("log", ["x"], ([x], hoist) => {
  const tiny = hoist("log_tiny", bin("lt", x, f32(SMALLEST_NORMAL)));
  const l = call("log", select(tiny, mul(x, f32(SUBNORMAL_SCALE)), x));
  return sub(l, select(tiny, f32(24 * Math.LN2), f32(0)));
});

/**
 * x / 0 where 0 is a literal: WGSL lets the compiler assume finite math, and lavapipe folds
 * it to garbage (x / 0 gave 0). x / ±0 is x · ±inf for every x (±inf, NaN and 0 included),
 * and the infinity is a runtime value (see the WGSL renderer's non-finite constants).
 */
export const divideByZeroLiteral: KernelRewrite = (k) =>
  rewriteExprs(k, (e) => {
    if (e.k !== "bin" || e.op !== "div" || e.t !== "f32" || e.b.k !== "const" || e.b.v !== 0) return undefined;
    return mul(e.a, f32(Object.is(e.b.v, -0) ? -Infinity : Infinity));
  });

/** Taylor coefficients of atan(a) / a in a^2, through a^21 (|a| <= tan(π/8): truncation below 1e-10). */
const ATAN_SERIES = Array.from({ length: 11 }, (_, n) => (-1) ** n / (2 * n + 1));

/**
 * atan2(y, x) as C99 Annex F and the interpreter define it, from arithmetic alone:
 * lavapipe's atan2 gives ±3π/4 for atan2(±0, ±0), NaN for subnormal x and drops the sign
 * of −0. The angle of (|x|, |y|) is atan of the ratio min/max in [0, 1] (both infinite: 1),
 * reduced to |a| <= tan(π/8) by atan(a) = π/4 + atan((a − 1)/(a + 1)); the octant and the
 * quadrant follow (x's sign bit picks π − θ, so −0 does too), and y's sign bit signs it.
 */
export const expandAtan2 = expandCalls("atan2", ["y", "x"], ([y, x], hoist) => {
  const ax = hoist("atan2_ax", call("abs", x));
  const ay = hoist("atan2_ay", call("abs", y));
  const hi = hoist("atan2_hi", select(bin("gt", ay, ax), ay, ax));
  const lo = select(bin("gt", ay, ax), ax, ay);
  const ratio = select(bin("eq", hi, f32(0)), f32(0),
    select(bin("eq", hi, f32(Infinity)), select(bin("eq", lo, f32(Infinity)), f32(1), f32(0)), bin("div", lo, hi)));
  const a = hoist("atan2_a", ratio);
  const far = hoist("atan2_far", bin("gt", a, f32(Math.SQRT2 - 1)));
  const r = hoist("atan2_r", select(far, bin("div", sub(a, f32(1)), bin("add", a, f32(1))), a));
  const base = bin("add", mul(r, horner(mul(r, r), ATAN_SERIES)), select(far, f32(Math.PI / 4), f32(0)));
  const octant = hoist("atan2_t", select(bin("gt", ay, ax), sub(f32(Math.PI / 2), base), base));
  const quadrant = hoist("atan2_q", select(signBit(x), sub(f32(Math.PI), octant), octant));
  const signed = select(signBit(y), NEG(quadrant), quadrant);
  return select(bin("or", call("isnan", x), call("isnan", y)), f32(NaN), signed);
});

/**
 * A zero literal as an operand of f32 arithmetic becomes a value the compiler cannot see:
 * WGSL lets it assume finite math, and lavapipe folds x · 0 to 0 (NaN · 0 and inf · 0 are
 * NaN, −1 · 0 is −0) and −0.0 to +0. The zero is `f32(num_groups.x == 0)`, false in every
 * dispatch (there is at least one workgroup), negated for −0.
 */
export const opaqueZeros: KernelRewrite = (k) => {
  const zero = (negative: boolean): Expr => {
    const z: Expr = { k: "cast", t: "f32", a: bin("eq", { k: "id", t: "u32", id: "num_groups", axis: 0 }, u32(0)) };
    return negative ? NEG(z) : z;
  };
  const opaque = (x: Expr): Expr => (x.k === "const" && x.t === "f32" && x.v === 0 ? zero(Object.is(x.v, -0)) : x);
  return rewriteExprs(k, (e) => {
    if (e.k !== "bin" || e.t !== "f32" || !["add", "sub", "mul", "div"].includes(e.op)) return undefined;
    const a = opaque(e.a), b = opaque(e.b);
    return a === e.a && b === e.b ? undefined : { ...e, a, b };
  });
};

/**
 * f32 min/max propagate NaN, as the interpreter, XLA and the CUDA renderer do; WGSL leaves
 * min/max of a NaN unspecified (lavapipe returns the other operand). a + b is NaN when
 * either operand is. Equal operands differ only as ±0, where max(−0, +0) is +0 and min
 * is −0 (JS's Math.max/min): the AND (max) or OR (min) of their bits.
 */
export const minMaxNaN: KernelRewrite = (k) =>
  rewriteExprs(k, (e, hoist) => {
    if (e.k !== "bin" || (e.op !== "min" && e.op !== "max") || e.t !== "f32") return undefined;
    const a = hoist(`${e.op}_a`, e.a);
    const b = hoist(`${e.op}_b`, e.b);
    const eitherNaN = bin("or", call("isnan", a), call("isnan", b));
    const zeros = fromBits(bin(e.op === "max" ? "and" : "or", bitsOf(a), bitsOf(b)));
    return select(eitherNaN, bin("add", a, b), select(bin("eq", a, b), zeros, bin(e.op, a, b)));
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
