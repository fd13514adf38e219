/**
 * The routed MoE layer's grouped matmuls against plain matmuls of the same sizes: expert1
 * ([T·k, d] gathered rows · each expert's [d, h], exact-GELU epilogue) against one
 * [T·k, d] · [d, h] matmul with the same epilogue, expert2 ([T·k, h] · [h, d], scattered rows)
 * against one [T·k, h] · [h, d]. Useful work only: T·k rows, not the rows the grouped tiles
 * pad to. Kernel times are the device's timestamps (Lowered.profile), the layer and the
 * plain matmuls profiled in alternation, `rounds` times, medians.
 */
import type { Tensor } from "../frontend/core.js";
import { jit } from "../frontend/jit.js";
import * as nn from "../frontend/nn.js";
import * as np from "../frontend/np.js";
import * as random from "../frontend/random.js";
import { median } from "./timing.js";

export interface GroupedRate {
  /** The grouped kernel's and the plain matmul's median times. */
  readonly groupedMs: number;
  readonly plainMs: number;
}

export async function groupedVsPlain(layer: ReturnType<typeof jit>, args: readonly Tensor[], sizes: { tokens: number; d: number; k: number; hidden: number },
  rounds: number): Promise<[GroupedRate, GroupedRate]> {
  const { tokens, d, k, hidden: h } = sizes;
  const rows = tokens * k;
  const key = random.key(7);
  const u = (i: number, shape: number[], scale: number) => np.multiply(random.uniform(random.foldIn(key, i), shape, { minval: -1, maxval: 1 }), scale);
  const plain: [ReturnType<typeof jit>, Tensor[]][] = [
    [jit((a: Tensor, b: Tensor) => nn.gelu(np.matmul(a, b), { approximate: false }), { name: "plain_expert1" }), [u(0, [rows, d], 1), u(1, [d, h], 1 / Math.sqrt(d))]],
    [jit((a: Tensor, b: Tensor) => np.matmul(a, b), { name: "plain_expert2" }), [u(2, [rows, h], 1), u(3, [h, d], 1 / Math.sqrt(h))]],
  ];
  const ms: number[][] = [[], [], [], []];
  try {
    const lowered = layer.lower(...args);
    for (let r = 0; r < rounds; r++) {
      for (const e of (await lowered.profile(...args)).entries) {
        const m = /expert([12])$/.exec(e.kernel);
        if (m) ms[Number(m[1]) - 1]!.push(e.durUs / 1000);
      }
      for (const [i, [f, xs]] of plain.entries())
        ms[2 + i]!.push((await f.lower(...xs).profile(...xs)).entries.reduce((s, e) => s + e.durUs / 1000, 0));
    }
  } finally {
    for (const [f, xs] of plain) {
      for (const x of xs) x.dispose();
      f.clearCache();
    }
  }
  if (!ms[0]!.length || !ms[1]!.length) throw new Error("the layer has no grouped expert kernels (is the moe pass on?)");
  return [0, 1].map((i) => ({ groupedMs: median(ms[i]!), plainMs: median(ms[2 + i]!) })) as [GroupedRate, GroupedRate];
}

/** "expert1 at 100%, expert2 at 93% of plain matmuls of the same sizes" (useful GFLOP/s: the plain time over the grouped one). */
export function describeRates(rates: readonly GroupedRate[], rounds: number): string {
  const pct = rates.map((r, i) => `expert${i + 1} at ${((100 * r.plainMs) / r.groupedMs).toFixed(0)}%`);
  return `grouped matmuls: ${pct.join(", ")} of plain matmuls of the same sizes (T·k rows; device timestamps, median of ${rounds})`;
}
