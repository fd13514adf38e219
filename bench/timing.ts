/**
 * How every variant is timed, smelt's and the peers' alike, so the columns compare:
 * a first call (for smelt: trace, compile and run) waited to completion, then two
 * warm-up calls, then `runs` timed calls whose median is the steady time. Waiting
 * is each runtime's own "queue drained" signal, not a read-back, so steady times
 * do not include copying outputs to the host.
 */

export interface Timing {
  readonly firstMs: number;
  readonly steadyMs: number;
  /** The steady median's 95% confidence interval (see medianInterval); null under 6 timed calls. */
  readonly steadyIntervalMs: readonly [number, number] | null;
  readonly samples: readonly number[];
}

export const WARMUP_RUNS = 2;
export const DEFAULT_RUNS = 10;

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * A distribution-free confidence interval of the median: order statistics x(k) and
 * x(n+1-k) with the largest k for which P(Binomial(n, 1/2) < k) ≤ (1 - level)/2, so the
 * interval holds the true median with probability at least `level` whatever the
 * distribution (Conover, Practical Nonparametric Statistics, §3.2). With too few
 * samples no such k exists (under 6 for 95%): null, never a narrower interval.
 */
export function medianInterval(xs: readonly number[], level = 0.95): [number, number] | null {
  const n = xs.length;
  const tail = (1 - level) / 2;
  let k = 0;
  let below = 0; // P(Binomial(n, 1/2) ≤ k - 1), accumulated term by term
  let term = 0.5 ** n; // P(Binomial(n, 1/2) = k)
  while (k < n / 2 && below + term <= tail) {
    below += term;
    term = (term * (n - k)) / (k + 1);
    k++;
  }
  if (k === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return [s[k - 1]!, s[n - k]!];
}

export interface Measured<T> {
  /** Starts one call; returns its outputs without waiting for them. */
  call(): T;
  /** Resolves when the call's work is complete on the device. */
  wait(out: T): Promise<void>;
  /** Frees the call's outputs. */
  release(out: T): void;
  /** Sees the first call's outputs once (to check them) before they are released. */
  inspect?(out: T): Promise<void>;
  /** Called after each call, for progress. */
  tick?(): void;
}

export async function measure<T>(m: Measured<T>, runs: number): Promise<Timing> {
  const [timing] = await measureInterleaved([m], runs);
  if (timing instanceof Error) throw timing;
  return timing!;
}

/**
 * Times several variants of one computation with their timed calls interleaved: each
 * variant's first call and warm-ups in turn, then `runs` rounds that call every variant once.
 * A change in machine load during the run then falls on every variant alike, so their ratios
 * hold on a shared machine (run one after the other, the same two kernels measured 0.64× and
 * 1.20× of each other minutes apart). A variant whose call throws reports its error; the
 * others go on.
 */
export async function measureInterleaved<T>(ms: readonly Measured<T>[], runs: number): Promise<(Timing | Error)[]> {
  const once = async (m: Measured<T>): Promise<[number, T]> => {
    const t0 = performance.now();
    const out = m.call();
    await m.wait(out);
    return [performance.now() - t0, out];
  };
  const results: ({ firstMs: number; samples: number[] } | Error)[] = [];
  for (const m of ms) {
    try {
      const [firstMs, first] = await once(m);
      try {
        await m.inspect?.(first);
      } finally {
        m.release(first);
      }
      m.tick?.();
      for (let r = 0; r < WARMUP_RUNS; r++) {
        m.release((await once(m))[1]);
        m.tick?.();
      }
      results.push({ firstMs, samples: [] });
    } catch (e) {
      results.push(e instanceof Error ? e : new Error(String(e)));
    }
  }
  for (let r = 0; r < runs; r++)
    for (const [i, m] of ms.entries()) {
      const state = results[i]!;
      if (state instanceof Error) continue;
      try {
        const [ms, out] = await once(m);
        m.release(out);
        state.samples.push(ms);
        m.tick?.();
      } catch (e) {
        results[i] = e instanceof Error ? e : new Error(String(e));
      }
    }
  return results.map((x) => (x instanceof Error ? x : {
    firstMs: x.firstMs, steadyMs: median(x.samples), steadyIntervalMs: medianInterval(x.samples), samples: x.samples,
  }));
}

export function maxAbsErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return NaN;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= m)) m = d; // also catches NaN, which then sticks
    if (Number.isNaN(m)) return NaN;
  }
  return m;
}
