/** What a user sees when a transformation cannot apply: errors that name the primitive and the transformation. */
import { afterEach, describe, expect, test } from "vitest";
import type { Tensor } from "../../frontend/core.js";
import { TracerError } from "../../frontend/core.js";
import { init } from "../../frontend/init.js";
import { jvp, jvpRules } from "../../frontend/jvp.js";
import * as lax from "../../frontend/lax.js";
import { MissingRuleError } from "../../frontend/rule-error.js";
import { grad, linearTranspose } from "../../frontend/vjp.js";
import { VmapError, batchRules, vmap } from "../../frontend/vmap.js";
import { uniform } from "./helpers.js";

await init({ backend: "interp" });

/** Removes a table entry for one test, as a primitive added without its rule would be. */
function without(table: object, prim: string): void {
  const t = table as Record<string, unknown>;
  const saved = t[prim];
  delete t[prim];
  restore.push(() => (t[prim] = saved));
}
const restore: (() => void)[] = [];
afterEach(() => restore.splice(0).forEach((r) => r()));

describe("a primitive without a rule fails with an error naming it and the transformation", () => {
  test("jvp", () => {
    without(jvpRules, "erf");
    const x = uniform([3], 1);
    const err = (() => {
      try {
        jvp(lax.erf, [x], [x]);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(MissingRuleError);
    expect((err as MissingRuleError).message).toBe("jvp: no jvp rule for primitive 'erf'");
    expect(() => grad((x: Tensor) => lax.reduceSum(lax.erf(x), [0]))(x)).toThrow(/jvp: no jvp rule for primitive 'erf'/);
  });

  test("vmap", () => {
    without(batchRules, "cumsum");
    expect(() => vmap((x: Tensor) => lax.cumsum(x, 0))(uniform([2, 3], 2))).toThrow(
      new MissingRuleError("cumsum", "vmap"),
    );
  });

  test("transpose: a non-linear primitive has none", () => {
    const e = (() => {
      try {
        linearTranspose((x: Tensor) => lax.exp(x), uniform([2], 3))(uniform([2], 4));
      } catch (err) {
        return err as MissingRuleError;
      }
    })();
    expect(e).toBeInstanceOf(MissingRuleError);
    expect(e!.primitive).toBe("exp");
    expect(e!.transformation).toBe("transpose");
    expect(e!.message).toMatch(/transpose: no transpose rule for primitive 'exp' \(it is not linear\)/);
  });
});

describe("misuse is reported in the user's terms", () => {
  test("grad of a function with a non-scalar output", () => {
    expect(() => grad((x: Tensor) => lax.exp(x))(uniform([3], 5))).toThrow(TracerError);
    expect(() => grad((x: Tensor) => lax.exp(x))(uniform([3], 5))).toThrow(/one scalar floating-point tensor, got f32\[3\]; use vjp/);
  });

  test("vmap over mapped axes of different sizes", () => {
    expect(() => vmap(lax.add)(uniform([2, 3], 6), uniform([3, 3], 7))).toThrow(VmapError);
    expect(() => vmap(lax.add)(uniform([2, 3], 6), uniform([3, 3], 7))).toThrow(/different sizes: 2 and 3/);
  });

  test("vmap with outAxes null for a batched result", () => {
    expect(() => vmap(lax.exp, { outAxes: null })(uniform([2, 3], 8))).toThrow(/output 0 is batched but its outAxes entry is null/);
  });

  test("vmap with no mapped argument", () => {
    expect(() => vmap(lax.exp, { inAxes: null })(uniform([2], 9))).toThrow(/no argument is mapped/);
  });

  test("vmap with an axis past the rank", () => {
    expect(() => vmap(lax.exp, { inAxes: 2 })(uniform([2, 3], 10))).toThrow(/axis 2 is out of range for rank 2/);
  });
});

test("linearTranspose transposes a linear function (the matrix transpose of x ↦ W x)", async () => {
  const w = uniform([2, 3], 11);
  const f = (x: Tensor) => lax.dotGeneral(w, x, { lhsContract: [1], rhsContract: [0] });
  const [ct] = linearTranspose(f, uniform([3], 12))(lax.constant([1, 0], [2], "f32")) as Tensor[];
  expect(Array.from(await ct!.data())).toEqual(Array.from(await lax.slice(w, [0, 0], [1, 3]).data()));
});
