/** The inline pass: every `jit` call replaced by its body (ir/inline.ts), so later passes see one flat graph. */
import { inlineCalls } from "../ir/inline.js";
import type { Pass } from "./pipeline.js";

export { inlineCalls } from "../ir/inline.js";

export const inlinePass: Pass = { name: "inline", run: (g) => inlineCalls(g) };
