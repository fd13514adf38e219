/**
 * The IR text parser: the inverse of `printIR`. Two phases, so that every error
 * carries a position:
 *
 *  1. chevrotain lexes and parses the text into a small syntax tree that keeps the
 *     token of everything it holds (no semantics, no recovery: the first error wins);
 *  2. the tree is checked and built into graphs with `GraphBuilder`, so each
 *     primitive's shape rule runs, and each declared type is compared with the rule's.
 *
 * Every failure — a stray character, a missing brace, an unknown primitive, a rule
 * rejecting its operands — is an `IRParseError` with a 1-based line and column that
 * says what was expected and what was found.
 */
import {
  EmbeddedActionsParser,
  EOF,
  type IParserErrorMessageProvider,
  type IRecognitionException,
  type IToken,
  Lexer,
  type TokenType,
  createToken,
  tokenLabel,
} from "chevrotain";
import { type AbstractValue, DTYPES, formatType, isDType } from "./dtype.js";
import { IRParseError, ShapeError, VerifyError } from "./errors.js";
import { type Graph, GraphBuilder, type Value, verify } from "./graph.js";
import { type ParamKind, type Primitive, allPrimitives, isPrimitive, primitiveDef } from "./primitives.js";

// ---------------------------------------------------------------------------
// tokens

const WhiteSpace = createToken({ name: "WhiteSpace", pattern: /[ \t\r\n]+/, group: Lexer.SKIPPED, line_breaks: true });
const Comment = createToken({ name: "Comment", pattern: /\/\/[^\n]*/, group: Lexer.SKIPPED });
const Identifier = createToken({ name: "Identifier", pattern: /[A-Za-z_][A-Za-z0-9_]*/, label: "a name" });
const Func = createToken({ name: "Func", pattern: /func/, longer_alt: Identifier, label: "'func'" });
const Return = createToken({ name: "Return", pattern: /return/, longer_alt: Identifier, label: "'return'" });
// The spellings `formatNumber` produces: JS shortest round-trip decimals plus nan/inf/-inf/-0.
const NumberLit = createToken({
  name: "Number",
  pattern: /-?(?:inf|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|nan/,
  longer_alt: Identifier,
  label: "a number",
});
const ValueName = createToken({ name: "ValueName", pattern: /%[A-Za-z0-9_]+/, label: "a %value" });
const FuncRef = createToken({ name: "FuncRef", pattern: /@[A-Za-z_][A-Za-z0-9_]*/, label: "an @function" });
const StringLit = createToken({
  name: "String",
  pattern: /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/,
  label: "a JSON string",
});
const Arrow = createToken({ name: "Arrow", pattern: /->/, label: "'->'" });
const punct = (name: string, ch: string) => createToken({ name, pattern: ch, label: `'${ch}'` });
const LParen = punct("LParen", "(");
const RParen = punct("RParen", ")");
const LBrace = punct("LBrace", "{");
const RBrace = punct("RBrace", "}");
const LBracket = punct("LBracket", "[");
const RBracket = punct("RBracket", "]");
const Comma = punct("Comma", ",");
const Colon = punct("Colon", ":");
const Equals = punct("Equals", "=");

const allTokens = [
  WhiteSpace, Comment, Func, Return, NumberLit, Identifier, ValueName, FuncRef, StringLit, Arrow,
  LParen, RParen, LBrace, RBrace, LBracket, RBracket, Comma, Colon, Equals,
];

// ---------------------------------------------------------------------------
// syntax tree: tokens only; meaning is given in the second phase

interface TypeAst { readonly dtype: IToken; readonly dims: IToken[] }
type AttrAst = { readonly token: IToken; readonly items?: IToken[] };
interface NodeAst {
  readonly results: IToken[];
  readonly prim: IToken;
  readonly operands: IToken[];
  readonly attrs: { name: IToken; value: AttrAst }[];
  readonly colon: IToken;
  readonly types: TypeAst[];
}
interface FuncAst {
  readonly name: IToken;
  readonly params: { name: IToken; type: TypeAst }[];
  readonly results: TypeAst[];
  readonly nodes: NodeAst[];
  readonly ret: IToken;
  readonly returns: IToken[];
}

const found = (t: IToken): string =>
  t.tokenType === EOF ? "end of input" : `'${t.image.length > 24 ? t.image.slice(0, 24) + "…" : t.image}'`;

function alternatives(paths: TokenType[][]): string {
  const labels = [...new Set(paths.map((p) => (p[0] ? tokenLabel(p[0]) : "end of input")))];
  return labels.length > 1 ? `${labels.slice(0, -1).join(", ")} or ${labels[labels.length - 1]}` : (labels[0] ?? "");
}

const messages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage: ({ expected, actual }) => `expected ${tokenLabel(expected)}, found ${found(actual)}`,
  buildNotAllInputParsedMessage: ({ firstRedundant }) =>
    `expected 'func' or end of input, found ${found(firstRedundant)}`,
  buildNoViableAltMessage: ({ expectedPathsPerAlt, actual }) =>
    `expected ${alternatives(expectedPathsPerAlt.flat())}, found ${found(actual[0]!)}`,
  buildEarlyExitMessage: ({ expectedIterationPaths, actual }) =>
    `expected ${alternatives(expectedIterationPaths)}, found ${found(actual[0]!)}`,
};

/** Rule bodies only collect tokens: chevrotain runs them once in a recording phase. */
class IRGrammar extends EmbeddedActionsParser {
  constructor() {
    super(allTokens, { errorMessageProvider: messages });
    this.performSelfAnalysis();
  }

  readonly module = this.RULE("module", (): FuncAst[] => {
    const funcs: FuncAst[] = [];
    this.AT_LEAST_ONE(() => funcs.push(this.SUBRULE(this.func)));
    return funcs;
  });

  private readonly func = this.RULE("func", (): FuncAst => {
    this.CONSUME(Func);
    const name = this.CONSUME(FuncRef);
    const params: FuncAst["params"] = [];
    this.CONSUME(LParen);
    this.MANY_SEP({
      SEP: Comma,
      DEF: () => {
        const p = this.CONSUME(ValueName);
        this.CONSUME(Colon);
        params.push({ name: p, type: this.SUBRULE(this.type) });
      },
    });
    this.CONSUME(RParen);
    this.CONSUME(Arrow);
    this.CONSUME2(LParen);
    const results: TypeAst[] = [];
    this.MANY_SEP2({ SEP: Comma, DEF: () => results.push(this.SUBRULE2(this.type)) });
    this.CONSUME2(RParen);
    this.CONSUME(LBrace);
    const nodes: NodeAst[] = [];
    this.MANY(() => nodes.push(this.SUBRULE(this.node)));
    const ret = this.CONSUME(Return);
    const returns: IToken[] = [];
    this.MANY_SEP3({ SEP: Comma, DEF: () => returns.push(this.CONSUME2(ValueName)) });
    this.CONSUME(RBrace);
    return { name, params, results, nodes, ret, returns };
  });

  private readonly node = this.RULE("node", (): NodeAst => {
    const results: IToken[] = [];
    this.MANY_SEP({ SEP: Comma, DEF: () => results.push(this.CONSUME(ValueName)) });
    this.CONSUME(Equals);
    const prim = this.CONSUME(Identifier);
    const operands: IToken[] = [];
    this.MANY_SEP2({ SEP: Comma, DEF: () => operands.push(this.CONSUME2(ValueName)) });
    const attrs: NodeAst["attrs"] = [];
    this.OPTION(() => {
      this.CONSUME(LBrace);
      this.MANY_SEP3({
        SEP: Comma,
        DEF: () => {
          const name = this.CONSUME2(Identifier);
          this.CONSUME2(Equals);
          attrs.push({ name, value: this.SUBRULE(this.attrValue) });
        },
      });
      this.CONSUME(RBrace);
    });
    const colon = this.CONSUME(Colon);
    const types: TypeAst[] = [];
    this.MANY_SEP4({ SEP: Comma, DEF: () => types.push(this.SUBRULE(this.type)) });
    return { results, prim, operands, attrs, colon, types };
  });

  private readonly attrValue = this.RULE("attrValue", (): AttrAst =>
    this.OR([
      { ALT: () => ({ token: this.CONSUME(NumberLit) }) },
      { ALT: () => ({ token: this.CONSUME(Identifier) }) },
      { ALT: () => ({ token: this.CONSUME(StringLit) }) },
      { ALT: () => ({ token: this.CONSUME(FuncRef) }) },
      {
        ALT: () => {
          const token = this.CONSUME(LBracket);
          const items: IToken[] = [];
          this.MANY_SEP({ SEP: Comma, DEF: () => items.push(this.CONSUME2(NumberLit)) });
          this.CONSUME(RBracket);
          return { token, items };
        },
      },
    ]),
  );

  private readonly type = this.RULE("type", (): TypeAst => {
    const dtype = this.CONSUME(Identifier);
    const dims: IToken[] = [];
    this.CONSUME(LBracket);
    this.MANY_SEP({ SEP: Comma, DEF: () => dims.push(this.CONSUME(NumberLit)) });
    this.CONSUME(RBracket);
    return { dtype, dims };
  });
}

let lexer: Lexer | undefined;
let grammar: IRGrammar | undefined;

/** Phase 1: text to syntax tree, reporting the earliest lexing or parsing error. */
function parseSyntax(text: string): FuncAst[] {
  lexer ??= new Lexer(allTokens);
  grammar ??= new IRGrammar();
  const lexed = lexer.tokenize(text);
  grammar.input = lexed.tokens;
  const funcs = grammar.module();
  const lexError = lexed.errors[0];
  const parseError: IRecognitionException | undefined = grammar.errors[0];
  const parseOffset = parseError ? (parseError.token.tokenType === EOF ? Infinity : parseError.token.startOffset) : Infinity;
  if (lexError && lexError.offset <= parseOffset) {
    const ch = JSON.stringify(text[lexError.offset]);
    throw new IRParseError(
      lexError.line ?? 1,
      lexError.column ?? 1,
      `expected a name, number, %value, @function, string or punctuation, found unexpected character ${ch}`,
    );
  }
  if (parseError) {
    const t = parseError.token;
    if (t.tokenType !== EOF) throw new IRParseError(t.startLine ?? 1, t.startColumn ?? 1, parseError.message);
    // End of input has no position of its own: point just past the last token.
    const last = lexed.tokens[lexed.tokens.length - 1];
    throw new IRParseError(last?.endLine ?? 1, last ? (last.endColumn ?? 0) + 1 : 1, parseError.message);
  }
  return funcs;
}

// ---------------------------------------------------------------------------
// phase 2: meaning

const at = (t: IToken, detail: string): IRParseError => new IRParseError(t.startLine ?? 1, t.startColumn ?? 1, detail);
const where = (t: IToken) => `line ${t.startLine}, column ${t.startColumn}`;

const KIND_TEXT: Record<ParamKind, string> = {
  int: "an integer",
  ints: "a list of integers",
  number: "a number",
  numbers: "a list of numbers",
  bool: "true or false",
  dtype: `a dtype (${DTYPES.join(", ")})`,
  string: "a JSON string",
  graph: "an @function defined earlier",
};

function numberOf(t: IToken): number {
  if (t.image === "nan") return NaN;
  if (t.image === "inf") return Infinity;
  if (t.image === "-inf") return -Infinity;
  return Number(t.image);
}

function integerOf(t: IToken, what: string): number {
  const x = numberOf(t);
  if (t.tokenType !== NumberLit || !Number.isInteger(x)) throw at(t, `expected ${what}, found ${found(t)}`);
  return x;
}

function typeOf(t: TypeAst): AbstractValue {
  if (!isDType(t.dtype.image)) throw at(t.dtype, `expected a dtype (${DTYPES.join(", ")}), found ${found(t.dtype)}`);
  const shape = t.dims.map((d) => {
    const n = integerOf(d, "a non-negative integer dimension");
    if (n < 0) throw at(d, `expected a non-negative integer dimension, found ${found(d)}`);
    return n + 0; // -0 is a valid spelling of an empty axis; store it as 0
  });
  return { dtype: t.dtype.image, shape };
}

function attrOf(kind: ParamKind, name: IToken, v: AttrAst, funcs: Map<string, Graph>): unknown {
  const t = v.token;
  const wrong = () => at(t, `expected ${KIND_TEXT[kind]} for '${name.image}', found ${v.items ? "a list" : found(t)}`);
  const isList = kind === "ints" || kind === "numbers";
  if (isList !== (v.items !== undefined)) throw wrong();
  switch (kind) {
    case "int":
      if (t.tokenType !== NumberLit) throw wrong();
      return integerOf(t, `an integer for '${name.image}'`);
    case "number":
      if (t.tokenType !== NumberLit) throw wrong();
      return numberOf(t);
    case "ints":
      return v.items!.map((i) => integerOf(i, `an integer in '${name.image}'`));
    case "numbers":
      return v.items!.map(numberOf);
    case "bool":
      if (t.tokenType !== Identifier || (t.image !== "true" && t.image !== "false")) throw wrong();
      return t.image === "true";
    case "dtype":
      if (t.tokenType !== Identifier || !isDType(t.image)) throw wrong();
      return t.image;
    case "string":
      if (t.tokenType !== StringLit) throw wrong();
      return JSON.parse(t.image) as string;
    case "graph": {
      if (t.tokenType !== FuncRef) throw wrong();
      const g = funcs.get(t.image.slice(1));
      if (!g) throw at(t, `expected an @function defined earlier in the module, found unknown ${t.image}`);
      return g;
    }
    default:
      return kind satisfies never;
  }
}

/** Edit distance, to suggest the primitive a typo meant. */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++)
      next.push(Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    row = next;
  }
  return row[b.length]!;
}

function unknownPrimitive(t: IToken): IRParseError {
  const best = allPrimitives()
    .map((p) => [p, distance(t.image, p)] as const)
    .sort((x, y) => x[1] - y[1])[0];
  const hint = best && best[1] <= 2 ? ` (did you mean '${best[0]}'?)` : "";
  return at(t, `expected a primitive, found unknown primitive '${t.image}'${hint}`);
}

function buildNode(n: NodeAst, b: GraphBuilder, env: Map<string, { v: Value; t: IToken }>, funcs: Map<string, Graph>) {
  const name = n.prim.image;
  if (!isPrimitive(name)) throw unknownPrimitive(n.prim);
  const def = primitiveDef(name as Primitive);
  const operands = n.operands.map((t) => {
    const e = env.get(t.image);
    if (!e) throw at(t, `expected a value defined earlier in @${b.name}, found undefined ${t.image}`);
    return e.v;
  });
  const schema = def.params as Record<string, ParamKind>;
  const expectedAttrs = Object.keys(schema);
  const params: Record<string, unknown> = {};
  for (const { name: k, value } of n.attrs) {
    if (!(k.image in schema))
      throw at(k, expectedAttrs.length
        ? `expected an attribute of ${name} (${expectedAttrs.join(", ")}), found unknown attribute '${k.image}'`
        : `expected no attributes (${name} takes none), found attribute '${k.image}'`);
    if (k.image in params) throw at(k, `attribute '${k.image}' is given twice`);
    params[k.image] = attrOf(schema[k.image]!, k, value, funcs);
  }
  for (const k of expectedAttrs)
    if (!(k in params))
      throw at(n.prim, `${name}: expected attribute '${k}' (${KIND_TEXT[schema[k]!]}), found it missing`);
  let outputs: Value[];
  try {
    outputs = b.add(name as Primitive, operands, params as never);
  } catch (e) {
    if (e instanceof ShapeError) throw at(n.prim, e.message);
    throw e;
  }
  if (n.results.length !== outputs.length)
    throw at(n.results[0] ?? n.prim, `expected ${outputs.length} result name(s) (${name} defines ${outputs.length}), found ${n.results.length}`);
  if (n.types.length !== outputs.length)
    throw at(n.types[0]?.dtype ?? n.colon, `expected ${outputs.length} result type(s) after ':', found ${n.types.length}`);
  n.types.forEach((t, i) => {
    const declared = formatType(typeOf(t));
    const rule = formatType(outputs[i]!.type);
    if (declared !== rule) throw at(t.dtype, `expected ${rule} (the type ${name} gives result ${i}), found ${declared}`);
  });
  n.results.forEach((t, i) => define(env, t, outputs[i]!));
}

function define(env: Map<string, { v: Value; t: IToken }>, t: IToken, v: Value): void {
  const prev = env.get(t.image);
  if (prev) throw at(t, `expected a new value name, found ${t.image} already defined at ${where(prev.t)}`);
  env.set(t.image, { v, t });
}

function buildFunc(f: FuncAst, funcs: Map<string, Graph>): Graph {
  const name = f.name.image.slice(1);
  const b = new GraphBuilder(name);
  const env = new Map<string, { v: Value; t: IToken }>();
  for (const p of f.params) define(env, p.name, b.input(typeOf(p.type), p.name.image.slice(1)));
  for (const n of f.nodes) buildNode(n, b, env, funcs);
  const declared = f.results.map(typeOf);
  const outs = f.returns.map((t) => {
    const e = env.get(t.image);
    if (!e) throw at(t, `expected a value defined earlier in @${name}, found undefined ${t.image}`);
    return e.v;
  });
  if (outs.length !== declared.length)
    throw at(f.returns[0] ?? f.ret, `expected ${declared.length} returned value(s) (as @${name} declares), found ${outs.length}`);
  outs.forEach((v, i) => {
    if (formatType(v.type) !== formatType(declared[i]!))
      throw at(f.returns[i]!, `expected ${formatType(declared[i]!)} (result ${i} of @${name}), found ${f.returns[i]!.image}: ${formatType(v.type)}`);
  });
  return b.build(outs);
}

/**
 * Parse a module printed by `printIR`. Functions may call (`@name`) only functions
 * defined above them; the last function is the one returned, with its callees
 * resolved to `Graph` objects. Throws `IRParseError` for anything malformed.
 * The public `parseIR` (ir/parser.ts) loads this module on first use.
 */
export function parseIRSync(text: string): Graph {
  const funcs = new Map<string, Graph>();
  const heads = new Map<string, IToken>();
  let main: Graph | undefined;
  let mainHead: IToken | undefined;
  for (const f of parseSyntax(text)) {
    const name = f.name.image.slice(1);
    const prev = heads.get(name);
    if (prev) throw at(f.name, `expected a new function name, found ${f.name.image} already defined at ${where(prev)}`);
    main = buildFunc(f, funcs);
    mainHead = f.name;
    funcs.set(name, main);
    heads.set(name, f.name);
  }
  try {
    verify(main!);
  } catch (e) {
    // The checks above make this unreachable; if a rule and the verifier ever disagree,
    // the user still gets a position rather than a bare VerifyError.
    if (e instanceof VerifyError) throw at(mainHead!, e.message);
    throw e;
  }
  return main!;
}
