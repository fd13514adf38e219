/**
 * The browser suite: smelt bundled for a page (as a user's bundler would, through the
 * browser entry) runs in headless Chromium on its WebGPU adapter (SwiftShader here):
 * W1–W8 at test sizes fused and unfused against the interpreter, grad, the lazily loaded
 * IR parser, profile(); the page entry's size budget; and the fallback to the interpreter
 * when the browser has no WebGPU.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ENTRY_BUDGET_BYTES, buildBrowser, pageBuildOptions } from "../../scripts/browser-build.js";
import type { Check } from "./page/suite.js";
import { type OpenPage, chromiumPath, missingReason, openPage } from "./chromium.js";

const root = join(import.meta.dirname, "../..");
const dir = mkdtempSync(join(tmpdir(), "smelt-browser-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Bundles a page script into `out` with an index.html that loads it. */
async function page(out: string, script: string): Promise<void> {
  await build(pageBuildOptions({ page: join(root, script) }, out));
  writeFileSync(join(out, "index.html"), `<!doctype html><meta charset="utf-8"><title>smelt</title><body><script type="module" src="page.js"></script></body>`);
}

describe("the page entry", () => {
  test(`bundles without Node modules, within ${ENTRY_BUDGET_BYTES / 1024} kB gzipped for the entry and its static imports`, async () => {
    const b = await buildBrowser(join(dir, "bundle"));
    const entry = b.files.filter((f) => f.static);
    expect(entry.map((f) => f.path)).toContain(b.entry);
    // The parser, the passes and the WebGPU backend are separate chunks loaded on demand.
    const lazy = b.files.filter((f) => !f.static).map((f) => f.path);
    for (const chunk of [/^parse-/, /^passes-/, /^webgpu-/]) expect(lazy.some((p) => chunk.test(p)), `${chunk} is a lazy chunk`).toBe(true);
    console.log(`page entry: ${(b.entryGzip / 1024).toFixed(1)} kB gzipped in ${entry.length} file(s)`);
    expect(b.entryGzip).toBeLessThanOrEqual(ENTRY_BUDGET_BYTES);
  });
});

describe.skipIf(!chromiumPath)(`in headless Chromium${chromiumPath ? "" : ` (skipped: ${missingReason})`}`, () => {
  let open: OpenPage;
  let checks: Check[];

  beforeAll(async () => {
    const out = join(dir, "suite");
    await page(out, "tests/browser/page/suite.ts");
    open = await openPage(out, "index.html");
    await open.page.waitForSelector("body[data-state=done]", { state: "attached", timeout: 600_000 });
    checks = await open.page.evaluate(() => (window as unknown as { smeltSuite: Check[] }).smeltSuite);
    console.log(checks.map((c) => `${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.detail}`).join("\n"));
  }, 700_000);
  afterAll(async () => open?.close());

  const result = (name: string) => {
    const c = checks.find((x) => x.name === name);
    if (!c) throw new Error(`the page ran no check '${name}'; it ran: ${checks.map((x) => x.name).join("; ")}`);
    return c;
  };
  const expectPass = (name: string) => {
    const c = result(name);
    expect(c.ok, `${c.name}: ${c.detail}`).toBe(true);
  };

  test("the page throws nothing and runs on WebGPU", () => {
    expect(open.errors).toEqual([]);
    expect(checks.filter((c) => c.name === "the suite page")).toEqual([]);
    expectPass("the default backend is webgpu");
  });

  for (const id of ["W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8"])
    for (const variant of ["fused", "unfused"])
      test(`${id} ${variant} matches the interpreter`, () => expectPass(`${id} ${variant} matches the interpreter`));

  test("grad through jit matches the interpreter", () => expectPass("grad(jit(f)) and jit(grad(f)) match the interpreter"));
  test("parseIR loads the parser on first use and round-trips", () =>
    expectPass("the IR parser loads on first parseIR, and printed IR parses back and runs"));
  test("a shape error points at the user's line", () => expectPass("a shape error names the user's line, not a place inside the bundle"));
  test("profile() times every kernel", () => expectPass("profile() times every kernel with the adapter's timestamps"));
});

describe.skipIf(!chromiumPath)("in Chromium without WebGPU, importing smelt falls back to the interpreter and says why", () => {
  const fallback = async (options: { gpu?: boolean; insecure?: boolean }, why: RegExp) => {
    const out = join(dir, "nogpu");
    await build(pageBuildOptions({ page: join(root, "tests/browser/page/fallback.ts") }, out));
    writeFileSync(join(out, "index.html"), `<!doctype html><body><script type="module" src="page.js"></script></body>`);
    const p = await openPage(out, "index.html", options);
    try {
      await p.page.waitForSelector("body[data-state]", { state: "attached", timeout: 120_000 });
      expect(p.errors).toEqual([]);
      expect(await p.page.evaluate(() => document.body.dataset.state)).toBe("interp 2,4,6");
      const warning = p.console.find((l) => l.startsWith("warning: smelt:"));
      expect(warning).toMatch(/using the reference interpreter/);
      expect(warning).toMatch(why);
      // Browser words, not the Node platform's advice.
      expect(warning).not.toMatch(/setup\.sh|lavapipe|npm install/);
    } finally {
      await p.close();
    }
  };

  test("WebGPU disabled: navigator.gpu offers no adapter", () =>
    fallback({ gpu: false }, /no WebGPU adapter found; the browser has WebGPU but offers no adapter/), 180_000);
  test("an insecure origin: no navigator.gpu at all", () =>
    fallback({ insecure: true }, /this browser exposes no navigator\.gpu.*secure origin/), 180_000);
});
