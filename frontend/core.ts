/**
 * The interpreter stack (autodidax, in TypeScript). Every operation on tensors is
 * `bind(prim, inputs, params)`: it finds the highest trace among the operands
 * (and the dynamic trace of an enclosing jit), lifts the operands into it, and
 * lets that trace interpret the primitive. Transformations (jit's graph building,
 * jvp, vmap) are traces; eager evaluation is the bottom one.
 */
import { type AbstractValue, type DType, type HostData, formatType, sizeOf } from "../ir/dtype.js";
import { ShapeError } from "../ir/errors.js";
import { IR_MODULE_URL, type Primitive, type PrimitiveParams, inferTypes } from "../ir/primitives.js";
import type { Backend, DeviceBuffer } from "../runtime/backend.js";
import { ArgumentError, describe } from "./arguments.js";

// Two copies of smelt in one program (say the built dist/ and the TypeScript
// sources) would each keep their own trace stack, and tensors of one would look like
// plain objects to the other: refuse loudly instead of tracing wrongly.
const LOADED = Symbol.for("smelt.core.url");
{
  const g = globalThis as { [LOADED]?: string };
  const self = import.meta.url;
  if (g[LOADED] && g[LOADED] !== self)
    throw new Error(
      `smelt is loaded twice, from ${g[LOADED]} and from ${self}; import it from one place ` +
        `(inside the smelt repository run the CLI with \`npm run smelt --\`)`,
    );
  g[LOADED] = self;
}

// ---------------------------------------------------------------------------
// traces

/** One level of the interpreter stack. */
export class MainTrace {
  constructor(
    readonly level: number,
    readonly traceType: new (main: MainTrace) => Trace,
    /** Per-level data of the transformation (e.g. the graph being built). */
    readonly globalData: unknown = null,
  ) {}
}

export abstract class Trace {
  constructor(readonly main: MainTrace) {}
  /** Wraps a value from a lower level (or a concrete tensor) as a tracer of this trace. */
  abstract pure(x: Tensor): Tensor;
  lift(x: Tensor): Tensor {
    return this.pure(x);
  }
  abstract processPrimitive<P extends Primitive>(prim: P, tracers: Tensor[], params: PrimitiveParams[P]): Tensor[];
}

const traceStack: MainTrace[] = [];
/**
 * How deeply transformations may nest. Tracing one level takes a few dozen JS stack
 * frames, so past a few hundred the engine's stack would overflow with a bare RangeError.
 */
export const MAX_TRACE_DEPTH = 200;
let dynamicTrace: MainTrace | null = null;

/** The eager trace: operands are concrete tensors, primitives run on a backend. */
class EvalTrace extends Trace {
  pure(x: Tensor): Tensor {
    return x;
  }
  processPrimitive<P extends Primitive>(prim: P, tracers: Tensor[], params: PrimitiveParams[P]): Tensor[] {
    return evalPrimitive(prim, tracers as ConcreteTensor[], params);
  }
}

const evalMain = new MainTrace(0, EvalTrace);
traceStack.push(evalMain);
dynamicTrace = evalMain;

/**
 * Runs `fn` with a new level pushed on the stack; pops it however `fn` ends, so a
 * thrown error never leaks a trace level.
 */
export function withMainTrace<T>(
  traceType: new (main: MainTrace) => Trace,
  globalData: unknown,
  fn: (main: MainTrace) => T,
  dynamic = false,
): T {
  if (traceStack.length > MAX_TRACE_DEPTH)
    throw new TracerError(
      `transformations are nested more than ${MAX_TRACE_DEPTH} deep (jit/grad/vmap inside one another); ` +
        `each level is a trace on the stack: flatten the nesting, e.g. jit the outermost function only`,
    );
  const main = new MainTrace(traceStack.length, traceType, globalData);
  traceStack.push(main);
  const savedDynamic = dynamicTrace;
  if (dynamic) dynamicTrace = main;
  try {
    return fn(main);
  } finally {
    traceStack.pop();
    dynamicTrace = savedDynamic;
  }
}

/** True while a jit is tracing: creation functions then stage nodes instead of uploading. */
export function isStaging(): boolean {
  return dynamicTrace !== evalMain;
}

/** The level new values are staged at (0 when eager; a jit's while it traces). */
export function dynamicLevel(): number {
  return (dynamicTrace ?? evalMain).level;
}

export function currentLevel(): number {
  return traceStack.length - 1;
}

// ---------------------------------------------------------------------------
// tensors

/** Numpy-style methods are attached by frontend/np.ts; declared here for typing. */
export interface TensorMethods {
  add(other: TensorLike): Tensor;
  sub(other: TensorLike): Tensor;
  mul(other: TensorLike): Tensor;
  div(other: TensorLike): Tensor;
  pow(other: TensorLike): Tensor;
  neg(): Tensor;
  matmul(other: TensorLike): Tensor;
  reshape(shape: number[]): Tensor;
  transpose(perm?: number[]): Tensor;
  sum(axis?: number | number[] | null, keepdims?: boolean): Tensor;
  mean(axis?: number | number[] | null, keepdims?: boolean): Tensor;
  max(axis?: number | number[] | null, keepdims?: boolean): Tensor;
  min(axis?: number | number[] | null, keepdims?: boolean): Tensor;
  astype(dtype: DType): Tensor;
}

export type TensorLike = Tensor | number | boolean;

export const tensorMethods: Partial<TensorMethods & Record<string, (this: Tensor, ...a: never[]) => Tensor>> = {};

export abstract class Tensor {
  abstract readonly aval: AbstractValue;
  /** The trace that owns this value. */
  abstract get trace(): Trace;

  get shape(): readonly number[] {
    return this.aval.shape;
  }
  get dtype(): DType {
    return this.aval.dtype;
  }
  get ndim(): number {
    return this.aval.shape.length;
  }
  get size(): number {
    return sizeOf(this.aval.shape);
  }
  /** This value with every transformation that treats it as a constant peeled off. */
  fullLower(): Tensor {
    return this;
  }
  toString(): string {
    return `Tensor(${formatType(this.aval)})`;
  }
  /** What console.log prints in Node: the type and where the values live, not the internals. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
  /**
   * A tensor is not a JS number or boolean: `t > 0`, `-t`, `t + 1` or `t == 1` would
   * otherwise compare or add NaN and silently take one branch (JAX raises a
   * concretization error there). Only string conversion (`${t}`) is allowed.
   */
  [Symbol.toPrimitive](hint: "number" | "string" | "default"): string {
    if (hint === "string") return this.toString();
    throw new ConcretizationError(this);
  }
  valueOf(): never {
    throw new ConcretizationError(this);
  }

  /**
   * Reads the values (row-major) from the device. On a tracer it throws at once:
   * inside a transformation values do not exist yet.
   */
  data(): Promise<HostData> {
    throw new TracerError(`cannot read the values of a traced ${formatType(this.aval)} inside a transformation; return it instead`);
  }
  /** Reads the values as nested JS arrays (numbers or booleans). */
  tolist(): Promise<unknown> {
    const shape = this.shape;
    const bool = this.dtype === "bool";
    return this.data().then((data) => {
      const build = (axis: number, offset: number): unknown => {
        if (axis === shape.length) return bool ? data[offset] !== 0 : data[offset];
        const stride = sizeOf(shape.slice(axis + 1));
        return Array.from({ length: shape[axis]! }, (_, i) => build(axis + 1, offset + i * stride));
      };
      return build(0, 0);
    });
  }
  /** The single value of a size-1 tensor. */
  item(): Promise<number> {
    return this.data().then((d) => {
      if (d.length !== 1) throw new Error(`item() needs a tensor with one element, this is ${formatType(this.aval)}`);
      return d[0]!;
    });
  }
  dispose(): void {}
  [Symbol.dispose](): void {
    this.dispose();
  }
}
// Methods attached by np.ts share Tensor's prototype.
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface Tensor extends TensorMethods {}

export class TracerError extends Error {
  override name = "TracerError";
}

/**
 * A tensor used where JS needs a number or a boolean (`t > 0 ? a : b`, `-t`): JAX's
 * ConcretizationTypeError. Branch on tensors with np.where, compare with np.greater.
 */
export class ConcretizationError extends TracerError {
  override name = "ConcretizationError";
  constructor(readonly tensor: Tensor) {
    const at = userFrame();
    super(
      `a tensor of type ${formatType(tensor.aval)} was used as a JS number or boolean (a comparison like \`t > 0\`, ` +
        `arithmetic like \`-t\` or \`t + 1\`, or \`==\`)${at ? ` at ${at}` : ""}; its values are on the device ` +
        `(and under jit do not exist yet). Use np.greater(t, 0), np.negative(t), np.add(t, 1), and ` +
        `np.where(condition, a, b) to choose between values; read values with \`await t.data()\` outside jit`,
    );
  }
}

/** A tracer: a value of some transformation's trace. */
export abstract class Tracer extends Tensor {
  constructor(private readonly _trace: Trace) {
    super();
  }
  get trace(): Trace {
    return this._trace;
  }
}

// ---------------------------------------------------------------------------
// concrete tensors and their backends

let defaultBackend: Backend | null = null;
const backends = new Map<string, Backend>();

export function registerBackend(b: Backend): void {
  backends.set(b.name, b);
}
export function setDefaultBackend(b: Backend): void {
  registerBackend(b);
  defaultBackend = b;
}
export function getBackend(name?: string): Backend {
  if (name === undefined) {
    if (!defaultBackend) throw new Error("smelt: no backend is initialised (call init())");
    return defaultBackend;
  }
  const b = backends.get(name);
  if (!b) throw new Error(`smelt: backend '${name}' is not initialised; call init({ backend: "${name}" }) first`);
  return b;
}

const finalizer = new FinalizationRegistry<{ backend: Backend; buffer: DeviceBuffer }>(({ backend, buffer }) =>
  backend.free(buffer),
);

/** A tensor that holds a device buffer: the values of the eager trace. */
export class ConcreteTensor extends Tensor {
  readonly aval: AbstractValue;
  private live = true;
  constructor(
    readonly backend: Backend,
    readonly buffer: DeviceBuffer,
    /** Host copy when the tensor was made on the host (lets small constants inline). */
    readonly host?: HostData,
  ) {
    super();
    this.aval = { dtype: buffer.dtype, shape: buffer.shape };
    finalizer.register(this, { backend, buffer }, this);
  }
  get trace(): Trace {
    return evalTrace;
  }
  override toString(): string {
    return `Tensor(${formatType(this.aval)}, ${this.backend.name}${this.live ? "" : ", disposed"})`;
  }
  override async data(): Promise<HostData> {
    if (!this.live) throw new Error(`this ${formatType(this.aval)} tensor was disposed`);
    if (this.host) return this.host.slice();
    return (await this.backend.read(this.buffer)).data;
  }
  override dispose(): void {
    if (!this.live) return;
    this.live = false;
    finalizer.unregister(this);
    this.backend.free(this.buffer);
    for (const [b, buf] of this.mirrors ?? []) b.free(buf);
    this.mirrors = undefined;
  }
  private mirrors: Map<Backend, DeviceBuffer> | undefined;
  /** This tensor's buffer on another backend, uploaded once from its host copy (undefined without one). */
  mirror(backend: Backend): DeviceBuffer | undefined {
    if (!this.host) return undefined;
    this.mirrors ??= new Map();
    let buf = this.mirrors.get(backend);
    if (!buf) {
      buf = backend.upload({ dtype: this.dtype, shape: this.shape, data: this.host });
      this.mirrors.set(backend, buf);
    }
    return buf;
  }
  /** A copy of this tensor on another backend. */
  async to(backend: string): Promise<ConcreteTensor> {
    const target = getBackend(backend);
    const data = await this.data();
    return new ConcreteTensor(target, target.upload({ dtype: this.dtype, shape: this.shape, data }), data);
  }
  get disposed(): boolean {
    return !this.live;
  }
}

const evalTrace = new EvalTrace(evalMain);

export type PrimitiveExecutor = <P extends Primitive>(
  prim: P,
  inputs: ConcreteTensor[],
  params: PrimitiveParams[P],
  outTypes: AbstractValue[],
) => ConcreteTensor[];

let executor: PrimitiveExecutor | null = null;

/** frontend/jit.ts installs how one primitive runs eagerly (compile a one-node graph, cached). */
export function setPrimitiveExecutor(e: PrimitiveExecutor): void {
  executor = e;
}

function evalPrimitive<P extends Primitive>(prim: P, inputs: ConcreteTensor[], params: PrimitiveParams[P]): Tensor[] {
  const outTypes = inferTypes(prim, inputs.map((t) => t.aval), params);
  for (const t of inputs)
    if (t.disposed) throw new Error(`${prim}: operand ${formatType(t.aval)} was disposed`);
  if (!executor) throw new Error("smelt: no primitive executor installed");
  return executor(prim, inputs, params, outTypes);
}

// ---------------------------------------------------------------------------
// bind

function findTopTrace(xs: readonly Tensor[]): Trace {
  let top = dynamicTrace ?? evalMain;
  for (const x of xs) {
    const m = x.trace.main;
    if (m.level > top.level) top = m;
  }
  return new top.traceType(top);
}

function fullRaise(trace: Trace, x: Tensor): Tensor {
  const level = trace.main.level;
  const xm = x.trace.main;
  if (xm === trace.main) return x;
  if (xm.level < level) return trace.lift(x);
  if (xm.level > level)
    throw new TracerError(
      `a ${formatType(x.aval)} tracer escaped its transformation (level ${xm.level} used at level ${level}); ` +
        `values created inside jit/grad/vmap must be returned, not stored outside`,
    );
  throw new TracerError(`different traces at the same level ${level}`);
}

/** smelt's own source folders: frames inside them are not the user's. */
const packageRoot = new URL("..", import.meta.url).href.replace(/^file:\/\//, "");
const internalDirs = ["ir", "frontend", "runtime", "passes", "codegen", "dist"].map((d) => packageRoot + d + "/");
/**
 * In a bundle the folders are gone: the files holding this module and the IR are smelt's
 * (a page's code bundled into the same file loses its location rather than get a wrong one).
 */
const internalFiles = [import.meta.url, IR_MODULE_URL].map((u) => u.replace(/^file:\/\//, "") + ":");

/** The innermost stack frame outside smelt's own source: where the user called us. */
export function userFrame(): string | undefined {
  const stack = new Error().stack?.split("\n").slice(1) ?? [];
  for (const line of stack) {
    const m = /\(?((?:file:\/\/)?[^()\s]+:\d+:\d+)\)?\s*$/.exec(line);
    if (!m) continue;
    const loc = m[1]!.replace(/^file:\/\//, "");
    if (loc.startsWith("node:") || loc.includes("/node_modules/") || internalDirs.some((d) => loc.startsWith(d))) continue;
    if (internalFiles.some((f) => loc.startsWith(f))) continue;
    return loc;
  }
  return undefined;
}

/** Applies a primitive to operands at whatever level of the stack they live. */
export function bind<P extends Primitive>(prim: P, inputs: readonly Tensor[], params: PrimitiveParams[P]): Tensor[] {
  inputs.forEach((x, i) => {
    if (!(x instanceof Tensor)) throw new ArgumentError(`lax.${prim}`, `operand ${i}`, describe(x), "a Tensor");
  });
  const trace = findTopTrace(inputs);
  const tracers = inputs.map((x) => fullRaise(trace, x));
  let outs: Tensor[];
  try {
    outs = trace.processPrimitive(prim, tracers, params);
  } catch (e) {
    if (e instanceof ShapeError) throw e.withFrame(userFrame());
    throw e;
  }
  return outs.map((o) => o.fullLower());
}

export function bind1<P extends Primitive>(prim: P, inputs: readonly Tensor[], params: PrimitiveParams[P]): Tensor {
  return bind(prim, inputs, params)[0]!;
}
