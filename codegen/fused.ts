/**
 * Fused lowering: every fusion node (passes/fuse.ts states what each kind means) becomes
 * ONE kernel, its body evaluated by composing the pointwise builders (codegen/fused-body.ts).
 *
 * - elementwise: one invocation per element of the domain; every result is stored from
 *   the same invocation.
 * - reduction: a team of invocations per row (codegen/fused-reduction.ts).
 * - matmul: the tiled template (codegen/matmul.ts) with the rest of the body as its
 *   epilogue, evaluated per element of C after accumulation.
 */
import { sizeOf } from "../ir/dtype.js";
import type { Node, Value } from "../ir/graph.js";
import { Index } from "./elementwise.js";
import { BodyEval, fusionBindings, fusionBuilder, site } from "./fused-body.js";
import { reductionKernel } from "./fused-reduction.js";
import { checkArray, gridFor, linearGroupId, unravel } from "./indexing.js";
import { type Expr, type Kernel, type Stmt, BodyBuilder, iadd, id, imul, lt, u32 } from "./kernel.js";
import { type LowerContext, type LoweredKernel, LoweringError, dotGeneralSpec } from "./lower.js";
import { matmulKernel } from "./matmul.js";

/** The kernel of one fusion node (none when its results are empty). */
export function lowerFusion(node: Node<"fusion">, ctx: LowerContext): LoweredKernel[] {
  if (node.outputs.every((v) => sizeOf(v.shape) === 0)) return [];
  const { body, kind } = node.params;
  for (const v of [...node.inputs, ...node.outputs]) checkArray(`fusion @${body.name} (${ctx.name})`, v.dtype, v.shape, ctx.target);
  const source = `${ctx.source}; ops: ${body.nodes.map((n) => n.prim).join(" ")}`;
  const c = { ...ctx, source };
  const kernel =
    kind === "elementwise" ? elementwiseKernel(node, c)
    : kind === "reduction" ? reductionKernel(node, c)
    : kind === "matmul" ? matmulFusionKernel(node, c)
    : undefined;
  if (!kernel) throw new LoweringError(`fusion @${body.name} has unknown kind '${kind}' (expected elementwise, reduction or matmul)`);
  const max = ctx.target.limits.maxStorageBuffersPerShaderStage;
  if (kernel.bindings.length > max)
    throw new LoweringError(`fusion @${body.name} binds ${kernel.bindings.length} storage buffers, more than the target's ${max}; the fuse pass should have split it`);
  return [{
    kernel,
    args: [...node.inputs.map((_, index) => ({ kind: "in" as const, index })), ...node.outputs.map((_, index) => ({ kind: "out" as const, index }))],
  }];
}

const WIDTH = 256;

/**
 * Elements per invocation of an elementwise fusion: up to four, at a stride of the
 * workgroup width (neighbouring invocations still touch neighbouring addresses), while
 * the launch keeps at least 256 workgroups. Fewer, fatter workgroups halve the time of a
 * 4M-element chain on lavapipe, whose per-workgroup cost is high, and give a GPU
 * independent loads in flight.
 */
export function elementsPerInvocation(n: number): number {
  let per = 4;
  while (per > 1 && n < WIDTH * per * 256) per /= 2;
  return per;
}

function elementwiseKernel(node: Node<"fusion">, ctx: LowerContext): Kernel {
  const body = node.params.body;
  const bindings = fusionBindings(node);
  const ev = new BodyEval(body, node.inputs.map((_, i) => `in${i}`));
  const domain = body.outputs[0]!.shape;
  const n = sizeOf(domain);
  const per = elementsPerInvocation(n);
  const block = WIDTH * per;
  const grid = gridFor(Math.ceil(n / block), ctx.target);
  const b = fusionBuilder(node, bindings);
  const base = b.let("base", iadd(imul(linearGroupId(grid), u32(block)), id("local", 0)));
  const ragged = n % block !== 0;
  for (let k = 0; k < per; k++) {
    const emit = (bb: BodyBuilder) => {
      const gid = bb.let("gid", iadd(base, u32(k * WIDTH)));
      const at = new Index(bb, domain, { linear: gid });
      const s = site(at);
      const values = body.outputs.map((v) => ev.eval(v, bb, at, s));
      values.forEach((v, i) => bb.store(`out${i}`, gid, v));
    };
    if (ragged) b.if(lt(iadd(base, u32(k * WIDTH)), u32(n)), emit);
    else emit(b);
  }
  return { name: ctx.name, source: ctx.source, bindings, workgroupSize: [WIDTH, 1, 1], grid, shared: [], body: b.stmts };
}

/** The binding name the template stores C to; every store to it becomes the epilogue. */
const PRODUCT = "product";

/**
 * The tiled matmul with the body's epilogue. The template writes C row-major as
 * [batch, m, n] with one scalar store per element (MatmulSpec.out), which is exactly
 * dot_general's result layout; each such store is replaced by the epilogue at that
 * element, so no template change is needed and C never reaches memory unless the body
 * returns it.
 */
function matmulFusionKernel(node: Node<"fusion">, ctx: LowerContext): Kernel {
  const body = node.params.body;
  const bindings = fusionBindings(node);
  const ev = new BodyEval(body, node.inputs.map((_, i) => `in${i}`), "ep_");
  const dots = body.nodes.filter((n) => n.prim === "dot_general");
  if (dots.length !== 1) throw new LoweringError(`matmul fusion @${body.name} holds ${dots.length} dot_generals, expected one`);
  const dot = dots[0]!;
  const product = dot.outputs[0]!;
  const spec = dotGeneralSpec(dot, { name: ctx.name, source: ctx.source, bindings, out: PRODUCT },
    { lhs: ev.inputName(dot.inputs[0]!), rhs: ev.inputName(dot.inputs[1]!) });
  const template = matmulKernel(spec, ctx.target);
  const opening = fusionBuilder(node, bindings).stmts;
  return withEpilogue({ ...template, body: [...opening, ...template.body] }, (b, linear, value) => {
    const idx = unravel(b, linear, product.shape, "ep_i");
    const at = new Index(b, product.shape, { idx, linear });
    const s = site(at, (v: Value) => (v === product ? value : undefined));
    const values = body.outputs.map((v) => ev.eval(v, b, at, s));
    values.forEach((v, i) => b.store(`out${i}`, linear, v));
  });
}

type Epilogue = (b: BodyBuilder, linear: Expr, value: Expr) => void;

/** Names declared anywhere in `ss`. */
function declared(ss: readonly Stmt[], into: Set<string>): Set<string> {
  for (const s of ss) {
    if (s.k === "let" || s.k === "var" || s.k === "array") into.add(s.name);
    if (s.k === "for") declared(s.body, into.add(s.v));
    if (s.k === "if") declared(s.else, declared(s.then, into));
  }
  return into;
}

function readsProduct(e: Expr): boolean {
  switch (e.k) {
    case "load": return e.name === PRODUCT || readsProduct(e.index);
    case "un": case "cast": case "bitcast": return readsProduct(e.a);
    case "bin": return readsProduct(e.a) || readsProduct(e.b);
    case "select": return readsProduct(e.cond) || readsProduct(e.a) || readsProduct(e.b);
    case "call": return e.args.some(readsProduct);
    default: return false;
  }
}

/** Replaces each scalar store of C by the epilogue; refuses a template that reads C back or never stores it. */
function withEpilogue(k: Kernel, epilogue: Epilogue): Kernel {
  const taken = declared(k.body, new Set([...k.bindings.map((b) => b.name), ...k.shared.map((s) => s.name)]));
  const names = new Map<string, number>();
  let stores = 0;
  const exprs = (s: Stmt): Expr[] =>
    s.k === "let" ? [s.value] : s.k === "var" ? [s.init] : s.k === "assign" ? [s.value]
    : s.k === "store" ? [s.index, s.value] : s.k === "for" ? [s.start, s.end] : s.k === "if" ? [s.cond] : [];
  const walk = (ss: readonly Stmt[]): Stmt[] =>
    ss.flatMap((s): Stmt[] => {
      if (exprs(s).some(readsProduct)) throw new LoweringError(`${k.name}: the matmul template reads C back; an epilogue cannot replace its stores`);
      if (s.k === "for") return [{ ...s, body: walk(s.body) }];
      if (s.k === "if") return [{ ...s, then: walk(s.then), else: walk(s.else) }];
      if (s.k !== "store" || s.name !== PRODUCT) return [s];
      if (s.space !== "global") throw new LoweringError(`${k.name}: the matmul template stores C to ${s.space} memory`);
      stores++;
      const b = new BodyBuilder(names);
      epilogue(b, b.let("ep_at", s.index), b.let("ep_c", s.value));
      for (const n of declared(b.stmts, new Set()))
        if (taken.has(n)) throw new LoweringError(`${k.name}: epilogue name '${n}' collides with the template's`);
      return b.stmts;
    });
  const out = walk(k.body);
  if (stores === 0) throw new LoweringError(`${k.name}: the matmul template stores no scalar element of C; the epilogue has nowhere to go`);
  return { ...k, body: out };
}
