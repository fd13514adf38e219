import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { parseIR } from "../../ir/parse.js";
import { printIR } from "../../ir/print.js";

const root = join(import.meta.dirname, "../..");
function smelt(...args: string[]): string {
  return execFileSync(process.execPath, ["--import", "tsx", join(root, "cli/main.ts"), ...args], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, SMELT_BACKEND: "interp" },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

describe("the smelt command", () => {
  test("`smelt ir` prints the traced IR of a module's declared functions, and it parses back", () => {
    const out = smelt("ir", "examples/models.ts", "--fn", "softmax");
    expect(out).toContain("func @softmax(%x: f32[4,32]) -> (f32[4,32])");
    expect(printIR(parseIR(out))).toBe(out.replace(/\n+$/, "\n"));
  });

  test("`smelt ir --after all` dumps the graph after every pass, with the fusion notes", () => {
    const out = smelt("ir", "examples/models.ts", "--fn", "layerNorm", "--after", "all");
    for (const pass of ["trace", "inline", "canonicalize", "fuse", "canonicalize.2", "memory-plan"])
      expect(out).toContain(`// ---- after ${pass}\n`);
    expect(out).toMatch(/fusion .*kind="reduction"/);
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

  test("the README's test command is the one CI runs", () => {
    const ci = readFileSync(join(root, ".ci/run"), "utf8");
    const readme = readFileSync(join(root, "README.md"), "utf8");
    expect(ci).toContain("npm test");
    expect(readme).toContain("npm test");
  });
});
