/**
 * Text made safe for XML 1.0 (the JUnit report). Module paths come from the file system and may
 * hold any byte but "/" and NUL: characters XML 1.0 cannot carry at all, not even as character
 * references (C0 controls but tab, newline and carriage return; U+FFFE, U+FFFF; lone surrogates),
 * are written as a visible `\xNN` / `\uNNNN` escape instead, so the document stays well-formed and
 * the name stays recognisable.
 */

/** What XML 1.0 cannot carry: C0 controls but \t \n \r, U+FFFE/U+FFFF, lone surrogates. */
const NOT_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const NEEDS_WORK = /[&<>"'\u0000-\u001f\ufffe\uffff\ud800-\udfff]/;

function visibleEscape(c: string): string {
  const code = c.charCodeAt(0);
  return code < 0x100 ? "\\x" + code.toString(16).padStart(2, "0") : "\\u" + code.toString(16).padStart(4, "0");
}

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;", "\t": "&#9;", "\n": "&#10;", "\r": "&#13;" };

/**
 * An attribute value: markup characters as entities, and tab, newline and carriage return as
 * character references (a parser would otherwise normalise them to spaces).
 */
export function xmlAttribute(s: string): string {
  if (!NEEDS_WORK.test(s)) return s;
  return s.replace(NOT_XML, visibleEscape).replace(/[&<>"'\t\n\r]/g, (c) => ENTITIES[c]!);
}

/** Element text: markup characters as entities; a carriage return as a reference (a parser would drop it). */
export function xmlText(s: string): string {
  if (!NEEDS_WORK.test(s)) return s;
  return s.replace(NOT_XML, visibleEscape).replace(/[&<>\r]/g, (c) => ENTITIES[c]!);
}
