import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { parseIRSync } from "../../ir/parse.js";
import { printIR } from "../../ir/print.js";
import { gpu } from "../runtime/webgpu-helpers.js";
import { byClass, parseSvg } from "../bench/svg.js";

const root = join(import.meta.dirname, "../..");
function smelt(...args: string[]): string {
  return execFileSync(process.execPath, ["--import", "tsx", join(root, "cli/main.ts"), ...args], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, SMELT_BACKEND: "interp" },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** Exit status, stdout and stderr of `smelt args` run from the sources. */
function run(args: string[], env: Record<string, string | undefined> = {}) {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(root, "cli/main.ts"), ...args], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, SMELT_BACKEND: "interp", ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("the smelt command", () => {
  test("`smelt ir` prints the traced IR of a module's declared functions, and it parses back", () => {
    const out = smelt("ir", "examples/models.ts", "--fn", "softmax");
    expect(out).toContain("func @softmax(%x: f32[4,32]) -> (f32[4,32])");
    expect(printIR(parseIRSync(out))).toBe(out.replace(/\n+$/, "\n"));
  });

  test("`smelt ir --after all` dumps the graph after every pass, with the fusion notes", () => {
    const out = smelt("ir", "examples/models.ts", "--fn", "layerNorm", "--after", "all");
    for (const pass of ["trace", "inline", "canonicalize", "fuse", "canonicalize.2", "memory-plan"])
      expect(out).toContain(`// ---- after ${pass}\n`);
    expect(out).toMatch(/fusion .*kind="reduction"/);
  });

  test("`smelt ir --after moe` on the README's Qwen-style layer: one routed, gated, renormalised moe_ffn; the loss's router values kept outside", () => {
    const out = smelt("ir", "examples/models.ts", "--fn", "moeSwiglu", "--after", "moe");
    expect(out).toContain("// moe: moe_ffn over 6 tokens × 8, 4 experts of hidden 16, top-2, router softmax_topk_norm, gated (w3), 3 router value(s) also read outside (kept there)");
    expect(out).toMatch(/moe_ffn %x, %gate, %w1, %w3, %w2 \{body=@moe, k=2, b1=false, b2=false, router="softmax_topk_norm", gated=true, capacity=0\}/);
  });

  test("`--no-fuse` compiles without the fuse pass", () => {
    const out = smelt("ir", "examples/models.ts", "--fn", "chain", "--after", "all", "--no-fuse");
    expect(out).not.toContain("after fuse");
  });

  test("a module without declared inputs is a clear error, not a stack trace", () => {
    const dir = mkdtempSync(join(tmpdir(), "smelt-cli-"));
    const file = join(dir, "empty.ts");
    writeFileSync(file, "export const x = 1;\n");
    let stderr = "";
    try {
      smelt("ir", file);
    } catch (e) {
      stderr = String((e as { stderr: string }).stderr);
    }
    expect(stderr).toContain("exports no function with an `inputs` list");
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  test("an unknown command prints the usage and fails", () => {
    expect(() => smelt("frobnicate")).toThrow(/unknown command 'frobnicate'/);
  });

  test("`smelt kernels` lists the kernels of the compiled program", () => {
    const out = smelt("kernels", "examples/models.ts", "--fn", "chain");
    expect(out).toMatch(/@chain: \d+ kernel\(s\)/);
  });

  test("`smelt kernels` writes all of a long listing into a pipe before it exits", () => {
    // Over 64 KiB of CUDA source: an exit right after the write once cut it at the pipe's
    // buffer. Through a shell's pipe (pipe(2)); the socket pair spawn gives the child did not
    // show the loss.
    const cli = ["--import", "tsx", join(root, "cli/main.ts"), "kernels", "tests/cli/wide.ts", "--target", "cuda"];
    const p = spawnSync("sh", ["-c", '"$@" | cat', "sh", process.execPath, ...cli], {
      cwd: root, encoding: "utf8", env: { ...process.env, SMELT_BACKEND: "interp" }, maxBuffer: 64 * 2 ** 20,
    });
    expect(p.status).toBe(0);
    expect(p.stdout.length).toBeGreaterThan(2 * 65536);
    const kernels = [...p.stdout.matchAll(/^\/\/ kernel (\w+)/gm)].map((m) => m[1]);
    expect(kernels.length).toBeGreaterThanOrEqual(3);
    // The last kernel's source is there to its closing brace.
    expect(p.stdout.trimEnd().endsWith("}")).toBe(true);
    expect(p.stdout.split("\n").filter((l) => /^extern "C" __global__/.test(l)).length).toBe(kernels.length);
  });

  test.skipIf(!gpu)("`smelt kernels` states the program's FLOPs: a routed MoE's expert matmuls count the tokens' k choices", () => {
    const r = run(["kernels", "examples/models.ts", "--fn", "moe"], { SMELT_BACKEND: "webgpu" });
    expect(r.status, r.stderr).toBe(0);
    // 6 tokens × 8, 4 experts of hidden 16, top-2: logits 2·6·8·4, each expert layer 2·(6·2)·8·16.
    expect(r.stdout).toContain(`, ${((2 * 6 * 8 * 4 + 2 * 2 * 12 * 8 * 16) / 1e3).toPrecision(3)}k FLOPs in matrix and attention products`);
    expect(r.stdout).toMatch(/^\/\/ moe_ffn_0_expert1\s+\d+\s+\S+\s+3\.07k$/m);
  });

  test.skipIf(!gpu)("`smelt kernels` opens with a line per kernel: its lines, what creating its pipeline took, its FLOPs", () => {
    const r = run(["kernels", "examples/models.ts", "--fn", "softmax"], { SMELT_BACKEND: "webgpu" });
    expect(r.status, r.stderr).toBe(0);
    const out = r.stdout;
    const lines = out.split("\n");
    expect(lines[1]).toMatch(/^\/\/ kernel\s+lines\s+pipeline ms\s+FLOPs\s+tiling$/);
    const row = /^\/\/ (\w+)\s+(\d+)\s+(\S+)\s+-$/.exec(lines[2]!)!;
    expect(row).not.toBeNull();
    // The kernel's listing that follows has that many lines.
    const source = out.slice(out.indexOf(`// kernel ${row[1]}(`)).split("\n").slice(1);
    expect(source.length).toBeGreaterThanOrEqual(Number(row[2]));
  });

  test.skipIf(!gpu)("`smelt kernels --autotune` times the candidate tilings once, and a second process reuses the choice", () => {
    const cache = mkdtempSync(join(tmpdir(), "smelt-cli-autotune-"));
    try {
      const env = { SMELT_BACKEND: "webgpu", SMELT_CACHE_DIR: cache, SMELT_DEBUG: "1", SMELT_AUTOTUNE_ROUNDS: "2" };
      const first = run(["kernels", "tests/cli/tunable.ts", "--autotune"], env);
      expect(first.status, first.stderr).toBe(0);
      expect(first.stdout).toMatch(/^\/\/ dot_general_0 +\d+ +- +.+ \(.+\), autotuned: .+ ms, .+ ms/m);
      expect(first.stderr).toMatch(/^autotune: dot_general_0: .* ms to measure\)$/m);
      const second = run(["kernels", "tests/cli/tunable.ts", "--autotune"], { ...env, SMELT_COMPILE_CACHE: "0" });
      expect(second.status, second.stderr).toBe(0);
      expect(second.stderr).not.toMatch(/ms to measure/);
      const tiling = (out: string) => /^\/\/ dot_general_0 .*$/m.exec(out)![0];
      expect(tiling(second.stdout)).toBe(tiling(first.stdout));
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });

  test("the README's test command is the one CI runs", () => {
    const ci = readFileSync(join(root, ".ci/run"), "utf8");
    const readme = readFileSync(join(root, "README.md"), "utf8");
    expect(ci).toContain("npm test");
    expect(readme).toContain("npm test");
  });

  test("`--help` prints the usage and succeeds; no command at all fails", () => {
    const help = run(["--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("usage:");
    expect(run([]).status).toBe(1);
  });

  test("`--version` prints the package's version", () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
    const r = run(["--version"]);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  test("an option's value is checked, and the error names the option", () => {
    const r = run(["bench", "W1", "--runs", "abc"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("--runs must be an integer");
    expect(r.stderr).toContain("'abc'");
    expect(run(["kernels", "examples/models.ts", "--target", "ptx"]).stderr).toContain("--target must be one of wgsl, cuda");
  });

  test("an option another command takes is refused, naming the options this one takes", () => {
    const r = run(["ir", "examples/models.ts", "--runs", "3"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("smelt ir does not take --runs");
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  test("an unknown backend is an error listing the backends", () => {
    const r = run(["ir", "examples/models.ts", "--fn", "softmax"], { SMELT_BACKEND: "foo" });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("SMELT_BACKEND");
    expect(r.stderr).toContain('"interp", "webgpu", "cuda"');
    expect(r.stderr).not.toContain("is not a function");
  });

  test.skipIf(!gpu)("`smelt profile` times a run after a warm-up run", () => {
    const r = run(["profile", "examples/models.ts", "--fn", "softmax"], { SMELT_BACKEND: "webgpu" });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/@softmax on webgpu: \d+ kernel launch/);
    expect(r.stdout).toContain("timed after 1 warm-up run(s)");
  });

  test.skipIf(!gpu)("`smelt profile --plot` writes a timeline with one bar per kernel launch the table lists", () => {
    const dir = mkdtempSync(join(tmpdir(), "smelt-plot-"));
    try {
      const file = join(dir, "mlp.svg");
      const r = run(["profile", "examples/models.ts", "--fn", "mlp", "--no-fuse", "--plot", file], { SMELT_BACKEND: "webgpu" });
      expect(r.status, r.stderr).toBe(0);
      const launches = Number(/@mlp on webgpu: (\d+) kernel launch/.exec(r.stdout)![1]);
      expect(launches).toBeGreaterThan(1);
      expect(r.stdout).toContain(`wrote ${file} (a timeline of ${launches} kernel launch(es))`);
      const svg = parseSvg(readFileSync(file, "utf8"));
      const bars = byClass(svg, "rect", "launch");
      expect(bars).toHaveLength(launches);
      const starts = bars.map((b) => Number(b.attrs["data-start-us"]));
      expect(starts).toEqual([...starts].sort((a, b) => a - b));
      // Every kernel the printed table names has its bar.
      const listed = r.stdout.split("\n").filter((l) => / ms +[\d.]+%$/.test(l)).map((l) => l.trim().split(/\s+/)[0]);
      expect(bars.map((b) => b.attrs["data-kernel"]).sort()).toEqual(listed.sort());
      expect(byClass(svg, "text", "function")[0]!.text).toContain("@mlp on webgpu");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("`smelt bench --plot` writes a chart with a bar for each row of the table", () => {
    const dir = mkdtempSync(join(tmpdir(), "smelt-plot-"));
    try {
      const file = join(dir, "bench.svg");
      const r = run(["bench", "W1", "--runs", "1", "--plot", file]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toContain(`wrote the chart of 2 rows to ${file}`);
      const svg = parseSvg(readFileSync(file, "utf8"));
      expect(byClass(svg, "rect", "bar").map((b) => `${b.attrs["data-workload"]} ${b.attrs["data-variant"]}`)).toEqual(["W1 fused", "W1 unfused"]);
      expect(byClass(svg, "text", "subtitle")[0]!.text).toMatch(/^interp · \d{4}-\d{2}-\d{2} · median of 1 call after/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("`--plot` is an option of bench and profile only", () => {
    const r = run(["ir", "examples/models.ts", "--plot", "x.svg"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("smelt ir does not take --plot");
  });

  test.skipIf(!gpu)("initialising WebGPU without XDG_RUNTIME_DIR leaves no new directory behind per run", () => {
    const count = () => readdirSync(tmpdir()).filter((d) => d.startsWith("smelt-xdg-")).length;
    const probe = "const s = await import('./index.ts'); await s.initBackend('webgpu'); process.exit(0);";
    const runOnce = () =>
      spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", probe], {
        cwd: root,
        env: { ...process.env, SMELT_BACKEND: "interp", XDG_RUNTIME_DIR: "" },
      });
    runOnce();
    const before = count();
    runOnce();
    runOnce();
    expect(count()).toBe(before);
  });

  test("the built CLI (`npx smelt` after `npm run build`) loads a TypeScript module from the checkout", () => {
    execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"], { cwd: root, stdio: "ignore" });
    // npx runs the bin through a link in node_modules/.bin.
    const dir = mkdtempSync(join(tmpdir(), "smelt-bin-"));
    try {
      const bin = join(dir, "smelt");
      symlinkSync(join(root, "dist/cli/main.js"), bin);
      const r = spawnSync(process.execPath, [bin, "ir", "examples/models.ts", "--fn", "softmax"], {
        cwd: root,
        encoding: "utf8",
        env: { ...process.env, SMELT_BACKEND: "interp" },
      });
      expect(r.stderr).not.toContain("loaded twice");
      expect(r.status).toBe(0);
      expect(r.stdout).toContain("func @softmax(%x: f32[4,32])");
      const v = spawnSync(process.execPath, [bin, "--version"], { encoding: "utf8" });
      expect(v.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
