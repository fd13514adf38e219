/**
 * Property tests explore new random cases on every local run; in CI (CI=true) they use
 * one fixed seed (override with FC_SEED), so a submission's result does not depend on
 * the draw. A failure prints its seed and counterexample either way.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll } from "vitest";
import { loadPasses } from "../frontend/compile.js";
import { cacheRoot, installNodePlatform } from "../runtime/node-platform.js";

// Suites import smelt's modules directly rather than through index.ts: install the Node
// platform (Dawn, CUDA) and load the compiler's passes here, as the Node entry does.
installNodePlatform();
await loadPasses();

isolateCompileCache();

const seed = process.env.FC_SEED ?? (process.env.CI ? "20261126" : undefined);
if (seed !== undefined) fc.configureGlobal({ seed: Number(seed) });

/**
 * Each test file gets a fresh cache root, so a program one run compiled never turns a later
 * run's compile into a load (no pass would run) and files stay independent. nvcc's images
 * are keyed by their source, toolkit and flags, and cost a second per module to rebuild:
 * `cuda/` links to the user's own, kept across runs as before.
 */
function isolateCompileCache(): void {
  const cuda = join(cacheRoot(), "cuda");
  const root = mkdtempSync(join(tmpdir(), "smelt-test-cache-"));
  try {
    mkdirSync(cuda, { recursive: true });
    symlinkSync(cuda, join(root, "cuda"), "dir");
  } catch {
    // A read-only home: CUDA images are then cached per file, like compiled programs.
  }
  process.env.SMELT_CACHE_DIR = root;
  afterAll(() => rmSync(root, { recursive: true, force: true }));
}
