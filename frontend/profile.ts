/**
 * Per-kernel profiles of a compiled call, and their Chrome-trace form (the JSON
 * that chrome://tracing and Perfetto open).
 */
import type { ProfileEntry } from "../runtime/backend.js";

/** A kernel time in µs as ms to the microsecond, as the table and the timeline print it. */
export const kernelMs = (us: number): string => (us / 1000).toFixed(3);

export class Profile {
  constructor(
    readonly name: string,
    readonly backend: string,
    readonly entries: readonly ProfileEntry[],
  ) {}

  get totalUs(): number {
    return this.entries.reduce((s, e) => s + e.durUs, 0);
  }

  /** From the first launch's start (0) to the last one's end: the call's device time, gaps included. */
  get spanUs(): number {
    return Math.max(0, ...this.entries.map((e) => e.startUs + e.durUs));
  }

  /** Trace Event Format: one complete ("X") event per kernel launch, in microseconds. */
  toChromeTrace(): { traceEvents: object[]; displayTimeUnit: "ms" } {
    const meta = [
      { name: "process_name", ph: "M", pid: 1, tid: 1, args: { name: `smelt ${this.backend}` } },
      { name: "thread_name", ph: "M", pid: 1, tid: 1, args: { name: `@${this.name}` } },
    ];
    const events = this.entries.map((e) => ({
      name: e.kernel,
      cat: "kernel",
      ph: "X",
      ts: e.startUs,
      dur: e.durUs,
      pid: 1,
      tid: 1,
    }));
    return { traceEvents: [...meta, ...events], displayTimeUnit: "ms" };
  }

  /** A table of kernels by time, longest first. */
  toString(): string {
    const total = this.totalUs || 1;
    const rows = [...this.entries].sort((a, b) => b.durUs - a.durUs);
    const width = Math.max(6, ...rows.map((r) => r.kernel.length));
    return [
      `@${this.name} on ${this.backend}: ${this.entries.length} kernel launch(es), ${kernelMs(this.totalUs)} ms`,
      ...rows.map((r) => `  ${r.kernel.padEnd(width)}  ${kernelMs(r.durUs).padStart(9)} ms  ${((100 * r.durUs) / total).toFixed(1).padStart(5)}%`),
    ].join("\n");
  }
}
