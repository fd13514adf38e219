/**
 * Generated programs for the layout-view suites, written with the frontend as a user
 * would: a rank-1..3 value passed through random layout ops (transposes by any
 * permutation, slices with steps, reshapes that merge or split axes, broadcasts, pads,
 * concatenations) mixed with elementwise math, row reductions fed back, and matmuls with
 * plain or transposed weights. A plan is a list of step codes; its extra inputs (weights,
 * residuals) are whatever the steps ask for, found by replaying the plan once.
 */
import fc from "fast-check";
import type { Tensor } from "../../frontend/core.js";
import { fromHost } from "../../frontend/creation.js";
import * as np from "../../frontend/np.js";
import type { HostArray } from "../../ir/dtype.js";
import { fill } from "../runtime/webgpu-arbitraries.js";

export interface Plan {
  readonly shape: readonly number[];
  readonly steps: readonly { readonly k: number; readonly a: number; readonly b: number }[];
}

export const planArb: fc.Arbitrary<Plan> = fc.record({
  shape: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 3 }),
  steps: fc.array(fc.record({ k: fc.nat(11), a: fc.nat(999), b: fc.nat(999) }), { minLength: 1, maxLength: 8 }),
});

/** Largest value a step may make: the suites stay fast on a CPU adapter. */
const MAX_SIZE = 2048;

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

function permutation(n: number, seed: number): number[] {
  const p = [...Array(n).keys()];
  for (let i = n - 1; i > 0; i--) {
    const j = (seed = (seed * 1103515245 + 12345) % 2 ** 31) % (i + 1);
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

/**
 * Applies the plan to `x`; `take(shape)` supplies each extra input a step asks for (a
 * weight, a residual), in order.
 */
export function replay(plan: Plan, x: Tensor, take: (shape: number[]) => Tensor): Tensor {
  let y = x;
  for (const { k, a, b } of plan.steps) {
    const s = y.shape, r = s.length, last = s[r - 1]!;
    switch (k) {
      case 0: y = np.transpose(y, permutation(r, a)); break;
      case 1: {
        // A step of 1 or 2 from 0 or 1 along one axis (whole elsewhere).
        const axis = a % r, from = s[axis]! > 1 ? b % 2 : 0, step = 1 + ((a >> 3) % 2);
        y = np.slice(y, s.map((_, i) => (i === axis ? [from, null, step] : null)));
        break;
      }
      case 2: y = r > 1 ? np.reshape(y, [...s.slice(0, r - 2), s[r - 2]! * last]) : y; break;
      case 3: {
        const f = [2, 3].find((d) => last % d === 0 && last > d);
        if (f && r < 3) y = np.reshape(y, [...s.slice(0, r - 1), last / f, f]);
        break;
      }
      case 4:
        if (r < 3 && size(s) * 2 <= MAX_SIZE) y = np.add(np.broadcastTo(y, [2, ...s]), take([2, ...s]));
        break;
      case 5: y = np.pad(y, s.map((_, i) => (i === a % r ? [b % 2, (b >> 1) % 3] : [0, 0])) as [number, number][], { value: (b % 5) - 2 }); break;
      case 6: {
        const axis = a % r;
        if (size(s) * 2 <= MAX_SIZE) y = np.concatenate([y, np.tanh(np.transpose(np.transpose(y)))], axis);
        break;
      }
      case 7: y = b % 2 ? np.tanh(y) : np.add(np.multiply(y, 0.75), 0.25); break;
      case 8: y = np.add(y, take([...s])); break;
      case 9: y = np.subtract(y, np.max(y, -1, true)); break;
      case 10: {
        const n = 1 + (b % 5);
        if (size(s) / last * n <= MAX_SIZE) y = np.matmul(y, take([last, n]));
        break;
      }
      default: {
        const n = 1 + (b % 5);
        if (size(s) / last * n <= MAX_SIZE) y = np.matmul(y, np.transpose(take([n, last])));
      }
    }
    if (size(y.shape) > MAX_SIZE) throw new Error(`plan step ${k} made ${size(y.shape)} elements`);
  }
  return y;
}

/** The inputs a plan reads (x first), seeded; found by replaying it once on the interpreter. */
export function planInputs(plan: Plan, seed: number): HostArray[] {
  const hosts: HostArray[] = [fill("f32", [...plan.shape], seed, -2, 2)];
  const tensors: Tensor[] = [];
  const t = (h: HostArray) => {
    const x = fromHost(h.dtype, h.shape, h.data.slice(), "interp");
    tensors.push(x);
    return x;
  };
  replay(plan, t(hosts[0]!), (shape) => {
    const h = fill("f32", shape, seed + hosts.length, -1, 1);
    hosts.push(h);
    return t(h);
  }).dispose();
  for (const x of tensors) x.dispose();
  return hosts;
}

/** The plan as a function of its inputs. */
export function planFn(plan: Plan): (...xs: Tensor[]) => Tensor {
  return (...xs) => {
    let i = 1;
    return replay(plan, xs[0]!, () => xs[i++]!);
  };
}
