/**
 * The package as a user gets it. `npm pack` runs the build (prepack) in a copy of this
 * checkout, so the build's clean step empties the copy's dist/ and not the one other suites
 * read; a fresh project installs the tarball with `--omit=optional`, as a browser-only
 * project would, then runs smelt through its package name in Node and, bundled by esbuild
 * with nothing but the `browser` export condition choosing the entry, in Chromium.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { chromiumPath, missingReason, openPage } from "../browser/chromium.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Inputs of the quickstart, and the same computation in plain JS (float64). */
const X = [
  [1, -2, 3],
  [0.5, 4, -1],
];
const W = [
  [1, 0, -1, 0.5],
  [0, 1, 2, -1],
  [-1, 2, 0.25, 1],
];
const B = [0.1, -0.2, 0.3, 0];

function expected(): number[] {
  return X.flatMap((row) => {
    const z = W[0]!.map((_, j) => Math.max(0, row.reduce((s, xk, k) => s + xk * W[k]![j]!, 0)) + B[j]!);
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const sum = e.reduce((s, v) => s + v, 0);
    return e.map((v) => v / sum);
  });
}

/** The program both the Node script and the page run, with `report(result)` at the end. */
const program = (report: string) => `import { getBackend, jit, nn, np } from "smelt";
const f = jit((x, w, b) => nn.softmax(np.add(nn.relu(np.matmul(x, w)), b)));
const y = f(np.array(${JSON.stringify(X)}), np.array(${JSON.stringify(W)}), np.array(${JSON.stringify(B)}));
const result = { backend: getBackend().name, shape: y.shape, data: Array.from(await y.data()) };
${report}
`;

/** The environment without npm's lifecycle variables or the suites' SMELT_BACKEND, as a user's shell has. */
function userEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && k !== "SMELT_BACKEND"));
}

function sh(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", env: userEnv(), maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status ?? r.signal}) in ${cwd}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function expectClose(got: number[], want: number[]): void {
  expect(got.length).toBe(want.length);
  const worst = Math.max(...got.map((g, i) => Math.abs(g - want[i]!)));
  expect(worst, `got ${got}, want ${want}`).toBeLessThan(1e-5);
}

const STALE = "dist/left-by-an-old-build.js";

describe("the npm package", () => {
  let work: string;
  let files: string[];
  let app: string;
  let site: string | undefined;

  /** Bundles the page program in the fresh project with the repository's esbuild (once). */
  function bundlePage(): string {
    if (site) return site;
    writeFileSync(join(app, "page.js"), program("document.body.dataset.result = JSON.stringify(result);"));
    sh(join(root, "node_modules/.bin/esbuild"), ["page.js", "--bundle", "--format=esm", "--outfile=site/page.js"], app);
    writeFileSync(join(app, "site/index.html"), `<!doctype html>\n<meta charset="utf-8">\n<body>\n<script type="module" src="page.js"></script>\n`);
    return (site = join(app, "site"));
  }

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "smelt-pack-"));
    const checkout = join(work, "checkout");
    const tracked = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: root, encoding: "utf8" });
    for (const f of tracked.split("\0")) {
      if (!f || !existsSync(join(root, f))) continue;
      mkdirSync(dirname(join(checkout, f)), { recursive: true });
      copyFileSync(join(root, f), join(checkout, f));
    }
    symlinkSync(join(root, "node_modules"), join(checkout, "node_modules"));
    mkdirSync(join(checkout, "dist"));
    writeFileSync(join(checkout, STALE), "export {};\n");

    const out = sh("npm", ["pack", "--pack-destination", work], checkout).trim().split("\n");
    const tarball = join(work, out[out.length - 1]!);
    files = sh("tar", ["-tzf", tarball], work)
      .split("\n")
      .filter(Boolean)
      .map((p) => p.replace(/^package\//, ""));

    app = join(work, "app");
    mkdirSync(app);
    sh("npm", ["init", "-y"], app);
    sh("npm", ["pkg", "set", "type=module"], app);
    sh("npm", ["install", tarball, "--omit=optional", "--no-audit", "--no-fund", "--prefer-offline"], app);
  }, 300_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test("the tarball holds the entries, the CLI, README, LICENSE and package.json", () => {
    for (const f of ["package.json", "README.md", "LICENSE", "dist/index.js", "dist/index.d.ts", "dist/browser.js", "dist/browser.d.ts", "dist/api.js", "dist/cli/main.js"])
      expect(files).toContain(f);
  });

  test("the tarball holds nothing but built JavaScript and its types besides those three files", () => {
    const stray = files.filter((f) => !["package.json", "README.md", "LICENSE"].includes(f) && !/^dist\/.+(\.d\.ts|\.js)$/.test(f));
    expect(stray).toEqual([]);
    expect(files.filter((f) => /^(tests|\.ci|scratch|scripts|examples|dist\/examples)\//.test(f) || /vitest\.config|\.test\.|\.map$/.test(f))).toEqual([]);
  });

  test("a file left in dist/ by an old build does not ship: the build starts from an empty dist/", () => {
    expect(files).not.toContain(STALE);
  });

  test("installing with --omit=optional leaves out Dawn (webgpu) and koffi", () => {
    expect(existsSync(join(app, "node_modules/smelt/package.json"))).toBe(true);
    expect(existsSync(join(app, "node_modules/webgpu"))).toBe(false);
    expect(existsSync(join(app, "node_modules/koffi"))).toBe(false);
  });

  test("in Node, `import from \"smelt\"` without webgpu runs on the interpreter, says why, and computes what plain JS does", () => {
    writeFileSync(join(app, "quickstart.js"), program("console.log(JSON.stringify(result));"));
    const r = spawnSync(process.execPath, ["quickstart.js"], { cwd: app, encoding: "utf8", env: userEnv() });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain("smelt: using the reference interpreter");
    expect(r.stderr).toContain("the optional 'webgpu' package (Dawn) could not be loaded");
    const result = JSON.parse(r.stdout.trim().split("\n").pop()!) as { backend: string; shape: number[]; data: number[] };
    expect(result.backend).toBe("interp");
    expect(result.shape).toEqual([2, 4]);
    expectClose(result.data, expected());
  });

  test("the installed `smelt` command traces a module that imports smelt by name (one smelt, not two)", () => {
    writeFileSync(
      join(app, "model.js"),
      `import { np } from "smelt";\nexport function double(x) { return np.multiply(x, 2); }\ndouble.inputs = ["f32[3]"];\n`,
    );
    const r = spawnSync(join(app, "node_modules/.bin/smelt"), ["ir", "model.js"], { cwd: app, encoding: "utf8", env: { ...userEnv(), SMELT_BACKEND: "interp" } });
    expect(r.stderr).not.toContain("loaded twice");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("func @double(%x: f32[3]) -> (f32[3])");
  });

  test("esbuild, with no options but --bundle, bundles the browser entry and none of the Node one", () => {
    // Unminified, esbuild names each module it bundled in a comment.
    const bundle = readFileSync(join(bundlePage(), "page.js"), "utf8");
    expect(bundle).toContain("// node_modules/smelt/dist/browser.js");
    expect(bundle).not.toContain("// node_modules/smelt/dist/index.js");
    expect(bundle).not.toContain("node-platform.js");
  });

  test.skipIf(!chromiumPath)("the bundled page computes what plain JS does, on WebGPU, with no errors", async () => {
    const p = await openPage(bundlePage(), "index.html");
    try {
      const done = await p.page
        .waitForFunction(() => document.body.dataset.result, undefined, { timeout: 120_000 })
        .then((h) => h.jsonValue())
        .catch((e: Error) => {
          throw new Error(`the page reported no result (${e.message}); page errors: ${p.errors.join("; ")}`);
        });
      const result = JSON.parse(done as string) as { backend: string; shape: number[]; data: number[] };
      expect(p.errors).toEqual([]);
      expect(result.backend, p.console.join("\n")).toBe("webgpu");
      expect(result.shape).toEqual([2, 4]);
      expectClose(result.data, expected());
    } finally {
      await p.close();
    }
  }, 180_000);
});

if (!chromiumPath) console.warn(`tests/package: the Chromium half is skipped: ${missingReason}`);
