/**
 * Property tests explore new random cases on every local run; in CI (CI=true) they use
 * one fixed seed (override with FC_SEED), so a submission's result does not depend on
 * the draw. A failure prints its seed and counterexample either way.
 */
import fc from "fast-check";
import { loadPasses } from "../frontend/compile.js";
import { installNodePlatform } from "../runtime/node-platform.js";

// Suites import smelt's modules directly rather than through index.ts: install the Node
// platform (Dawn, CUDA) and load the compiler's passes here, as the Node entry does.
installNodePlatform();
await loadPasses();

const seed = process.env.FC_SEED ?? (process.env.CI ? "20261126" : undefined);
if (seed !== undefined) fc.configureGlobal({ seed: Number(seed) });

