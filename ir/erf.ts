/**
 * erf in float64, to a few ulp, for the reference interpreter (JS has no Math.erf).
 *
 * - |x| < 3: the series erf(x) = 2/√π · e^{-x²} · Σ_{n≥0} 2ⁿ x^{2n+1} / (1·3·…·(2n+1))
 *   (Abramowitz & Stegun 7.1.6). Every term is positive, so there is no cancellation.
 * - |x| ≥ 3: erf = 1 − erfc, with erfc from its continued fraction (A&S 7.1.14)
 *   erfc(x) = e^{-x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))),
 *   evaluated by the modified Lentz method; it converges fast for large x.
 * - |x| ≥ 6: erfc(x) < 2.2e-17, below half an ulp of 1, so erf is ±1.
 */
const TWO_OVER_SQRT_PI = 1.1283791670955126;
const ONE_OVER_SQRT_PI = 0.5641895835477563;

/** The series for x ≥ 0. */
function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
}

/** erfc(x) for x ≥ 3 by the continued fraction, modified Lentz (Numerical Recipes §5.2). */
function erfcContinuedFraction(x: number): number {
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let n = 1; n < 500; n++) {
    const a = n / 2;
    d = x + a * d;
    d = d === 0 ? tiny : d;
    c = x + a / c;
    c = c === 0 ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return (ONE_OVER_SQRT_PI * Math.exp(-x * x)) / f;
}

export function erf(x: number): number {
  if (Number.isNaN(x) || x === 0) return x; // erf(±0) = ±0 (C99 F.9.5.1)
  const ax = Math.abs(x);
  if (ax >= 6) return Math.sign(x);
  const r = ax < 3 ? erfSeries(ax) : 1 - erfcContinuedFraction(ax);
  return x < 0 ? -r : r;
}
