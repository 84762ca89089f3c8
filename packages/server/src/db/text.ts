/**
 * Text as both databases store it. PostgreSQL `text` cannot hold U+0000 and
 * both drivers turn a lone UTF-16 surrogate into U+FFFD on the way to UTF-8;
 * SQLite keeps a NUL. Text from agents (log lines, outcome reasons, hello
 * fields) is therefore repaired before it is stored — every NUL and lone
 * surrogate becomes U+FFFD, the replacement character, on SQLite and
 * PostgreSQL alike — so a report is never refused for one stray byte of
 * program output. Text from users is refused instead (the protocol's
 * PlainText schemas: no control characters).
 */

/** Lone surrogates: what UTF-8 cannot carry (nor can PostgreSQL carry U+0000, replaced on its own). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** The text with each character neither database can store as sent replaced by U+FFFD. */
export function storableText(text: string): string {
  return text.replaceAll('\u0000', '\uFFFD').replace(LONE_SURROGATE, '\uFFFD');
}
