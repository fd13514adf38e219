/**
 * The one pretty-printing combinator every dump uses (graphs, kernel IR, compiled
 * programs): a document is a line or a block with a header, an indented body and a
 * footer.
 */
export type Doc = string | { header: string; body: Doc[]; footer?: string };

export function block(header: string, body: Doc[], footer?: string): Doc {
  return footer === undefined ? { header, body } : { header, body, footer };
}

export function render(doc: Doc | Doc[], indent = "  ", depth = 0): string {
  const pad = indent.repeat(depth);
  if (Array.isArray(doc)) return doc.map((d) => render(d, indent, depth)).join("\n");
  if (typeof doc === "string") return pad + doc;
  const lines = [pad + doc.header, ...doc.body.map((d) => render(d, indent, depth + 1))];
  if (doc.footer !== undefined) lines.push(pad + doc.footer);
  return lines.join("\n");
}
