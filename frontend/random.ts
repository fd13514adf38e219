/**
 * `random`: JAX-style explicit PRNG keys over the counter-based Threefry-2x32
 * generator (Salmon, Moraes, Dror & Shaw, "Parallel random numbers: as easy as
 * 1, 2, 3", SC 2011; 20 rounds, the variant JAX uses). A key is an immutable pair
 * of u32 words; `split` and `foldIn` derive new keys; a draw hashes counters
 * 0, 1, 2, … under the key, so results depend only on (key, shape), on any machine.
 *
 * Values are generated on the host and uploaded: the results are concrete
 * tensors. Inside `jit` they are therefore captured constants of the trace, not
 * graph nodes, and a key passed to a jitted function is a static argument (each
 * distinct key object traces once). Draw outside jit and pass the tensors in when
 * the randomness must change between calls.
 */
import { type Shape, sizeOf } from "../ir/dtype.js";
import type { Tensor } from "./core.js";
import { fromHost } from "./creation.js";
import { shapeError, shapeOf } from "./np-broadcast.js";

const ROTATIONS = [[13, 15, 26, 6], [17, 29, 16, 24]] as const;
/** Threefry's key-schedule parity constant (Skein specification). */
const PARITY = 0x1bd11bda;

/** Threefry-2x32-20: the 64-bit block `counter` encrypted under `key`. Exported for known-answer tests. */
export function threefry2x32(key: readonly [number, number], counter: readonly [number, number]): [number, number] {
  const out = new Uint32Array(2);
  threefryInto(key[0] >>> 0, key[1] >>> 0, counter[0] >>> 0, counter[1] >>> 0, out, 0);
  return [out[0]!, out[1]!];
}

function threefryInto(k0: number, k1: number, c0: number, c1: number, out: Uint32Array, at: number): void {
  const ks = [k0, k1, (k0 ^ k1 ^ PARITY) >>> 0];
  let x0 = (c0 + k0) >>> 0, x1 = (c1 + k1) >>> 0;
  for (let group = 0; group < 5; group++) {
    for (const r of ROTATIONS[group % 2]!) {
      x0 = (x0 + x1) >>> 0;
      x1 = ((x1 << r) | (x1 >>> (32 - r))) ^ x0;
    }
    // Key injection after every four rounds.
    x0 = (x0 + ks[(group + 1) % 3]!) >>> 0;
    x1 = (x1 + ks[(group + 2) % 3]! + group + 1) >>> 0;
  }
  out[at] = x0;
  out[at + 1] = x1;
}

/**
 * Counter domains keep the streams apart: draws use counters (hi, lo) with
 * hi < 2³¹; split uses (SPLIT, i), foldIn uses (FOLD, data).
 */
const SPLIT = 0x80000000, FOLD = 0x80000001;

/** A PRNG key: two u32 words. Immutable; reusing a key repeats its draws. */
export class PRNGKey {
  readonly impl = "threefry2x32";
  readonly data: readonly [number, number];
  constructor(k0: number, k1: number) {
    this.data = Object.freeze([k0 >>> 0, k1 >>> 0]) as readonly [number, number];
    Object.freeze(this);
  }
  toString(): string {
    const hex = (w: number) => w.toString(16).padStart(8, "0");
    return `PRNGKey(${hex(this.data[0])}${hex(this.data[1])})`;
  }
}

function checkKey(op: string, key: unknown): asserts key is PRNGKey {
  if (!(key instanceof PRNGKey)) throw new TypeError(`random.${op}: expected a key from random.key(seed), got ${String(key)}`);
}

/** A key from an integer seed (up to 2⁵³; negative seeds are taken as 64-bit two's complement, as in JAX). */
export function key(seed: number): PRNGKey {
  if (!Number.isSafeInteger(seed)) throw new TypeError(`random.key: seed must be a safe integer, got ${seed}`);
  return new PRNGKey(Math.floor(seed / 2 ** 32), seed >>> 0);
}

/** `n` new independent keys derived from `key` (default 2). */
export function split(k: PRNGKey, n = 2): PRNGKey[] {
  checkKey("split", k);
  if (!Number.isInteger(n) || n < 0) throw new TypeError(`random.split: n = ${n} must be a non-negative integer`);
  const w = new Uint32Array(2);
  return Array.from({ length: n }, (_, i) => {
    threefryInto(k.data[0], k.data[1], SPLIT, i, w, 0);
    return new PRNGKey(w[0]!, w[1]!);
  });
}

/** A new key from `key` and an integer, e.g. a step or layer number. */
export function foldIn(k: PRNGKey, data: number): PRNGKey {
  checkKey("foldIn", k);
  const w = new Uint32Array(2);
  threefryInto(k.data[0], k.data[1], FOLD, data >>> 0, w, 0);
  return new PRNGKey(w[0]!, w[1]!);
}

/** `n` random u32 words of `key`'s stream: counter i gives words 2i and 2i+1. */
function words(k: PRNGKey, n: number): Uint32Array {
  const out = new Uint32Array(n + (n % 2));
  for (let i = 0; i < out.length / 2; i++) threefryInto(k.data[0], k.data[1], Math.floor(i / 2 ** 32), i >>> 0, out, 2 * i);
  return n % 2 ? out.subarray(0, n) : out;
}

/** Uniformly random u32 bits. */
export function bits(k: PRNGKey, shape: number | Shape = []): Tensor {
  checkKey("bits", k);
  const s = shapeOf("random.bits", shape);
  return fromHost("u32", s, words(k, sizeOf(s)).slice());
}

/** The largest f32 strictly below x (x itself rounded down if it is not an f32). */
function f32Below(x: number): number {
  const f = new Float32Array([x]);
  if (f[0]! < x) return f[0]!;
  const i = new Int32Array(f.buffer);
  if (f[0] === 0) return -(2 ** -149);
  i[0] = f[0]! > 0 ? i[0]! - 1 : i[0]! + 1;
  return f[0]!;
}

/** f32 samples uniform on [minval, maxval): the top 23 bits of a word scaled into [0, 1). */
export function uniform(k: PRNGKey, shape: number | Shape = [], options: { minval?: number; maxval?: number } = {}): Tensor {
  checkKey("uniform", k);
  const s = shapeOf("random.uniform", shape);
  const lo = options.minval ?? 0, hi = options.maxval ?? 1;
  if (!(hi > lo)) throw shapeError("random.uniform", `maxval (${hi}) must be greater than minval (${lo})`);
  const w = words(k, sizeOf(s));
  const out = new Float32Array(w.length);
  const top = f32Below(hi);
  for (let i = 0; i < w.length; i++) out[i] = Math.min(lo + (w[i]! >>> 9) * 2 ** -23 * (hi - lo), top);
  return fromHost("f32", s, out);
}

/**
 * f32 samples from N(mean, stddev²) by the Box–Muller transform: each pair of words
 * (u₁ ∈ (0, 1], u₂ ∈ [0, 1)) gives r·cos θ and r·sin θ with r = √(−2 ln u₁), θ = 2π u₂.
 */
export function normal(k: PRNGKey, shape: number | Shape = [], options: { mean?: number; stddev?: number } = {}): Tensor {
  checkKey("normal", k);
  const s = shapeOf("random.normal", shape);
  const n = sizeOf(s);
  const w = words(k, n + (n % 2));
  const out = new Float32Array(n);
  const mu = options.mean ?? 0, sigma = options.stddev ?? 1;
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log((w[i]! + 1) * 2 ** -32));
    const theta = 2 * Math.PI * w[i + 1]! * 2 ** -32;
    out[i] = mu + sigma * r * Math.cos(theta);
    if (i + 1 < n) out[i + 1] = mu + sigma * r * Math.sin(theta);
  }
  return fromHost("f32", s, out);
}

/** (a · b) mod m, exact for a, b < m ≤ 2³² (b split into 16-bit halves keeps products below 2⁵³). */
function mulmod(a: number, b: number, m: number): number {
  return (((a * Math.floor(b / 65536)) % m) * 65536 + a * (b % 65536)) % m;
}

/**
 * i32 samples uniform on the integers [minval, maxval). Each sample reduces a
 * 64-bit draw modulo the span, so the bias is below span / 2⁶⁴.
 */
export function randint(k: PRNGKey, shape: number | Shape, minval: number, maxval: number): Tensor {
  checkKey("randint", k);
  const s = shapeOf("random.randint", shape);
  if (!Number.isInteger(minval) || !Number.isInteger(maxval) || minval < -(2 ** 31) || maxval > 2 ** 31 || maxval <= minval)
    throw shapeError("random.randint", `needs integers -2^31 <= minval < maxval <= 2^31, got [${minval}, ${maxval})`);
  const span = maxval - minval;
  const n = sizeOf(s);
  const w = words(k, 2 * n);
  const radix = 2 ** 32 % span;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = minval + ((mulmod(w[2 * i]! % span, radix, span) + (w[2 * i + 1]! % span)) % span);
  return fromHost("i32", s, out);
}

/** bool samples that are true with probability p. */
export function bernoulli(k: PRNGKey, p = 0.5, shape: number | Shape = []): Tensor {
  checkKey("bernoulli", k);
  const s = shapeOf("random.bernoulli", shape);
  const w = words(k, sizeOf(s));
  const out = new Uint8Array(w.length);
  for (let i = 0; i < w.length; i++) out[i] = (w[i]! >>> 9) * 2 ** -23 < p ? 1 : 0;
  return fromHost("bool", s, out);
}

/** A random permutation of 0..n-1 (i32), by Fisher–Yates driven by the key's stream. */
export function permutation(k: PRNGKey, n: number): Tensor {
  checkKey("permutation", k);
  if (!Number.isInteger(n) || n < 0) throw shapeError("random.permutation", `n = ${n} must be a non-negative integer`);
  const w = words(k, 2 * n);
  const out = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const span = i + 1;
    const j = (mulmod(w[2 * i]! % span, 2 ** 32 % span, span) + (w[2 * i + 1]! % span)) % span;
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return fromHost("i32", [n], out);
}
