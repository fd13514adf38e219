/**
 * Headless Chromium for the browser suites, driven by playwright-core. Pages are served
 * from a folder under https://smelt.test/ (a secure origin, which WebGPU requires) by
 * intercepting requests, so no port is opened. Chromium's WebGPU runs on SwiftShader here.
 *
 * Without a Chromium the suites skip with a printed reason, unless SMELT_REQUIRE_BROWSER=1
 * (CI) makes that a failure.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { extname, join, normalize } from "node:path";
import { type Browser, type Page, chromium } from "playwright-core";

const CANDIDATES = [process.env.SMELT_CHROMIUM, "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];

/** The Chromium binary, or undefined (with `missingReason` saying why). */
export const chromiumPath: string | undefined = CANDIDATES.find((p): p is string => !!p && existsSync(p));

export const missingReason = "no Chromium found (set SMELT_CHROMIUM, or `bash scripts/setup.sh` installs Debian's chromium)";

if (!chromiumPath) {
  if (process.env.SMELT_REQUIRE_BROWSER === "1") throw new Error(`SMELT_REQUIRE_BROWSER=1 but ${missingReason}`);
  console.warn(`browser suites skipped: ${missingReason}`);
}

export const ORIGIN = "https://smelt.test";

const TYPES: Record<string, string> = {
  ".html": "text/html",
  ".js": "text/javascript",
  ".mjs": "text/javascript",
  ".css": "text/css",
  ".map": "application/json",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
};

export interface OpenPage {
  readonly browser: Browser;
  readonly page: Page;
  /** Uncaught page errors and console.error lines, in order. */
  readonly errors: string[];
  /** Every console line, in order (`type: text`). */
  readonly console: string[];
  close(): Promise<void>;
}

/**
 * Launches Chromium with WebGPU enabled and opens `path` (e.g. "index.html") served from
 * `root`. `gpu: false` launches with WebGPU disabled (navigator.gpu offers no adapter);
 * `insecure: true` serves over plain http, where a page has no navigator.gpu at all.
 */
export async function openPage(
  root: string,
  path: string,
  options: { gpu?: boolean; width?: number; height?: number; insecure?: boolean } = {},
): Promise<OpenPage> {
  if (!chromiumPath) throw new Error(missingReason);
  const args = options.gpu === false ? ["--disable-webgpu"] : ["--enable-unsafe-webgpu"];
  const browser = await chromium.launch({ executablePath: chromiumPath, args });
  const page = await browser.newPage({ viewport: { width: options.width ?? 1280, height: options.height ?? 900 } });
  const errors: string[] = [];
  const lines: string[] = [];
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    lines.push(`${m.type()}: ${m.text()}`);
    if (m.type() === "error") errors.push(`console.error: ${m.text()}`);
  });
  const origin = options.insecure ? ORIGIN.replace("https:", "http:") : ORIGIN;
  await page.route(`${origin}/**`, async (route) => {
    const url = new URL(route.request().url());
    const rel = normalize(decodeURIComponent(url.pathname)).replace(/^\/+/, "");
    const file = join(root, rel || "index.html");
    if (rel.startsWith("..") || !existsSync(file) || !statSync(file).isFile()) {
      await route.fulfill({ status: 404, body: `not found: ${url.pathname}` });
      return;
    }
    await route.fulfill({ status: 200, contentType: TYPES[extname(file)] ?? "application/octet-stream", body: readFileSync(file) });
  });
  await page.goto(`${origin}/${path}`);
  return {
    browser,
    page,
    errors,
    console: lines,
    close: () => browser.close(),
  };
}
