/**
 * float64 mode for gradient checks. The interpreter computes every op in float64
 * but stores f32 results through Float32Array (allocHost) and rounds constants
 * (fromFloat). A suite that mocks those two modules with the factories below gets
 * Float64Array storage for f32 and unrounded constants, so central differences
 * are accurate to ~1e-10 instead of ~1e-3. vi.mock is hoisted above imports, so
 * the factories are imported inside it:
 *
 *   vi.mock("../../ir/dtype.js", async (orig) => (await import("./f64.js")).f64Dtype(await orig()));
 *   vi.mock("../../runtime/interp/host.js", async (orig) => (await import("./f64.js")).f64Host(await orig()));
 *
 * This file imports nothing of smelt's, so the factories cannot recurse into the mock.
 */
type AllocHost = (dtype: string, n: number) => unknown;
type FromFloat = (dtype: string) => (x: number) => number;

export function f64Dtype<M>(m: M): M {
  const alloc = (m as { allocHost: AllocHost }).allocHost;
  return { ...m, allocHost: (d: string, n: number) => (d === "f32" ? new Float64Array(n) : alloc(d, n)) };
}

export function f64Host<M>(m: M): M {
  const from = (m as { fromFloat: FromFloat }).fromFloat;
  return { ...m, fromFloat: (d: string) => (d === "f32" ? (x: number) => x : from(d)) };
}
