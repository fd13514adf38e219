/**
 * A strict reader for the SVG the charts write (a subset of XML: elements, double-quoted
 * attributes, text with the five predefined entities, an optional declaration). It throws
 * on anything malformed — an unclosed or mismatched tag, a raw `<` or `&` in text or an
 * attribute, a repeated attribute, content after the root — so a test that parses a chart
 * fails when the chart is not well formed.
 */

export interface SvgElement {
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: SvgElement[];
  /** The element's own text, entities decoded (its children's text not included). */
  text: string;
}

export class MalformedSvgError extends Error {
  override name = "MalformedSvgError";
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

function decode(raw: string, where: string): string {
  if (raw.includes("<")) throw new MalformedSvgError(`a raw '<' in ${where}: ${JSON.stringify(raw)}`);
  return raw.replace(/&([^;&\s]*);?/g, (whole, name: string) => {
    if (!whole.endsWith(";")) throw new MalformedSvgError(`an unterminated '&' in ${where}: ${JSON.stringify(raw)}`);
    const numeric = /^#(\d+)$/.exec(name) ?? /^#x([0-9a-f]+)$/i.exec(name);
    if (numeric) return String.fromCodePoint(parseInt(numeric[1]!, name[1] === "x" ? 16 : 10));
    if (!(name in ENTITIES)) throw new MalformedSvgError(`an unknown entity &${name}; in ${where}`);
    return ENTITIES[name]!;
  });
}

const TAG = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+\s*=\s*"[^"]*")*)\s*(\/?)>|<\?xml[^?]*\?>|<!--[\s\S]*?-->/g;
const ATTR = /([\w:.-]+)\s*=\s*"([^"]*)"/g;

export function parseSvg(source: string): SvgElement {
  const stack: SvgElement[] = [];
  let root: SvgElement | undefined;
  let at = 0;
  const text = (raw: string) => {
    if (raw.includes("<")) throw new MalformedSvgError(`a '<' that starts no well-formed tag near ${JSON.stringify(raw.slice(raw.indexOf("<"), raw.indexOf("<") + 40))}`);
    const top = stack[stack.length - 1];
    if (!top) {
      if (raw.trim()) throw new MalformedSvgError(`text outside the root element: ${JSON.stringify(raw.trim().slice(0, 40))}`);
      return;
    }
    top.text += decode(raw, `<${top.name}>'s text`);
  };
  for (const m of source.matchAll(TAG)) {
    text(source.slice(at, m.index));
    at = m.index + m[0].length;
    const [, close, name, attrText, selfClose] = m;
    if (!name) continue; // the declaration or a comment
    if (close) {
      if (attrText || selfClose) throw new MalformedSvgError(`a closing tag with attributes: ${m[0]}`);
      const open = stack.pop();
      if (open?.name !== name) throw new MalformedSvgError(`</${name}> closes ${open ? `<${open.name}>` : "nothing"}`);
      continue;
    }
    if (root && stack.length === 0) throw new MalformedSvgError(`a second root element <${name}>`);
    const attrs: Record<string, string> = {};
    for (const [, key, value] of attrText!.matchAll(ATTR)) {
      if (Object.hasOwn(attrs, key!)) throw new MalformedSvgError(`<${name}> repeats the attribute ${key}`);
      attrs[key!] = decode(value!, `<${name} ${key}>`);
    }
    const element: SvgElement = { name, attrs, children: [], text: "" };
    stack[stack.length - 1]?.children.push(element);
    root ??= element;
    if (!selfClose) stack.push(element);
  }
  text(source.slice(at));
  if (stack.length) throw new MalformedSvgError(`<${stack[stack.length - 1]!.name}> is never closed`);
  if (!root) throw new MalformedSvgError("no root element");
  return root;
}

/** Every element under `root` (itself included), in document order. */
export function elements(root: SvgElement): SvgElement[] {
  return [root, ...root.children.flatMap(elements)];
}

/** The elements with this tag and class, in document order. */
export function byClass(root: SvgElement, name: string, cls: string): SvgElement[] {
  return elements(root).filter((e) => e.name === name && e.attrs.class === cls);
}

/** An attribute as a number, failing loudly when it is not one. */
export function num(e: SvgElement, attr: string): number {
  const v = Number(e.attrs[attr]);
  if (e.attrs[attr] === undefined || !Number.isFinite(v)) throw new Error(`<${e.name}> has no numeric ${attr} (${e.attrs[attr]})`);
  return v;
}
