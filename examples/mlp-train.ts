/**
 * Trains a small MLP classifier on three interleaved spirals (a data set no
 * linear model separates) with Adam. One training step — forward, loss,
 * `valueAndGrad`, and the Adam update of every parameter — is ONE jitted
 * function over pytrees of parameters and optimiser state, so it traces once and
 * every later step is a single compiled call.
 *
 *   npx tsx examples/mlp-train.ts            # 300 steps, prints the loss
 *   SMELT_BACKEND=interp npx tsx examples/mlp-train.ts
 */
import { type Tensor, jit, nn, np, random, valueAndGrad } from "../index.js";

type Params = Record<string, Tensor>;

/** `perClass` points on each of `classes` spiral arms in 2-D, with Gaussian noise; labels are arm indices (i32). */
export function spirals(seed: number, perClass = 64, classes = 3): { x: Tensor; y: Tensor } {
  const [kNoise] = random.split(random.key(seed), 1);
  const n = perClass * classes;
  const t = np.tile(np.linspace(0.05, 1, perClass), classes); // radius, per point
  const arm = np.repeat(np.arange(classes), perClass); // class of each point
  const theta = np.add(np.add(np.multiply(t, 4), np.multiply(arm, (2 * Math.PI) / classes)), np.multiply(random.normal(kNoise!, [n]), 0.2));
  const x = np.stack([np.multiply(t, np.sin(theta)), np.multiply(t, np.cos(theta))], 1);
  return { x, y: np.astype(arm, "i32") };
}

/** He-initialised weights for layer sizes `sizes` (w{i}: [in, out], b{i}: [out]). */
export function initParams(seed: number, sizes: readonly number[]): Params {
  const keys = random.split(random.key(seed), sizes.length - 1);
  const params: Params = {};
  for (let i = 0; i + 1 < sizes.length; i++) {
    params[`w${i}`] = np.multiply(random.normal(keys[i]!, [sizes[i]!, sizes[i + 1]!]), Math.sqrt(2 / sizes[i]!));
    params[`b${i}`] = np.zeros([sizes[i + 1]!]);
  }
  return params;
}

function mlp(params: Params, x: Tensor): Tensor {
  const layers = Object.keys(params).filter((k) => k.startsWith("w")).length;
  let h = x;
  for (let i = 0; i < layers; i++) {
    h = np.add(np.matmul(h, params[`w${i}`]!), params[`b${i}`]!);
    if (i + 1 < layers) h = nn.relu(h);
  }
  return h;
}

const loss = (params: Params, x: Tensor, y: Tensor) => nn.crossEntropy(mlp(params, x), y);

const mapTree = (a: Params, f: (v: Tensor, k: string) => Tensor): Params =>
  Object.fromEntries(Object.keys(a).map((k) => [k, f(a[k]!, k)]));

export interface AdamState {
  m: Params;
  v: Params;
  /** Steps taken so far (f32 scalar), for the bias correction. */
  t: Tensor;
}

/** Adam (Kingma & Ba 2015, Algorithm 1) with lr 0.02, β₁ 0.9, β₂ 0.999, ε 1e-8. */
const LR = 0.02, B1 = 0.9, B2 = 0.999, EPS = 1e-8;

/** One step: value and gradient of the loss, then Adam on every parameter; jitted once. */
export const trainStep = jit(function trainStep(params: Params, opt: AdamState, x: Tensor, y: Tensor) {
  const [value, grads] = valueAndGrad(loss)(params, x, y) as [Tensor, Params];
  const t = np.add(opt.t, 1);
  const m = mapTree(opt.m, (m, k) => np.add(np.multiply(m, B1), np.multiply(grads[k]!, 1 - B1)));
  const v = mapTree(opt.v, (v, k) => np.add(np.multiply(v, B2), np.multiply(np.square(grads[k]!), 1 - B2)));
  const c1 = np.subtract(1, np.power(B1, t)), c2 = np.subtract(1, np.power(B2, t));
  const next = mapTree(params, (p, k) => {
    const mHat = np.divide(m[k]!, c1), vHat = np.divide(v[k]!, c2);
    return np.subtract(p, np.divide(np.multiply(mHat, LR), np.add(np.sqrt(vHat), EPS)));
  });
  return { params: next, opt: { m, v, t }, loss: value };
});

/** Trains for `steps` steps; returns the loss before each step. */
export async function main({ steps = 300, every = 25, log = true } = {}): Promise<number[]> {
  const { x, y } = spirals(0);
  let params = initParams(1, [2, 32, 32, 3]);
  let opt: AdamState = { m: mapTree(params, (p) => np.zerosLike(p)), v: mapTree(params, (p) => np.zerosLike(p)), t: np.zeros([]) };
  const history: number[] = [];
  for (let step = 0; step < steps; step++) {
    const out = trainStep(params, opt, x, y);
    ({ params, opt } = out);
    history.push(await out.loss.item());
    if (log && (step % every === 0 || step === steps - 1)) console.log(`step ${String(step).padStart(4)}  loss ${history[step]!.toFixed(4)}`);
  }
  if (log) {
    const predicted = np.argmax(mlp(params, x), -1);
    const accuracy = await np.mean(np.astype(np.equal(predicted, y), "f32")).item();
    console.log(`training accuracy ${(100 * accuracy).toFixed(1)}% (traced ${trainStep.traceCount} time(s))`);
  }
  return history;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
