/** The MLP example trains: its loss falls at least 4× in 40 Adam steps (from ≈1.1 to below ≈0.28). */
import { expect, test } from "vitest";
import { main } from "../../examples/mlp-train.js";

test("examples/mlp-train: the loss falls by at least 4x in 40 steps, traced once", async () => {
  const history = await main({ steps: 40, log: false });
  expect(history).toHaveLength(40);
  expect(history[0]).toBeGreaterThan(0.9);
  expect(history[39]! * 4).toBeLessThan(history[0]!);
  expect(history.every(Number.isFinite)).toBe(true);
});
