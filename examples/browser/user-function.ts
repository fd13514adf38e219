/** The playground's editor: a JavaScript function over np, nn and lax, and the types of its inputs. */
import { type ShapeDtype, type Tensor, lax, nn, np, random, spec } from "../../browser.js";

export interface UserFunction {
  readonly fn: (...xs: Tensor[]) => unknown;
  readonly types: readonly ShapeDtype[];
}

/** Commas inside brackets belong to a shape: `f32[2,3], f32[3]` is two types. */
const TYPE_SEPARATOR = /,(?![^[]*\])/;

/**
 * Evaluates `source` (a function expression) with np, nn and lax in scope, and parses the
 * comma-separated input types. Every way the text can be wrong becomes an Error whose message
 * says what to fix; nothing is traced yet.
 */
export function userFunction(source: string, typeList: string): UserFunction {
  let fn: unknown;
  try {
    fn = new Function("np", "nn", "lax", `"use strict";\nreturn (${source}\n);`)(np, nn, lax);
  } catch (e) {
    const err = e as Error;
    throw new Error(`the function does not evaluate: ${err.name}: ${err.message}`);
  }
  if (typeof fn !== "function") throw new Error(`the source is a ${typeof fn}, not a function: write e.g. (x) => np.tanh(x)`);
  const written = typeList.split(TYPE_SEPARATOR).map((t) => t.trim()).filter((t) => t !== "");
  if (written.length === 0) throw new Error("no input types: write one per argument, e.g. f32[64,128], f32[128]");
  const types = written.map((t, i) => {
    try {
      return spec(t);
    } catch (e) {
      throw new Error(`input type ${i + 1} ('${t}'): ${(e as Error).message}`);
    }
  });
  if (fn.length > types.length)
    throw new Error(`the function takes ${fn.length} argument(s) but ${types.length} input type(s) are given`);
  return { fn: fn as UserFunction["fn"], types };
}

/** Seeded inputs of the given types: uniform in [-1, 1) for floats, zeros otherwise. */
export function inputsFor(types: readonly ShapeDtype[]): Tensor[] {
  return types.map((t, i) =>
    t.dtype === "f32" ? random.uniform(random.key(i), [...t.shape], { minval: -1, maxval: 1 }) : np.zeros([...t.shape], t.dtype),
  );
}
