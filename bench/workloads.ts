/**
 * The benchmark workloads W1–W9 of DESIGN.md (W6-long, W6-long8k and W6-decode are W6's
 * long-sequence and decode shapes; W7-wide and W7-decode W7's with 64 experts, W7-train a
 * training step through W7's layer; W8-decode
 * W8's block for one new token over a KV cache), written as a user writes them:
 * plain functions over smelt's public API. Each workload is a factory over its
 * sizes (the defaults are DESIGN's; tests shrink them), produces seeded host
 * inputs so smelt, the interpreter and the peers (bench/peers.ts) all see the
 * same numbers.
 */
import { type JitOptions, type Tensor, jit, nn, np, valueAndGrad } from "../index.js";
import type { SmeltVariant } from "./report.js";

export const WORKLOAD_IDS = ["W1", "W2", "W3", "W4", "W5", "W6", "W6-long", "W6-long8k", "W6-decode", "W7", "W7-wide", "W7-decode", "W7-train", "W8", "W8-decode", "W9"] as const;
export type WorkloadId = (typeof WORKLOAD_IDS)[number];
/** What `smelt bench` runs without arguments; W6 and W7 run when named. */
export const DEFAULT_WORKLOADS: readonly WorkloadId[] = ["W1", "W2", "W3", "W4", "W5", "W8"];

export interface Sizes {
  W1: { n: number };
  W2: { rows: number; cols: number };
  W3: { rows: number; cols: number };
  W4: { m: number; k: number; n: number };
  W5: { tokens: number; d: number; hidden: number };
  W6: { heads: number; seq: number; dHead: number };
  "W6-long": { heads: number; seq: number; dHead: number };
  "W6-long8k": { heads: number; seq: number; dHead: number };
  "W6-decode": { heads: number; queries: number; keys: number; dHead: number };
  W7: { tokens: number; d: number; experts: number; k: number; hidden: number };
  "W7-wide": { tokens: number; d: number; experts: number; k: number; hidden: number };
  "W7-decode": { tokens: number; d: number; experts: number; k: number; hidden: number };
  "W7-train": { tokens: number; d: number; experts: number; k: number; hidden: number };
  W8: { seq: number; d: number; heads: number; hidden: number };
  "W8-decode": { past: number; d: number; heads: number; hidden: number };
  W9: { seq: number; d: number; heads: number; hidden: number };
}

export const DEFAULT_SIZES: Sizes = {
  W1: { n: 4 * 2 ** 20 },
  W2: { rows: 4096, cols: 1024 },
  W3: { rows: 4096, cols: 1024 },
  W4: { m: 1024, k: 1024, n: 1024 },
  W5: { tokens: 512, d: 768, hidden: 3072 },
  W6: { heads: 8, seq: 1024, dHead: 64 },
  "W6-long": { heads: 8, seq: 4096, dHead: 64 },
  "W6-long8k": { heads: 8, seq: 8192, dHead: 64 },
  "W6-decode": { heads: 32, queries: 1, keys: 4096, dHead: 128 },
  // DESIGN fixes tokens, width, experts and top-k; an expert hidden width of 2·d keeps the
  // dense (unfused) form and the interpreter oracle within a benchmark's patience.
  W7: { tokens: 1024, d: 512, experts: 8, k: 2, hidden: 1024 },
  // The MoE issue's wide and decode shapes: 64 experts of hidden 256, top-8.
  "W7-wide": { tokens: 1024, d: 512, experts: 64, k: 8, hidden: 256 },
  "W7-decode": { tokens: 4, d: 512, experts: 64, k: 8, hidden: 256 },
  // A training step through W7's layer.
  "W7-train": { tokens: 1024, d: 512, experts: 8, k: 2, hidden: 1024 },
  // GPT-2 small: d 768, 12 heads, MLP 4·d.
  W8: { seq: 256, d: 768, heads: 12, hidden: 3072 },
  // One token through the same block over the keys and values of 1,024 earlier ones.
  "W8-decode": { past: 1024, d: 768, heads: 12, hidden: 3072 },
  W9: { seq: 256, d: 768, heads: 12, hidden: 3072 },
};

/** Sizes small enough for the interpreter in a unit test, with every axis still distinct. */
export const TINY_SIZES: Sizes = {
  W1: { n: 1000 },
  W2: { rows: 6, cols: 33 },
  W3: { rows: 6, cols: 33 },
  W4: { m: 7, k: 12, n: 5 },
  W5: { tokens: 4, d: 12, hidden: 20 },
  W6: { heads: 2, seq: 9, dHead: 8 },
  "W6-long": { heads: 2, seq: 11, dHead: 8 },
  "W6-long8k": { heads: 2, seq: 13, dHead: 8 },
  "W6-decode": { heads: 3, queries: 1, keys: 600, dHead: 8 },
  W7: { tokens: 10, d: 8, experts: 4, k: 2, hidden: 12 },
  "W7-wide": { tokens: 12, d: 8, experts: 9, k: 3, hidden: 12 },
  "W7-decode": { tokens: 2, d: 8, experts: 9, k: 3, hidden: 12 },
  "W7-train": { tokens: 10, d: 8, experts: 4, k: 2, hidden: 12 },
  W8: { seq: 6, d: 16, heads: 2, hidden: 24 },
  "W8-decode": { past: 7, d: 16, heads: 2, hidden: 24 },
  W9: { seq: 6, d: 16, heads: 2, hidden: 24 },
};

export interface HostInput {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export interface Workload<I extends WorkloadId = WorkloadId> {
  readonly id: I;
  /** One line saying what runs, with the sizes. */
  readonly title: string;
  readonly sizes: Sizes[I];
  /** Seeded host inputs, in the order the functions take them. */
  inputs(): HostInput[];
  /** The smelt program. */
  readonly fn: (...xs: Tensor[]) => Tensor;
  /** The program for one variant, where the variant is more than jit options on `fn` (W9). */
  readonly fnFor?: (variant: SmeltVariant) => (...xs: Tensor[]) => Tensor;
  /** Why the interpreter cannot check this size, where it cannot (its scores would not fit). */
  readonly noReference?: string;
  /**
   * Bytes the workload must read at least once (a decode step's weights), from its inputs, and
   * what they are: its row notes the time to copy them at the copy bandwidth measured in the same run.
   */
  readonly weightBytes?: (inputs: readonly HostInput[]) => { readonly bytes: number; readonly what: string };
  /** A routed MoE's sizes: its fused row notes its grouped matmuls against plain matmuls of the same sizes (bench/moe.ts). */
  readonly grouped?: { readonly tokens: number; readonly d: number; readonly k: number; readonly hidden: number };
}

/** nn.moe (W7 and its wide and decode shapes). */
function moe(id: "W7" | "W7-wide" | "W7-decode" | "W7-train", { tokens, d, experts, k, hidden }: Sizes["W7"]): Omit<Workload, "id" | "sizes"> {
  return {
    title: `MoE FFN ${tokens} tokens × ${d}, ${experts} experts (hidden ${hidden}), top-${k}`,
    inputs: () =>
      hostInputs(id, [
        ["x", [tokens, d], 1], ["gate", [d, experts], fanIn(d)],
        ["w1", [experts, d, hidden], fanIn(d)], ["w2", [experts, hidden, d], fanIn(hidden)],
      ]),
    // nn.moe's default expert activation is the exact (erf) GELU; the peers match it.
    fn: (x, gate, w1, w2) => nn.moe(x, gate!, { w1: w1!, w2: w2! }, k),
    ...(id === "W7-decode" || id === "W7-train" ? {} : { grouped: { tokens, d, k, hidden } }),
  };
}

/** How many distinct experts the tokens' top k of x·gate choose (float64 logits, ties to the lower index as top_k). */
export function chosenExperts(x: Float32Array, gate: Float32Array, { tokens, d, experts, k }: Sizes["W7"]): number {
  const chosen = new Set<number>();
  for (let t = 0; t < tokens; t++) {
    const logits = Array.from({ length: experts }, (_, e) => {
      let s = 0;
      for (let i = 0; i < d; i++) s += x[t * d + i]! * gate[i * experts + e]!;
      return s;
    });
    [...logits.keys()].sort((a, b) => logits[b]! - logits[a]! || a - b).slice(0, k).forEach((e) => chosen.add(e));
  }
  return chosen.size;
}

/** mulberry32: a tiny seeded generator, so every run (and every peer) sees the same inputs. */
function uniform(seed: number, n: number, scale: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

/** Inputs from [name, shape, scale] triples; the seed follows the position so inputs differ. */
function hostInputs(id: WorkloadId, specs: readonly (readonly [string, readonly number[], number])[]): HostInput[] {
  const base = 1000 * (WORKLOAD_IDS.indexOf(id) + 1);
  return specs.map(([name, shape, scale], i) => ({ name, shape, data: uniform(base + i, shape.reduce((a, b) => a * b, 1), scale) }));
}

/** Weights scaled by 1/√fan_in keep activations O(1) through matmuls, as initialisers do. */
const fanIn = (n: number) => 1 / Math.sqrt(n);

/** gelu(x·W1 + b1)·W2 + b2 with GPT-2's tanh-approximated GELU: the MLP W5 and W8 share. */
function mlp(x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor): Tensor {
  return np.add(np.matmul(nn.gelu(np.add(np.matmul(x, w1), b1), { approximate: true }), w2), b2);
}

/** Eight chained elementwise ops, mixing unary, scalar-binary and tensor-binary forms. */
export function elementwiseChain(x: Tensor): Tensor {
  let y = np.add(np.multiply(x, 1.5), 0.25);
  y = np.multiply(np.tanh(y), x);
  y = np.exp(np.subtract(y, 0.1));
  return np.add(np.multiply(y, 0.5), x);
}

/** Causal attention at long sequence lengths: flash only (the scores would be heads·seq² floats). */
function longAttention(id: "W6-long" | "W6-long8k", { heads, seq, dHead }: Sizes["W6"]): Omit<Workload, "id" | "sizes"> {
  const scores = heads * seq * seq * 4;
  return {
    title: `causal attention ${heads} heads × ${seq} × ${dHead} (flash only)`,
    inputs: () => hostInputs(id, ["q", "k", "v"].map((name) => [name, [heads, seq, dHead], 1] as const)),
    fn: (q, k, v) => nn.attention(q, k!, v!, { causal: true }),
    ...(scores > 2 ** 28 ? { noReference: `no interpreter reference: its scores would take ${scores / 2 ** 20} MiB` } : {}),
  };
}

/** W8's and W9's inputs: the residual stream and the block's 12 parameters. */
function blockInputs(id: WorkloadId, sizes: Sizes["W8"]): HostInput[] {
  return hostInputs(id, blockSpecs(sizes));
}

function blockSpecs({ seq, d, hidden }: Sizes["W8"]): [string, number[], number][] {
  return [
    ["x", [seq, d], 1], ["ln1_g", [d], 1], ["ln1_b", [d], 0.1],
    ["w_qkv", [d, 3 * d], fanIn(d)], ["b_qkv", [3 * d], 0.1], ["w_o", [d, d], fanIn(d)], ["b_o", [d], 0.1],
    ["ln2_g", [d], 1], ["ln2_b", [d], 0.1],
    ["w_fc", [d, hidden], fanIn(d)], ["b_fc", [hidden], 0.1], ["w_proj", [hidden, d], fanIn(hidden)], ["b_proj", [d], 0.1],
  ];
}

/**
 * A GPT-2 block (pre-LN, causal self-attention, tanh-GELU MLP) over the inputs blockInputs
 * makes; with a KV cache (`past` keys and values, [heads, past, dHead] each), the new
 * tokens' keys and values are appended to it, as a decode step does.
 */
function gpt2Block({ seq, d, heads }: Sizes["W8"], xs: Tensor[], cache?: { k: Tensor; v: Tensor }): Tensor {
  const [x, ln1g, ln1b, wqkv, bqkv, wo, bo, ln2g, ln2b, wfc, bfc, wproj, bproj] = xs as [Tensor, ...Tensor[]];
  const dHead = d / heads;
  // [seq, d] → [heads, seq, dHead]: attention runs per head over the sequence.
  const splitHeads = (t: Tensor) => np.transpose(np.reshape(t, [seq, heads, dHead]), [1, 0, 2]);
  const qkv = np.add(np.matmul(nn.layerNorm(x, ln1g!, ln1b!), wqkv!), bqkv!);
  let [q, k, v] = np.split(qkv, 3, 1).map(splitHeads) as [Tensor, Tensor, Tensor];
  if (cache) [k, v] = [np.concatenate([cache.k, k], 1), np.concatenate([cache.v, v], 1)];
  // Every cached key precedes the new tokens, so a single new token sees them all unmasked.
  const attended = np.reshape(np.transpose(nn.attention(q, k, v, { causal: !cache }), [1, 0, 2]), [seq, d]);
  const h = np.add(x, np.add(np.matmul(attended, wo!), bo!));
  return np.add(h, mlp(nn.layerNorm(h, ln2g!, ln2b!), wfc!, bfc!, wproj!, bproj!));
}

type Factory<I extends WorkloadId> = (s: Sizes[I]) => Omit<Workload<I>, "id" | "sizes">;

const factories: { [I in WorkloadId]: Factory<I> } = {
  W1: ({ n }) => ({
    title: `elementwise chain of 8 ops over f32[${n}]`,
    inputs: () => hostInputs("W1", [["x", [n], 1]]),
    fn: elementwiseChain,
  }),
  W2: ({ rows, cols }) => ({
    title: `softmax over the last axis of f32[${rows},${cols}]`,
    inputs: () => hostInputs("W2", [["x", [rows, cols], 4]]),
    fn: (x) => nn.softmax(x, -1),
  }),
  W3: ({ rows, cols }) => ({
    title: `layer norm of f32[${rows},${cols}] with gamma and beta`,
    inputs: () => hostInputs("W3", [["x", [rows, cols], 2], ["gamma", [cols], 1], ["beta", [cols], 1]]),
    fn: (x, gamma, beta) => nn.layerNorm(x, gamma, beta, { eps: 1e-5 }),
  }),
  W4: ({ m, k, n }) => ({
    title: `matmul f32[${m},${k}] · f32[${k},${n}]`,
    inputs: () => hostInputs("W4", [["a", [m, k], 1], ["b", [k, n], fanIn(k)]]),
    fn: (a, b) => np.matmul(a, b!),
  }),
  W5: ({ tokens, d, hidden }) => ({
    title: `MLP gelu(x·W1+b1)·W2+b2, [${tokens},${d}]→${hidden}→${d}`,
    inputs: () =>
      hostInputs("W5", [
        ["x", [tokens, d], 1], ["w1", [d, hidden], fanIn(d)], ["b1", [hidden], 0.1],
        ["w2", [hidden, d], fanIn(hidden)], ["b2", [d], 0.1],
      ]),
    fn: (x, w1, b1, w2, b2) => mlp(x, w1!, b1!, w2!, b2!),
  }),
  W6: ({ heads, seq, dHead }) => ({
    title: `causal attention ${heads} heads × ${seq} × ${dHead}`,
    inputs: () => hostInputs("W6", ["q", "k", "v"].map((name) => [name, [heads, seq, dHead], 1] as const)),
    fn: (q, k, v) => nn.attention(q, k!, v!, { causal: true }),
  }),
  "W6-long": (sizes) => longAttention("W6-long", sizes),
  "W6-long8k": (sizes) => longAttention("W6-long8k", sizes),
  "W6-decode": ({ heads, queries, keys, dHead }) => ({
    title: `decode attention ${heads} heads × ${queries} quer${queries === 1 ? "y" : "ies"} × ${keys} keys × ${dHead}`,
    inputs: () => hostInputs("W6-decode", [["q", [heads, queries, dHead], 1], ["k", [heads, keys, dHead], 1], ["v", [heads, keys, dHead], 1]]),
    fn: (q, k, v) => nn.attention(q, k!, v!),
  }),
  W7: (sizes) => moe("W7", sizes),
  "W7-wide": (sizes) => moe("W7-wide", sizes),
  "W7-decode": (sizes) => ({
    ...moe("W7-decode", sizes),
    // Decode reads weights, not arithmetic: the yardstick is the chosen experts' w1 and w2 read
    // once. Few tokens each choose k experts, mostly different ones: the step must read every
    // expert some token chose (counted on the host from the same inputs), not just k.
    weightBytes: (inputs) => {
      const chosen = chosenExperts(inputs[0]!.data, inputs[1]!.data, sizes);
      const perExpert = 2 * sizes.d * sizes.hidden * 4;
      return { bytes: chosen * perExpert, what: `the ${chosen} experts its ${sizes.tokens} tokens chose (${sizes.k} each; ${((sizes.k * perExpert) / 2 ** 20).toFixed(1)} MiB for k alone)` };
    },
  }),
  W8: (sizes) => ({
    title: `GPT-2 block (pre-LN, causal, ${sizes.heads} heads) at [${sizes.seq},${sizes.d}], MLP ${sizes.hidden}`,
    inputs: () => blockInputs("W8", sizes),
    fn: (...xs) => gpt2Block(sizes, xs),
  }),
  "W8-decode": ({ past, d, heads, hidden }) => ({
    title: `GPT-2 block decode step: 1 token over a KV cache of ${past} (${heads} heads), d ${d}, MLP ${hidden}`,
    inputs: () => hostInputs("W8-decode", [
      ...blockSpecs({ seq: 1, d, heads, hidden }), ["past_k", [heads, past, d / heads], 1], ["past_v", [heads, past, d / heads], 1],
    ]),
    fn: (...xs) => gpt2Block({ seq: 1, d, heads, hidden }, xs.slice(0, 13), { k: xs[13]!, v: xs[14]! }),
  }),
  "W7-train": (sizes) => {
    // The loss is its own jit, so grad finds the mixture of experts in it before differentiating.
    const loss = (options: JitOptions) => jit((x: Tensor, gate: Tensor, w1: Tensor, w2: Tensor) =>
      np.mean(np.square(nn.moe(x, gate, { w1, w2 }, sizes.k))), options);
    const forward = loss({});
    const routed = trainingStep(forward), dense = trainingStep(loss({ disablePasses: ["moe"] }));
    return {
      ...moe("W7-train", sizes),
      title: `training step: valueAndGrad of mean((W7 MoE)²) at ${sizes.tokens} tokens × ${sizes.d}, ${sizes.experts} experts (hidden ${sizes.hidden}), top-${sizes.k}, all 4 inputs`,
      fn: routed,
      fnFor: (variant) => (variant === "dense" ? dense : variant === "forward" ? forward : routed),
    };
  },
  W9: (sizes) => {
    // The loss is its own jit, so grad finds the attention in it before differentiating.
    const loss = (options: JitOptions) => jit((...xs: Tensor[]) => np.mean(np.square(gpt2Block(sizes, xs))), options);
    const step = trainingStep;
    const forward = loss({});
    const flash = step(forward), materialised = step(loss({ disablePasses: ["attention"] })), unfused = step(loss({ fuse: false }));
    return {
      title: `training step: valueAndGrad of mean((W8 block)²) at [${sizes.seq},${sizes.d}], all 13 inputs`,
      inputs: () => blockInputs("W9", sizes),
      fn: flash,
      fnFor: (variant) => (variant === "materialised" ? materialised : variant === "unfused" ? unfused : variant === "forward" ? forward : flash),
    };
  },
};

/** A training step of `loss`: its value and the gradients of all its inputs, as one flat array. */
function trainingStep(loss: (...xs: Tensor[]) => Tensor) {
  return (...xs: Tensor[]) => {
    const [value, grads] = valueAndGrad(loss, { argnums: xs.map((_, i) => i) })(...xs) as [Tensor, Tensor[]];
    return np.concatenate([np.reshape(value, [1]), ...grads.map((g) => np.reshape(g, [-1]))]);
  };
}

export function isWorkloadId(s: string): s is WorkloadId {
  return (WORKLOAD_IDS as readonly string[]).includes(s);
}

/** Workload `id` at DESIGN's sizes, or at `sizes` where given. */
export function workload<I extends WorkloadId>(id: I, sizes?: Partial<Sizes[I]>): Workload<I> {
  const s = { ...DEFAULT_SIZES[id], ...sizes } as Sizes[I];
  return { id, sizes: s, ...factories[id](s) };
}
