/**
 * The README's TypeScript examples type-check under `tsc --strict` against the
 * public API, read from README.md at test time so the check follows the text.
 * Each ```ts block is its own module; blocks are fragments of one session, so a
 * prelude imports every public export of smelt and declares the conventional
 * example tensors (x, w, b, a, ...) that the block uses without defining.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ts from "typescript";
import { describe, expect, test } from "vitest";

const root = join(import.meta.dirname, "../..");

/** The body of every ```ts block, with the line it starts on. */
export function tsBlocks(markdown: string): { line: number; code: string }[] {
  const blocks: { line: number; code: string }[] = [];
  const re = /^```ts[^\n]*\n([\s\S]*?)^```/gm;
  for (let m; (m = re.exec(markdown)); ) blocks.push({ line: markdown.slice(0, m.index).split("\n").length + 1, code: m[1]! });
  return blocks;
}

/** Names a block declares at its top level (variables, destructured or not, functions, classes). */
function declaredNames(code: string): Set<string> {
  const sf = ts.createSourceFile("block.ts", code, ts.ScriptTarget.ES2022, true);
  const names = new Set<string>();
  const bind = (n: ts.BindingName) => {
    if (ts.isIdentifier(n)) names.add(n.text);
    else for (const e of n.elements) if (!ts.isOmittedExpression(e)) bind(e.name);
  };
  for (const s of sf.statements) {
    if (ts.isVariableStatement(s)) s.declarationList.declarations.forEach((d) => bind(d.name));
    else if ((ts.isFunctionDeclaration(s) || ts.isClassDeclaration(s)) && s.name) names.add(s.name.text);
    else if (ts.isImportDeclaration(s) && s.importClause) {
      const b = s.importClause.namedBindings;
      if (s.importClause.name) names.add(s.importClause.name.text);
      if (b && ts.isNamedImports(b)) b.elements.forEach((e) => names.add(e.name.text));
      if (b && ts.isNamespaceImport(b)) names.add(b.name.text);
    }
  }
  return names;
}

/** Example tensors the README's fragments use without defining. */
const EXAMPLE_TENSORS = ["x", "y", "w", "b", "a", "q", "k", "v"];

const options: ts.CompilerOptions = {
  strict: true,
  noEmit: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  lib: ["lib.es2022.d.ts", "lib.esnext.disposable.d.ts", "lib.dom.d.ts"],
  types: ["node"],
  typeRoots: [join(root, "node_modules/@types")],
  skipLibCheck: true,
  esModuleInterop: true,
  resolveJsonModule: true,
  baseUrl: root,
  paths: { smelt: [join(root, "index.ts")] },
};

/** Type errors of `code` as a module importing "smelt", each as `line: message`. */
function typeErrors(code: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), "smelt-types-"));
  try {
    writeFileSync(join(dir, "package.json"), '{ "type": "module" }\n');
    const file = join(dir, "check.ts");
    writeFileSync(file, code);
    const program = ts.createProgram([file], options);
    return ts.getPreEmitDiagnostics(program, program.getSourceFile(file)).map((d) => {
      const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : 0;
      return `${line}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("transformations keep their types", () => {
  test("grad, valueAndGrad and vjp keep the argument types and give gradients shaped like the arguments", () => {
    const code = `
import { grad, valueAndGrad, vjp, jit, np, type Tensor } from "smelt";
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assert<T extends true>(): void {}
type Params = { w: Tensor; b: Tensor };
const loss = (p: Params, x: Tensor) => np.sum(np.add(np.matmul(x, p.w), p.b));
const g = grad(loss);
assert<Equal<Parameters<typeof g>, [p: Params, x: Tensor]>>();
assert<Equal<ReturnType<typeof g>, { w: Tensor; b: Tensor }>>();
// @ts-expect-error: the first argument must be the parameters
g(np.ones([2]), np.ones([2]));
const g1 = grad(loss, { argnums: 1 });
assert<Equal<ReturnType<typeof g1>, Tensor>>();
const both = grad(loss, { argnums: [0, 1] });
assert<Equal<ReturnType<typeof both>, [{ w: Tensor; b: Tensor }, Tensor]>>();
const vg = valueAndGrad(loss);
assert<Equal<ReturnType<typeof vg>, [Tensor, { w: Tensor; b: Tensor }]>>();
const withAux = valueAndGrad((x: Tensor) => [np.sum(x), { mean: np.mean(x) }] as const, { hasAux: true });
assert<Equal<ReturnType<typeof withAux>, [[Tensor, { readonly mean: Tensor }], Tensor]>>();
const scalarGrad = grad((t: number) => np.square(t));
assert<Equal<ReturnType<typeof scalarGrad>, Tensor>>();
const [out, pullback] = vjp((x: Tensor, y: Tensor) => np.multiply(x, y), np.ones([2]), np.ones([2]));
assert<Equal<typeof out, Tensor>>();
assert<Equal<ReturnType<typeof pullback>, [Tensor, Tensor]>>();
const jg = jit(grad(loss));
assert<Equal<ReturnType<typeof jg>, { w: Tensor; b: Tensor }>>();
`;
    expect(typeErrors(code)).toEqual([]);
  }, 120_000);
});

describe("the README's code", () => {
  test("finds the ```ts blocks of a markdown text", () => {
    expect(tsBlocks("a\n```ts\nconst x = 1;\n```\n```\nnot ts\n```\n```ts\nf();\n```\n")).toEqual([
      { line: 3, code: "const x = 1;\n" },
      { line: 9, code: "f();\n" },
    ]);
  });

  test("every ```ts block of README.md type-checks under --strict", () => {
    const blocks = tsBlocks(readFileSync(join(root, "README.md"), "utf8"));
    expect(blocks.length).toBeGreaterThan(0);
    const dir = mkdtempSync(join(tmpdir(), "smelt-readme-"));
    try {
      writeFileSync(join(dir, "package.json"), '{ "type": "module" }\n');
      // The public value and type exports of smelt, for the prelude.
      const index = ts.createProgram([join(root, "index.ts")], options);
      const checker = index.getTypeChecker();
      const moduleSymbol = checker.getSymbolAtLocation(index.getSourceFile(join(root, "index.ts"))!)!;
      const exported = checker.getExportsOfModule(moduleSymbol).map((s) => s.name);

      const files = blocks.map((block, i) => {
        const declared = declaredNames(block.code);
        const imports = exported.filter((n) => !declared.has(n));
        const tensors = EXAMPLE_TENSORS.filter((n) => !declared.has(n));
        const prelude = [
          imports.length ? `import { ${imports.join(", ")} } from "smelt";` : "",
          tensors.length ? `declare const ${tensors.map((n) => `${n}: Tensor`).join(", ")};` : "",
        ].join(" ");
        const file = join(dir, `block${i}.ts`);
        // One line of prelude keeps the block's own line numbers readable (line 2 = the block's first).
        writeFileSync(file, `${prelude}\n${block.code}\nexport {};\n`);
        return { file, block };
      });
      const program = ts.createProgram(files.map((f) => f.file), options);
      const errors = files.flatMap(({ file, block }) =>
        ts.getPreEmitDiagnostics(program, program.getSourceFile(file)).map((d) => {
          const pos = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
          const line = pos ? block.line + pos.line - 1 : block.line;
          return `README.md:${line}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`;
        }),
      );
      expect(errors).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
