import { test, beforeAll } from "vitest";
import { init } from "../../frontend/init.js";
import { jit } from "../../frontend/jit.js";
import * as np from "../../frontend/np.js";
beforeAll(async () => { await init({ backend: "interp" }); });
test("scratch", async () => {
  const a = np.array([[1, 2, 3], [4, 5, 6]]);
  console.log(await a.add(1).mul(a).sum(1).tolist(), await a.T.tolist(), await np.arange(5).tolist(), await np.linspace(0, 1, 5).tolist());
  console.log(await np.slice(a, [-1, [null, null, -1]]).tolist(), await np.var(a, 0).tolist(), await np.argmin(a, 1).tolist());
  console.log(await np.takeAlongAxis(a, np.array([[2], [0]], { dtype: "i32" }), 1).tolist());
  console.log(await np.einsum("ij,kj->ik", a, a).tolist(), await np.matmul(np.ones([2, 1, 2, 3]), np.ones([3, 3, 4])).shape);
  const f = jit((x: np.TensorLike) => np.mean(np.matmul(x, np.transpose(x as any)), -1, true));
  console.log(await f(a).tolist());
  console.log(f.lower(a).text());
  console.log(await np.floorDivide(np.array([7, -7, 7, -7], { dtype: "i32" }), np.array([2, 2, -2, -2], { dtype: "i32" })).tolist());
  console.log(await np.tile(np.array([1, 2]), [2, 2]).tolist(), await np.repeat(np.array([1, 2]), 2).tolist(), await np.eye(3, 3, {k: 1}).tolist());
});
