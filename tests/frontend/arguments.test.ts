/**
 * Every public entry point refuses a bad argument at once with an ArgumentError
 * naming the function, the argument, what was given and what is accepted, instead
 * of a raw TypeError from deep inside or a tensor of NaNs.
 */
import { parseIR } from "../../ir/parser.js";
import { beforeAll, describe, expect, test } from "vitest";
import { ArgumentError, MAX_ELEMENTS } from "../../frontend/arguments.js";
import { MAX_HOST_BYTES } from "../../frontend/creation.js";
import { ConcretizationError, MAX_TRACE_DEPTH, type Tensor, TracerError } from "../../frontend/core.js";
import { init } from "../../frontend/init.js";
import { compileIR, jit } from "../../frontend/jit.js";
import * as lax from "../../frontend/lax.js";
import * as np from "../../frontend/np.js";
import { stageGraph } from "../../frontend/staging.js";
import { PytreeError } from "../../frontend/tree.js";
import { grad, valueAndGrad, vjp } from "../../frontend/vjp.js";
import { vmap } from "../../frontend/vmap.js";
import { ShapeDtype, spec } from "../../frontend/jit.js";
import { inspect } from "node:util";

beforeAll(async () => {
  await init({ backend: "interp" });
});

/** The ArgumentError `fn` throws, checked to name the function and argument. */
function argumentError(fn: () => unknown, name: string, argument: string | RegExp): ArgumentError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ArgumentError);
  expect(err).toBeInstanceOf(TypeError);
  const a = err as ArgumentError;
  expect(a.fn).toBe(name);
  if (typeof argument === "string") expect(a.argument).toBe(argument);
  else expect(a.argument).toMatch(argument);
  expect(a.message).toContain(a.given);
  expect(a.message).toContain(a.accepted);
  return a;
}

const f32 = (values: number[]) => np.array(values);
const addOne = (x: Tensor) => np.add(x, 1);

describe("np functions check their operands", () => {
  test("a JS list is refused as jax.numpy refuses it, pointing to np.array", () => {
    const e = argumentError(() => np.add([1, 2] as never, 1), "np.add", "x1");
    expect(e.given).toBe("an array of length 2");
    expect(e.message).toContain("np.array(");
  });

  test("an object, null, a string or a bigint operand is named with what was given", () => {
    expect(argumentError(() => np.add({} as never, 1), "np.add", "x1").given).toBe("an empty object {}");
    expect(argumentError(() => np.multiply(f32([1]), null as never), "np.multiply", "x2").given).toBe("null");
    expect(argumentError(() => np.exp("abc" as never), "np.exp", "x").given).toBe('the string "abc"');
    expect(argumentError(() => np.sum(123n as never), "np.sum", "x").given).toBe("the bigint 123n");
    argumentError(() => np.where(f32([1]), undefined as never, 0), "np.where", "x");
  });

  test("an options object where an axis belongs says to pass the axis positionally", () => {
    const e = argumentError(() => np.sum(np.ones([2, 3]), { axis: 1 } as never), "np.sum", "axis");
    expect(e.message).toContain("np.sum(x, 1)");
    argumentError(() => np.mean(np.ones([2]), "0" as never), "np.mean", "axis");
  });

  test("lax primitives refuse operands that are not tensors", () => {
    argumentError(() => lax.add(null as never, f32([1])), "lax.add", "operand 0");
  });
});

describe("creation checks shapes, fill values, dtypes and nested data", () => {
  test("a fill value that is not a number or boolean is refused instead of filling NaN", () => {
    argumentError(() => np.full([2], "x" as never), "np.full", "fill value");
  });

  test("shapes past 2^32 elements are refused before anything is allocated", () => {
    expect(MAX_ELEMENTS).toBe(2 ** 32);
    const e = argumentError(() => np.zeros([2 ** 40]), "np.zeros", "shape");
    expect(e.given).toContain("1099511627776 elements");
    argumentError(() => np.ones([2 ** 16, 2 ** 16, 2]), "np.ones", "shape");
    argumentError(() => np.zeros([-1]), "np.zeros", "shape");
    argumentError(() => np.zeros("3" as never), "np.zeros", "shape");
  });

  test("a fill past the host limit is refused before its host copy is allocated", () => {
    expect(MAX_HOST_BYTES).toBe(2 ** 32);
    const e = argumentError(() => np.zeros([2 ** 31]), "np.zeros", "shape");
    expect(e.given).toContain("8589934592 bytes");
    argumentError(() => np.ones([2 ** 30, 2], "int32"), "np.ones", "shape");
  });

  test("numpy's dtype names are accepted wherever a dtype is", async () => {
    expect(np.zeros([2], "float32").dtype).toBe("f32");
    expect(np.ones([2], "int32").dtype).toBe("i32");
    expect(np.full([2], 1, "uint32").dtype).toBe("u32");
    expect(np.array([1, 0], { dtype: "bool" }).dtype).toBe("bool");
    expect(np.astype(f32([1.5]), "int32").dtype).toBe("i32");
    expect(np.arange(3, { dtype: "float32" }).dtype).toBe("f32");
    expect(np.eye(2, 2, { dtype: "int32" }).dtype).toBe("i32");
    expect(np.zerosLike(f32([1]), "bool").dtype).toBe("bool");
    expect(await np.asarray([2.5], "int32").tolist()).toEqual([2]);
    argumentError(() => np.zeros([2], "float64" as never), "np.zeros", "dtype");
  });

  test("lax, spec and ShapeDtype take numpy's dtype names too", () => {
    expect(lax.cast(f32([1]), "int32").dtype).toBe("i32");
    expect(lax.iota([3], 0, "float32").dtype).toBe("f32");
    expect(spec("float32[2,3]").dtype).toBe("f32");
    expect(new ShapeDtype([2], "uint32").dtype).toBe("u32");
    argumentError(() => spec("double[2]"), "spec", "type");
  });

  test("an array literal with a hole is refused, not shifted", () => {
    // eslint-disable-next-line no-sparse-arrays
    const e = argumentError(() => np.array([[1, , 3], [4, 5, 6]] as never), "np.array", "element [0][1]");
    expect(e.given).toContain("hole");
  });

  test("a non-number element is named by its position", () => {
    argumentError(() => np.array([[1, 2], [3, "4"]] as never), "np.array", "element [1][1]");
  });

  test("a 10,000-deep nested array is a clear error, not a stack overflow", () => {
    let deep: unknown = 1;
    for (let i = 0; i < 10_000; i++) deep = [deep];
    argumentError(() => np.array(deep as never), "np.array", "data");
  });

  test("a cyclic array is a clear error, not an endless loop", () => {
    const a: unknown[] = [];
    a.push(a);
    argumentError(() => np.array(a as never), "np.array", "data");
  });

  test("nesting that is deep but within the limit still works", async () => {
    let nested: unknown = 7;
    for (let i = 0; i < 20; i++) nested = [nested];
    const t = np.array(nested as never);
    expect(t.shape).toEqual(new Array(20).fill(1));
    expect(Array.from(await t.data())).toEqual([7]);
  });
});

describe("jit checks its function and arguments", () => {
  test("strings, undefined, null and bigints reach np functions as ArgumentErrors, not NaN tensors", () => {
    const f = jit(addOne);
    for (const bad of ["abc", undefined, null, 123n]) argumentError(() => f(bad as never), "np.add", "x1");
  });

  test("a call with too few arguments says how many the function declares", () => {
    const f = jit(addOne, { name: "addOne" });
    const e = argumentError(() => (f as unknown as () => Tensor)(), "np.add", "x1");
    expect(e.message).toContain("addOne declares 1 parameter(s) but was called with 0");
  });

  test("an async function fails at once, as does a function returning a Promise", () => {
    argumentError(() => jit(async (x: Tensor) => x), "jit", "the function argument");
    const promising = jit((x: Tensor) => Promise.resolve(x));
    argumentError(() => promising(f32([1])), "jit(jitted)", "the traced function's result");
  });

  test("options are checked", () => {
    argumentError(() => jit(addOne, { backend: "tpu" as never }), "jit", "options.backend");
    argumentError(() => jit(addOne, { fuse: "no" as never }), "jit", "options.fuse");
    argumentError(() => jit(addOne, { autotune: 1 as never }), "jit", "options.autotune");
  });

  test("a compiled IR function checks its argument count and kinds", async () => {
    const text = "func @inc(%x: f32[1]) -> (f32[1]) {\n  %0 = neg %x : f32[1]\n  return %0\n}\n";
    argumentError(() => compileIR(text as never), "compileIR", "its graph");
    const g = compileIR(await parseIR(text));
    argumentError(() => g(), "@inc", "its arguments");
    argumentError(() => g("x" as never), "@inc", "argument 0");
  });
});

describe("tensors are not JS numbers", () => {
  test("comparing a tensor under jit raises a ConcretizationError pointing to np.greater and np.where", () => {
    const f = jit((t: Tensor) => ((t as unknown as number) > 0 ? t : np.negative(t)));
    let err: unknown;
    try {
      f(f32([1, -2]));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConcretizationError);
    expect(err).toBeInstanceOf(TracerError);
    expect((err as Error).message).toContain("np.greater");
    expect((err as Error).message).toContain("np.where");
  });

  test("arithmetic and valueOf on an eager tensor throw; string conversion still works", () => {
    const t = f32([1, 2]);
    expect(() => -(t as unknown as number)).toThrow(ConcretizationError);
    expect(() => (t as unknown as number) + 1).toThrow(ConcretizationError);
    expect(() => t.valueOf()).toThrow(ConcretizationError);
    expect(`${t}`).toBe("Tensor(f32[2], interp)");
  });

  test("console.log shows the type and the backend, not the internals", () => {
    expect(inspect(np.zeros([2, 3]))).toBe("Tensor(f32[2,3], interp)");
    let traced = "";
    jit((x: Tensor) => {
      traced = inspect(x);
      return x;
    })(f32([1]));
    expect(traced).toBe("Traced<f32[1]>");
  });

  test("data() on a tracer throws at once rather than returning a rejected promise", () => {
    let thrown: unknown;
    jit((x: Tensor) => {
      try {
        void x.data();
      } catch (e) {
        thrown = e;
      }
      return x;
    })(f32([1]));
    expect(thrown).toBeInstanceOf(TracerError);
  });
});

describe("grad of integer inputs", () => {
  test("grad with respect to an i32 input fails as JAX's does", () => {
    const loss = (x: Tensor) => np.sum(np.astype(x, "f32"));
    const e = argumentError(() => grad(loss)(np.ones([2], "i32")), "grad", /differentiated argument/);
    expect(e.message).toContain("real-valued inputs");
    argumentError(() => valueAndGrad(loss)(np.ones([2], "i32")), "valueAndGrad", /differentiated argument/);
  });

  test("an integer argument outside argnums is fine", async () => {
    const f = (x: Tensor, n: Tensor) => np.sum(np.multiply(x, np.astype(n, "f32")));
    const g = grad(f)(f32([1, 2]), np.array([3, 4], { dtype: "i32" }));
    expect(Array.from(await g.data())).toEqual([3, 4]);
  });

  test("an async function passed to grad or vjp fails at once", () => {
    argumentError(() => grad(async (x: Tensor) => x), "grad", "the function argument");
    argumentError(() => vjp(async (x: Tensor) => x, f32([1])), "vjp", "the function argument");
    argumentError(() => vmap(async (x: Tensor) => x), "vmap", "the function argument");
  });
});

describe("deep and cyclic structures", () => {
  test("a cyclic pytree is a PytreeError naming the cycle, not a stack overflow", () => {
    const params: Record<string, unknown> = { w: f32([1]) };
    params.self = params;
    expect(() => jit((p: { w: Tensor }) => p.w)(params as never)).toThrow(PytreeError);
    expect(() => jit((p: { w: Tensor }) => p.w)(params as never)).toThrow(/\.self is the root again/);
  });

  test("a pytree nested 10,000 deep is a PytreeError", () => {
    let deep: unknown = f32([1]);
    for (let i = 0; i < 10_000; i++) deep = { x: deep };
    expect(() => jit((t: unknown) => t)(deep as never)).toThrow(PytreeError);
  });

  test("jit nested 1,000 deep is a TracerError naming the limit; within it, nesting works", async () => {
    let f = addOne;
    for (let i = 0; i < 1000; i++) f = jit(f);
    expect(() => f(f32([1]))).toThrow(new RegExp(`nested more than ${MAX_TRACE_DEPTH} deep`));
    let g = addOne;
    for (let i = 0; i < 50; i++) g = jit(g);
    expect(Array.from(await g(f32([1])).data())).toEqual([2]);
  });

  test("tracing a 100,000-op chain does not recurse per op", () => {
    const staged = stageGraph("chain", [{ dtype: "f32", shape: [4] }], ([x]) => {
      let y = x!;
      for (let i = 0; i < 100_000; i++) y = lax.neg(y);
      return [y];
    });
    expect(staged.graph.nodes.length).toBe(100_000);
  });

  test("the gradient of a 20,000-op chain traces", () => {
    const loss = (x: Tensor) => {
      let y = x;
      for (let i = 0; i < 20_000; i++) y = lax.neg(y);
      return np.sum(y);
    };
    const staged = stageGraph("gchain", [{ dtype: "f32", shape: [4] }], ([x]) => [grad(loss)(x!)]);
    expect(staged.graph.outputs.length).toBe(1);
  });
});
