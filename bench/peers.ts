/**
 * The same workloads in what users would pick instead of smelt: @jax-js/jax and
 * TensorFlow.js, both on WebGPU on the same adapter (Dawn from the npm `webgpu`
 * package, exposed to them as `navigator.gpu`). Each implementation is written the
 * way a user of that library would write it (jax-js under `jit`, tfjs under `tidy`,
 * the library's own softmax/gelu/attention where it has one), with the identical
 * seeded inputs, so the interpreter checks their outputs as it checks smelt's.
 */
import type * as JaxModule from "@jax-js/jax";
import type * as TFModule from "@tensorflow/tfjs-core";
import { type Timing, maxAbsErr, measure } from "./timing.js";
import type { HostInput, Sizes, Workload, WorkloadId } from "./workloads.js";
import { ensureRuntimeDir } from "../runtime/node-platform.js";

type Jax = typeof JaxModule;
type JArray = JaxModule.Array;
type TF = typeof TFModule;
type TFTensor = TFModule.Tensor;

export type PeerName = "jax-js" | "tfjs";
export const PEERS: readonly PeerName[] = ["jax-js", "tfjs"];

export interface PeerResult extends Timing {
  readonly maxAbsErr: number;
}

export interface Peer {
  readonly name: PeerName;
  readonly backend: string;
  /** Runs one workload: first call, warm-ups, `runs` timed calls; checks against `expected`. */
  bench(w: Workload, inputs: readonly HostInput[], expected: Float32Array, runs: number, tick: () => void): Promise<PeerResult>;
}

/** Why a peer has no implementation of a workload (undefined: it has one). */
export function peerGap(peer: PeerName, id: WorkloadId): string | undefined {
  const table = peer === "jax-js" ? jaxImpls : tfImpls;
  return table[id] ? undefined : `no ${peer} version of ${id}`;
}

// ---------------------------------------------------------------------------
// navigator.gpu for libraries that look for a browser

// Dawn destroys its instance when the GPU object is collected, even under live devices.
let gpu: GPU | undefined;

async function installNavigatorGPU(): Promise<void> {
  if (gpu) return;
  ensureRuntimeDir("smelt-bench-xdg-");
  const webgpu = (await import("webgpu")) as unknown as { create(o: string[]): GPU; globals: object };
  Object.assign(globalThis, webgpu.globals);
  gpu = webgpu.create([]);
  const existing = (globalThis as { navigator?: object }).navigator ?? {};
  // Node 21+ defines navigator as a read-only getter; redefine rather than assign.
  Object.defineProperty(globalThis, "navigator", {
    value: { hardwareConcurrency: 2, userAgent: "node", ...existing, gpu },
    configurable: true,
    writable: true,
  });
}

// ---------------------------------------------------------------------------
// jax-js

/**
 * softmax(q·kᵀ/√d, causal)·v over [heads, seq, dHead]. Written out rather than with
 * nn.dotProductAttention: that goes through jax-js's einsum, which needs iterator
 * helpers (Node 22+) and fails on Node 20 ("matchAll(...).map is not a function").
 */
function jaxCausalAttention({ numpy: np, nn }: Jax, q: JArray, k: JArray, v: JArray): JArray {
  const [seq, dHead] = q.shape.slice(-2) as [number, number];
  const scores = np.multiply(np.matmul(q, np.swapaxes(k, -1, -2)), 1 / Math.sqrt(dHead));
  const masked = np.where(np.tri(seq, seq, 0, { dtype: np.bool }), scores, -Infinity);
  return np.matmul(nn.softmax(masked, -1), v);
}

type JaxImpl<I extends WorkloadId> = (jax: Jax, s: Sizes[I]) => (...xs: JArray[]) => JArray;

const jaxImpls: { [I in WorkloadId]?: JaxImpl<I> } = {
  W1: ({ numpy: np }) => (x) => {
    let y = np.add(np.multiply(x.ref, 1.5), 0.25);
    y = np.multiply(np.tanh(y), x.ref);
    y = np.exp(np.subtract(y, 0.1));
    return np.add(np.multiply(y, 0.5), x);
  },
  W2: ({ nn }) => (x) => nn.softmax(x, -1),
  W3: ({ numpy: np, nn }) => (x, g, b) => np.add(np.multiply(nn.standardize(x, -1, { epsilon: 1e-5 }), g!), b!),
  W4: ({ numpy: np }) => (a, b) => np.matmul(a, b!),
  W5: ({ numpy: np, nn }) => (x, w1, b1, w2, b2) => np.add(np.matmul(nn.gelu(np.add(np.matmul(x, w1!), b1!)), w2!), b2!),
  W6: (jax) => (q, k, v) => jaxCausalAttention(jax, q, k!, v!),
  W7: ({ numpy: np, nn, lax }, { experts, k }) => (x, gate, w1, w2) => {
    const [vals, idx] = lax.topK(np.matmul(x.ref, gate!), k);
    const weights = nn.softmax(vals, -1);
    // [tokens, experts]: each token's gate weight for each expert (zero off its top-k).
    const combine = np.sum(np.multiply(nn.oneHot(idx, experts), np.expandDims(weights, -1)), 1);
    const h = nn.gelu(np.matmul(np.expandDims(x, 0), w1!), { approximate: false });
    const y = np.matmul(h, w2!);
    return np.sum(np.multiply(np.expandDims(np.transpose(combine), -1), y), 0);
  },
  W8: (jax, { seq, d, heads }) => (x, ln1g, ln1b, wqkv, bqkv, wo, bo, ln2g, ln2b, wfc, bfc, wproj, bproj) => {
    const { numpy: np, nn } = jax;
    const ln = (t: JArray, g: JArray, b: JArray) => np.add(np.multiply(nn.standardize(t, -1, { epsilon: 1e-5 }), g), b);
    const qkv = np.add(np.matmul(ln(x.ref, ln1g!, ln1b!), wqkv!), bqkv!);
    const splitHeads = (t: JArray) => np.transpose(np.reshape(t, [seq, heads, d / heads]), [1, 0, 2]);
    const [q, k, v] = np.split(qkv, 3, 1).map(splitHeads) as [JArray, JArray, JArray];
    const attended = np.reshape(np.transpose(jaxCausalAttention(jax, q, k, v), [1, 0, 2]), [seq, d]);
    const h = np.add(x, np.add(np.matmul(attended, wo!), bo!));
    const m = np.add(np.matmul(nn.gelu(np.add(np.matmul(ln(h.ref, ln2g!, ln2b!), wfc!), bfc!)), wproj!), bproj!);
    return np.add(h, m);
  },
};

async function openJax(): Promise<Peer> {
  await installNavigatorGPU();
  const jax = await import("@jax-js/jax");
  const devices = await jax.init("webgpu");
  if (!devices.includes("webgpu")) throw new Error(`jax-js found no WebGPU device (it has: ${devices.join(", ") || "none"})`);
  jax.defaultDevice("webgpu");
  return {
    name: "jax-js",
    backend: "webgpu",
    async bench(w, inputs, expected, runs, tick) {
      const impl = jaxImpls[w.id] as JaxImpl<WorkloadId> | undefined;
      if (!impl) throw new Error(peerGap("jax-js", w.id));
      const f = jax.jit(impl(jax, w.sizes as never));
      const xs = inputs.map((i) => jax.numpy.array(i.data, { shape: [...i.shape] }));
      let err = NaN;
      try {
        // jax-js arrays are consumed by the ops they feed; `.ref` keeps the inputs alive.
        const timing = await measure<JArray>({
          call: () => f(...xs.map((x) => x.ref)),
          // blockUntilReady waits without consuming; data() consumes, hence its `.ref`.
          wait: (y) => y.blockUntilReady().then(() => undefined),
          release: (y) => y.dispose(),
          inspect: async (y) => void (err = maxAbsErr((await y.ref.data()) as Float32Array, expected)),
          tick,
        }, runs);
        return { ...timing, maxAbsErr: err };
      } finally {
        for (const x of xs) x.dispose();
        f.dispose();
      }
    },
  };
}

// ---------------------------------------------------------------------------
// TensorFlow.js

type TfImpl<I extends WorkloadId> = (tf: TF, s: Sizes[I]) => { run(...xs: TFTensor[]): TFTensor; dispose?(): void };

/** GELU, tanh-approximated (GPT-2, jax.nn.gelu's default) or exact (erf, nn.moe's default). */
function tfGelu(tf: TF, x: TFTensor, approximate = true): TFTensor {
  if (!approximate) return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
  const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
}

function tfLayerNorm(tf: TF, x: TFTensor, g: TFTensor, b: TFTensor): TFTensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), g), b);
}

/** Causal attention over [heads, seq, dHead] with an additive mask kept across calls. */
function tfCausalAttention(tf: TF, seq: number) {
  const mask = tf.tidy(() => tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([seq, seq]), -1, 0)), -1e9));
  const attend = (q: TFTensor, k: TFTensor, v: TFTensor) => {
    const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(q.shape[q.rank - 1]!)), mask);
    return tf.matMul(tf.softmax(scores), v);
  };
  return { attend, dispose: () => mask.dispose() };
}

const tfImpls: { [I in WorkloadId]?: TfImpl<I> } = {
  W1: (tf) => ({
    run: (x) => {
      let y = tf.add(tf.mul(x, 1.5), 0.25);
      y = tf.mul(tf.tanh(y), x);
      y = tf.exp(tf.sub(y, 0.1));
      return tf.add(tf.mul(y, 0.5), x);
    },
  }),
  W2: (tf) => ({ run: (x) => tf.softmax(x) }),
  W3: (tf) => ({ run: (x, g, b) => tfLayerNorm(tf, x, g!, b!) }),
  W4: (tf) => ({ run: (a, b) => tf.matMul(a, b!) }),
  W5: (tf) => ({ run: (x, w1, b1, w2, b2) => tf.add(tf.matMul(tfGelu(tf, tf.add(tf.matMul(x, w1!), b1!)), w2!), b2!) }),
  W6: (tf, { seq }) => {
    const { attend, dispose } = tfCausalAttention(tf, seq);
    return { run: (q, k, v) => attend(q, k!, v!), dispose };
  },
  W7: (tf, { tokens, d, experts, k }) => ({
    run: (x, gate, w1, w2) => {
      const { values, indices } = tf.topk(tf.matMul(x, gate!), k);
      const combine = tf.sum(tf.mul(tf.oneHot(indices, experts), tf.expandDims(tf.softmax(values), -1)), 1);
      const h = tfGelu(tf, tf.matMul(tf.broadcastTo(tf.expandDims(x, 0), [experts, tokens, d]), w1!), false);
      return tf.sum(tf.mul(tf.expandDims(tf.transpose(combine), -1), tf.matMul(h, w2!)), 0);
    },
  }),
  W8: (tf, { seq, d, heads }) => {
    const { attend, dispose } = tfCausalAttention(tf, seq);
    const splitHeads = (t: TFTensor) => tf.transpose(tf.reshape(t, [seq, heads, d / heads]), [1, 0, 2]);
    return {
      run: (x, ln1g, ln1b, wqkv, bqkv, wo, bo, ln2g, ln2b, wfc, bfc, wproj, bproj) => {
        const qkv = tf.add(tf.matMul(tfLayerNorm(tf, x, ln1g!, ln1b!), wqkv!), bqkv!);
        const [q, k, v] = tf.split(qkv, 3, 1).map(splitHeads) as [TFTensor, TFTensor, TFTensor];
        const attended = tf.reshape(tf.transpose(attend(q, k, v), [1, 0, 2]), [seq, d]);
        const h = tf.add(x, tf.add(tf.matMul(attended, wo!), bo!));
        const m = tf.add(tf.matMul(tfGelu(tf, tf.add(tf.matMul(tfLayerNorm(tf, h, ln2g!, ln2b!), wfc!), bfc!)), wproj!), bproj!);
        return tf.add(h, m);
      },
      dispose,
    };
  },
};

async function openTF(): Promise<Peer> {
  await installNavigatorGPU();
  const tf = await import("@tensorflow/tfjs-core");
  await import("@tensorflow/tfjs-backend-webgpu");
  if (!(await tf.setBackend("webgpu"))) throw new Error("tfjs could not initialise its webgpu backend");
  await tf.ready();
  // tfjs records dispatches into an open compute pass of one command encoder: end the
  // pass, submit the encoder, then wait for the queue (its own read-back path does the same).
  const gpuBackend = tf.backend() as unknown as {
    commandEncoder: GPUCommandEncoder | null; endComputePassEncoder(): void; submitQueue(): void; device: GPUDevice;
  };
  const drain = async () => {
    if (gpuBackend.commandEncoder) {
      gpuBackend.endComputePassEncoder();
      gpuBackend.submitQueue();
    }
    await gpuBackend.device.queue.onSubmittedWorkDone();
  };
  return {
    name: "tfjs",
    backend: "webgpu",
    async bench(w, inputs, expected, runs, tick) {
      const make = tfImpls[w.id] as TfImpl<WorkloadId> | undefined;
      if (!make) throw new Error(peerGap("tfjs", w.id));
      const before = tf.memory().numTensors;
      const impl = make(tf, w.sizes as never);
      const xs = inputs.map((i) => tf.tensor(i.data, [...i.shape], "float32"));
      let err = NaN;
      try {
        const timing = await measure<TFTensor>({
          call: () => tf.tidy(() => impl.run(...xs)),
          wait: drain,
          release: (y) => y.dispose(),
          inspect: async (y) => void (err = maxAbsErr((await y.data()) as Float32Array, expected)),
          tick,
        }, runs);
        return { ...timing, maxAbsErr: err };
      } finally {
        for (const x of xs) x.dispose();
        impl.dispose?.();
        const leaked = tf.memory().numTensors - before;
        if (leaked > 0) console.warn(`bench: tfjs ${w.id} left ${leaked} tensor(s) alive`);
      }
    },
  };
}

/** Opens a peer on WebGPU; throws with the reason when it cannot run here. */
export function openPeer(name: PeerName): Promise<Peer> {
  return name === "jax-js" ? openJax() : openTF();
}
