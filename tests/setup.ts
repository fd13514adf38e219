/**
 * Property tests explore new random cases on every local run; in CI (CI=true) they use
 * one fixed seed (override with FC_SEED), so a submission's result does not depend on
 * the draw. A failure prints its seed and counterexample either way.
 */
import fc from "fast-check";

const seed = process.env.FC_SEED ?? (process.env.CI ? "20261126" : undefined);
if (seed !== undefined) fc.configureGlobal({ seed: Number(seed) });
