/**
 * The browser suite's page: runs smelt's public API on the page's WebGPU adapter and on the
 * interpreter (both in the page), and leaves one record per check in `window.smeltSuite`
 * for tests/browser/suite.test.ts to assert on. A check that throws records its error.
 */
import { type WorkloadId, TINY_SIZES, workload } from "../../../bench/workloads.js";
import { ConcreteTensor, type Tensor, getBackend, grad, jit, nn, np, parseIR, printIR, compileIR, valueAndGrad } from "../../../browser.js";

export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

const TOL = { rtol: 1e-3, atol: 1e-4 };
const checks: Check[] = [];

/** A copy of a concrete tensor on the interpreter (the oracle). */
const toInterp = (t: Tensor) => (t as ConcreteTensor).to("interp");

/** The first element outside tolerance, or undefined. */
function mismatch(got: ArrayLike<number>, want: ArrayLike<number>): string | undefined {
  if (got.length !== want.length) return `length ${got.length} != ${want.length}`;
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!, w = want[i]!;
    if (g === w || (Number.isNaN(g) && Number.isNaN(w))) continue;
    if (!(Math.abs(g - w) <= TOL.atol + TOL.rtol * Math.abs(w))) return `element ${i}: got ${g}, want ${w}`;
  }
  return undefined;
}

async function check(name: string, body: () => Promise<string>): Promise<void> {
  try {
    checks.push({ name, ok: true, detail: await body() });
  } catch (e) {
    checks.push({ name, ok: false, detail: `${(e as Error).name}: ${(e as Error).message}` });
  }
}

const resources = () => performance.getEntriesByType("resource").map((r) => r.name.split("/").pop()!);

async function main(): Promise<void> {
  const backend = getBackend().name;
  await check("the default backend is webgpu", async () => {
    if (backend !== "webgpu") throw new Error(`default backend is ${backend}`);
    const t = getBackend().target!;
    return `subgroups ${t.features.subgroups}, f16 ${t.features.f16}, timestamps ${t.features.timestampQuery}`;
  });

  const ids: WorkloadId[] = ["W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8"];
  for (const id of ids) {
    const w = workload(id, TINY_SIZES[id]);
    const inputs = w.inputs();
    const xs = inputs.map((x) => np.array(x.data, { shape: [...x.shape] }));
    const onInterp = await Promise.all(xs.map(toInterp));
    const want = await jit(w.fn, { backend: "interp" })(...onInterp).data();
    for (const fuse of [true, false]) {
      await check(`${id} ${fuse ? "fused" : "unfused"} matches the interpreter`, async () => {
        const f = jit(w.fn, { backend: "webgpu", fuse });
        const got = await f(...xs).data();
        const m = mismatch(got, want);
        if (m) throw new Error(m);
        return `${f.lower(...xs).kernels.length} kernel(s), ${got.length} values`;
      });
    }
  }

  await check("grad(jit(f)) and jit(grad(f)) match the interpreter", async () => {
    const loss = (x: Tensor, w: Tensor) => np.mean(np.square(nn.gelu(np.matmul(x, w))));
    const xg = np.array(Float32Array.from({ length: 6 * 5 }, (_, i) => Math.sin(i)), { shape: [6, 5] });
    const wg = np.array(Float32Array.from({ length: 5 * 4 }, (_, i) => Math.cos(i) / 2), { shape: [5, 4] });
    const want = await (grad(jit(loss, { backend: "interp" }), { argnums: 1 })(await toInterp(xg), await toInterp(wg)) as Tensor).data();
    for (const g of [grad(jit(loss, { backend: "webgpu" }), { argnums: 1 }), jit(grad(loss, { argnums: 1 }), { backend: "webgpu" })]) {
      const m = mismatch(await (g(xg, wg) as Tensor).data(), want);
      if (m) throw new Error(m);
    }
    const [value] = valueAndGrad(loss)(xg, wg) as [Tensor, Tensor];
    return `value ${(await value.data())[0]!.toFixed(5)}, ${want.length} gradient values`;
  });

  await check("the IR parser loads on first parseIR, and printed IR parses back and runs", async () => {
    const before = resources().filter((r) => r.startsWith("parse-"));
    if (before.length) throw new Error(`the parser loaded before parseIR: ${before}`);
    const f = jit((x: Tensor) => nn.softmax(np.multiply(x, 2)));
    const x = np.array(Float32Array.from({ length: 24 }, (_, i) => i / 7), { shape: [4, 6] });
    const text = f.lower(x).text();
    const g = await parseIR(text);
    if (printIR(g) !== text) throw new Error(`round trip differs:\n${printIR(g)}\n---\n${text}`);
    const after = resources().filter((r) => r.startsWith("parse-"));
    if (!after.length) throw new Error("no parser chunk was fetched");
    const m = mismatch(await compileIR(g)(x).data(), await f(x).data());
    if (m) throw new Error(m);
    return `loaded ${after.join(", ")}`;
  });

  await check("a shape error names the user's line, not a place inside the bundle", async () => {
    // The user's code in a file of its own (as a page's script would be), smelt in the bundle.
    const user = new Function("np", "return np.add(np.zeros([2, 3]), np.zeros([4]));\n//# sourceURL=https://smelt.test/user-code.js") as (n: typeof np) => unknown;
    try {
      user(np);
    } catch (e) {
      const message = (e as Error).message;
      if (!/^add: shapes \[2,3\] and \[4\]/.test(message)) throw new Error(`not the shape error expected: ${message}`);
      if (!/user-code\.js:\d+:\d+$/.test(message)) throw new Error(`the message names no user line: ${message}\n${(e as Error).stack}`);
      return message.split("\n")[0]!;
    }
    throw new Error("np.add of [2,3] and [4] did not throw");
  });

  await check("profile() times every kernel with the adapter's timestamps", async () => {
    const w = workload("W5", TINY_SIZES.W5);
    const xs = w.inputs().map((i) => np.array(i.data, { shape: [...i.shape] }));
    const low = jit(w.fn).lower(...xs);
    const p = await low.profile(...xs);
    const names = p.entries.map((e) => e.kernel);
    const want = low.kernels.map((k) => k.name);
    if (names.join() !== want.join()) throw new Error(`profiled ${names} but the program has ${want}`);
    if (!p.entries.every((e) => Number.isFinite(e.durUs) && e.durUs >= 0)) throw new Error(`bad durations ${JSON.stringify(p.entries)}`);
    return `${names.length} kernels, ${p.entries.map((e) => e.durUs.toFixed(0)).join("/")} µs`;
  });
}

main()
  .catch((e) => checks.push({ name: "the suite page", ok: false, detail: String((e as Error).stack ?? e) }))
  .finally(() => {
    (window as unknown as { smeltSuite: Check[] }).smeltSuite = checks;
    document.body.dataset.state = "done";
  });
