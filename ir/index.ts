/** The IR layer's public surface: dtypes, errors, primitives, graphs, printer, parser (loaded on first use). */
export * from "./dtype.js";
export * from "./errors.js";
export * from "./primitives.js";
export * from "./graph.js";
export * from "./print.js";
export { parseIR } from "./parser.js";
export * from "./pretty.js";
