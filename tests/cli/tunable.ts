/**
 * A module for the CLI tests of `smelt kernels --autotune`: one matmul whose shape leaves the
 * autotuner more than one tiling on every template family (40 rows: the subgroup tiles of 8,
 * 16 and 32 rows differ).
 */
import { type Tensor, np } from "../../index.js";

export function tunable(x: Tensor, w: Tensor): Tensor {
  return np.matmul(x, w);
}
tunable.inputs = ["f32[40,48]", "f32[48,64]"];
