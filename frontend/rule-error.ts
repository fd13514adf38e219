/**
 * What the rule tables of the transformations (jvp, transpose, vmap) share: the
 * error a primitive without a rule raises, and the lookup that raises it. Each
 * table is typed as a mapped type over `Primitive`, so adding a primitive without
 * a rule is a compile error; the lookup still checks at run time, so a rule that
 * is missing or explicitly absent (`null`: e.g. `exp` is not linear and has no
 * transpose) fails loudly with the primitive's name.
 */
import type { Primitive } from "../ir/primitives.js";

export type Transformation = "jvp" | "transpose" | "vmap";

export class MissingRuleError extends Error {
  override name = "MissingRuleError";
  constructor(
    readonly primitive: string,
    readonly transformation: Transformation,
    detail?: string,
  ) {
    super(`${transformation}: no ${transformation} rule for primitive '${primitive}'${detail ? ` (${detail})` : ""}`);
  }
}

/** The rule for `prim` in `table`, or a MissingRuleError naming both. */
export function ruleFor<T extends { readonly [P in Primitive]: unknown }>(
  table: T,
  prim: Primitive,
  transformation: Transformation,
  detail?: string,
): NonNullable<T[Primitive]> {
  const rule = (table as Record<string, T[Primitive] | undefined>)[prim];
  if (rule === undefined || rule === null) throw new MissingRuleError(prim, transformation, detail);
  return rule as NonNullable<T[Primitive]>;
}
