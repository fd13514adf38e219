/**
 * The browser bundle: `browser.ts` bundled by esbuild for a page (ES modules, minified,
 * split so that what loads on demand is its own file). The page's entry script and what
 * it imports statically must stay within ENTRY_BUDGET_BYTES gzipped; the WebGPU backend
 * (loaded when the page has an adapter), the passes (loaded by `init()`) and the IR parser
 * (loaded by the first `parseIR`) are separate chunks.
 *
 *   npx tsx scripts/browser-build.ts [OUTDIR]     (default dist/browser-bundle)
 */
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { type BuildOptions, type Plugin, build } from "esbuild";

export const ENTRY_BUDGET_BYTES = 50 * 1024;

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export interface BrowserBuild {
  readonly outdir: string;
  /** The entry file (smelt.js), relative to outdir. */
  readonly entry: string;
  /** Every output file with its size and gzipped size, and whether the entry loads it statically. */
  readonly files: readonly { path: string; bytes: number; gzip: number; static: boolean }[];
  /** Gzipped bytes of the entry and its static imports: what a page loads before smelt runs. */
  readonly entryGzip: number;
}

/**
 * Code inside this repository imports smelt as `index.ts` (the Node entry), as the
 * examples and benchmark workloads do; in a page that import must mean `browser.ts`, as the
 * package's `browser` export condition makes `import "smelt"` mean for a user's bundler.
 */
export const browserEntryPlugin: Plugin = {
  name: "smelt-browser-entry",
  setup(b) {
    const nodeEntry = join(root, "index.ts");
    b.onResolve({ filter: /(^|\/)index\.js$/ }, (args) => {
      const target = resolve(args.resolveDir, args.path).replace(/\.js$/, ".ts");
      return target === nodeEntry ? { path: join(root, "browser.ts") } : undefined;
    });
  },
};

/** esbuild options for page code: ES modules for the browser, split, minified, smelt's browser entry. */
export function pageBuildOptions(entryPoints: Record<string, string>, outdir: string): BuildOptions & { metafile: true } {
  return {
    entryPoints,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    splitting: true,
    minify: true,
    sourcemap: true,
    metafile: true,
    outdir,
    logLevel: "warning",
    plugins: [browserEntryPlugin],
  };
}

/** Bundles `entryPoint` (default browser.ts) for the browser into outdir. */
export async function buildBrowser(outdir: string, entryPoint = join(root, "browser.ts")): Promise<BrowserBuild> {
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const result = await build(pageBuildOptions({ smelt: entryPoint }, outdir));
  const outputs = result.metafile.outputs;
  const entryKey = Object.keys(outputs).find((k) => outputs[k]!.entryPoint !== undefined)!;
  const loadedStatically = new Set<string>();
  const walk = (key: string) => {
    if (loadedStatically.has(key)) return;
    loadedStatically.add(key);
    for (const i of outputs[key]!.imports) if (i.kind === "import-statement") walk(i.path);
  };
  walk(entryKey);
  const files = Object.keys(outputs)
    .filter((k) => k.endsWith(".js"))
    .map((k) => {
      const bytes = readFileSync(resolve(k));
      return { path: relative(outdir, resolve(k)), bytes: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length, static: loadedStatically.has(k) };
    });
  const entryGzip = files.filter((f) => f.static).reduce((s, f) => s + f.gzip, 0);
  return { outdir, entry: relative(outdir, resolve(entryKey)), files, entryGzip };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = resolve(process.argv[2] ?? join(root, "dist", "browser-bundle"));
  const b = await buildBrowser(out);
  for (const f of b.files)
    console.log(`${f.path.padEnd(28)} ${(f.bytes / 1024).toFixed(1).padStart(7)} kB  ${(f.gzip / 1024).toFixed(1).padStart(6)} kB gzip${f.static ? "  (entry)" : ""}`);
  console.log(`entry and its static imports: ${(b.entryGzip / 1024).toFixed(1)} kB gzipped (budget ${ENTRY_BUDGET_BYTES / 1024} kB)`);
  if (b.entryGzip > ENTRY_BUDGET_BYTES) process.exitCode = 1;
}
