/**
 * The playground page (examples/browser/), built as `npm run playground` builds it and opened
 * in headless Chromium: on SwiftShader's WebGPU, and without WebGPU. SMELT_SCREENSHOT=PATH
 * saves the ready page there (docs/playground.png is made so).
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { buildPlayground } from "../../scripts/playground.js";
import { type OpenPage, chromiumPath, openPage } from "./chromium.js";

/** A software adapter on a busy 2-core machine compiles every kernel of both variants. */
const RUN_TIMEOUT_MS = 240_000;

let dir: string;

beforeAll(async () => {
  if (!chromiumPath) return;
  dir = await buildPlayground(mkdtempSync(join(tmpdir(), "smelt-playground-")));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function runsStarted(p: OpenPage): Promise<number> {
  return p.page.evaluate(() => Number(document.body.dataset.run ?? 0));
}

/** Waits until a run after the first `after` has finished; its state ("ready" or "error"). */
async function finished(p: OpenPage, after: number): Promise<string> {
  await p.page.waitForFunction(
    (n) => Number(document.body.dataset.run ?? 0) > n && ["ready", "error"].includes(document.body.dataset.state ?? ""),
    after,
    { timeout: RUN_TIMEOUT_MS, polling: 100 },
  );
  return p.page.evaluate(() => document.body.dataset.state!);
}

const text = (p: OpenPage, selector: string) => p.page.locator(selector).first().innerText();

async function bars(p: OpenPage): Promise<Record<string, number>> {
  return p.page.evaluate(() =>
    Object.fromEntries(Array.from(document.querySelectorAll<SVGRectElement>("#chart rect"), (r) => [r.dataset.variant, Number(r.dataset.ms)])),
  );
}

async function expectTimedBars(p: OpenPage): Promise<void> {
  const b = await bars(p);
  expect(Object.keys(b).sort()).toEqual(["fused", "unfused"]);
  for (const ms of Object.values(b)) {
    expect(Number.isFinite(ms)).toBe(true);
    expect(ms).toBeGreaterThan(0);
  }
}

async function runFunction(p: OpenPage, source: string, types: string): Promise<string> {
  const before = await runsStarted(p);
  await p.page.fill("#source", source);
  await p.page.fill("#types", types);
  await p.page.click("#compile");
  return finished(p, before);
}

describe.skipIf(!chromiumPath)("the playground on WebGPU", () => {
  let p: OpenPage;
  beforeAll(async () => {
    p = await openPage(dir, "index.html");
    const state = await finished(p, 0);
    if (state !== "ready") throw new Error(`the page did not get ready: ${await text(p, "#error")}; ${p.errors.join("; ")}`);
    if (process.env.SMELT_SCREENSHOT) {
      const path = resolve(process.env.SMELT_SCREENSHOT);
      mkdirSync(dirname(path), { recursive: true });
      await p.page.screenshot({ path });
    }
  }, RUN_TIMEOUT_MS + 30_000);
  afterAll(() => p?.close());

  test("runs W1 on the page's WebGPU adapter and names the adapter", async () => {
    expect(await p.page.evaluate(() => [document.body.dataset.backend, document.body.dataset.shown])).toEqual(["webgpu", "W1"]);
    expect(await text(p, "#backend")).toMatch(/^WebGPU on \S/);
  });

  test("shows the traced IR", async () => {
    const ir = await text(p, "#ir");
    expect(ir).toMatch(/^func @W1\(%x: f32\[262144\]\)/);
    expect(ir).toContain("tanh %");
  });

  test("shows the graph after every pass, with the fuse pass's notes", async () => {
    const summaries = await p.page.locator("#passes summary").allInnerTexts();
    const passes = summaries.map((s) => s.split(" ")[0]);
    expect(passes[0]).toBe("trace");
    expect(passes).toEqual(expect.arrayContaining(["fuse", "memory-plan"]));
    const fuse = p.page.locator("#passes details", { has: p.page.locator("summary", { hasText: /^fuse\b/ }) });
    expect(await fuse.locator(".note").first().innerText()).toMatch(/^\/\/ fuse: @\w+ \(elementwise, \d+ ops/);
    expect(await fuse.locator("pre").innerText()).toContain("fusion %x");
  });

  test("shows the WGSL of each kernel", async () => {
    const kernels = p.page.locator("#kernels details:has(pre.wgsl)");
    expect(await kernels.count()).toBeGreaterThanOrEqual(2); // the fused kernel and the unfused list
    const wgsl = await kernels.first().locator("pre").textContent();
    expect(wgsl).toContain("@compute @workgroup_size(");
    expect(wgsl).toContain("fn main(");
  });

  test("charts fused and unfused steady times, with the number of runs and the adapter", async () => {
    await expectTimedBars(p);
    const caption = await text(p, "#chart figcaption");
    const adapter = (await text(p, "#backend")).replace(/^WebGPU on /, "");
    expect(caption).toContain("median of 10 awaited calls");
    expect(caption).toContain(adapter);
  });

  test("selecting another workload shows its graph and new times", async () => {
    await p.page.evaluate(() => document.querySelectorAll("#chart rect").forEach((r) => r.setAttribute("data-old", "")));
    const before = await runsStarted(p);
    await p.page.selectOption("#workload", "W3");
    expect(await finished(p, before)).toBe("ready");
    expect(await text(p, "#ir")).toMatch(/^func @W3\(%x: f32\[128,512\], %gamma: f32\[512\], %beta: f32\[512\]\)/);
    expect(await text(p, "#title")).toContain("layer norm");
    expect(await p.page.locator("#chart rect[data-old]").count()).toBe(0);
    await expectTimedBars(p);
  });

  test("a syntax error in the editor is a message in the page", async () => {
    expect(await runFunction(p, "(x) => np.add(x,", "f32[4]")).toBe("error");
    expect(await p.page.locator("#error").isVisible()).toBe(true);
    expect(await text(p, "#error")).toMatch(/^the function does not evaluate: SyntaxError: /);
    expect(await p.page.locator("#chart rect").count()).toBe(0);
  });

  test("a shape error in the editor names the primitive and the shapes", async () => {
    expect(await runFunction(p, "(x, y) => np.add(x, y)", "f32[2,3], f32[4]")).toBe("error");
    const message = await text(p, "#error");
    expect(message).toMatch(/^ShapeError: /);
    expect(message).toContain("f32[2,3]");
    expect(message).toContain("f32[4]");
  });

  test("a bad input type in the editor says which one", async () => {
    expect(await runFunction(p, "(x) => np.tanh(x)", "f32[2,3], float99[4]")).toBe("error");
    expect(await text(p, "#error")).toMatch(/^input type 2 \('float99\[4\]'\): /);
  });

  test("a function from the editor compiles, shows its kernels and is timed", async () => {
    const state = await runFunction(p, "(x, w, b) => nn.gelu(np.add(np.matmul(x, w), b))", "f32[16,32], f32[32,64], f32[64]");
    expect(state, await text(p, "#error")).toBe("ready");
    expect(await p.page.locator("#error").isVisible()).toBe(false);
    expect(await text(p, "#ir")).toMatch(/^func @f\(%x: f32\[16,32\], %w: f32\[32,64\], %b: f32\[64\]\)/);
    expect(await p.page.locator("#kernels summary", { hasText: /^fusion_matmul_\d/ }).count()).toBe(1);
    await expectTimedBars(p);
  });

  test("raised no page errors", () => {
    expect(p.errors).toEqual([]);
  });
});

describe.skipIf(!chromiumPath)("the playground without WebGPU", () => {
  let p: OpenPage;
  beforeAll(async () => {
    p = await openPage(dir, "index.html", { gpu: false });
    await finished(p, 0);
  }, RUN_TIMEOUT_MS + 30_000);
  afterAll(() => p?.close());

  test("says at the top that there is no WebGPU and it runs on the interpreter", async () => {
    expect(await p.page.evaluate(() => document.body.dataset.backend)).toBe("interp");
    expect(await text(p, "#backend")).toMatch(/^No WebGPU here: .*reference interpreter/);
  });

  test("still shows the IR, the passes, WGSL and a chart labelled as the interpreter's", async () => {
    expect(await p.page.evaluate(() => document.body.dataset.state)).toBe("ready");
    expect(await text(p, "#ir")).toMatch(/^func @W1\(/);
    expect(await p.page.locator("#passes .note", { hasText: /^\/\/ fuse: / }).count()).toBeGreaterThan(0);
    expect(await p.page.locator("#kernels pre.wgsl").first().textContent()).toContain("@compute");
    await expectTimedBars(p);
    expect(await text(p, "#chart figcaption")).toContain("on the reference interpreter (no WebGPU)");
  });

  test("raised no page errors", () => {
    expect(p.errors).toEqual([]);
  });
});
