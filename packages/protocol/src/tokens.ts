/**
 * The shape of Drover's bearer tokens.
 *
 * A token reads `drover_<kind>_<id>_<secret>`: the kind and the public id make
 * a leaked token easy to recognise and to revoke; only the secret part is
 * secret. The server stores the id and a SHA-256 of the secret, never the
 * token itself (see server/src/auth).
 */

export const TOKEN_KINDS = ['agent', 'activate', 'admin', 'push', 'pull'] as const;
export type TokenKind = (typeof TOKEN_KINDS)[number];

export const TOKEN_ID_LENGTH = 16; // hex characters, 64 bits, public
export const TOKEN_SECRET_LENGTH = 64; // hex characters, 256 bits, secret

const tokenRe = /^drover_(agent|activate|admin|push|pull)_([0-9a-f]{16})_([0-9a-f]{64})$/;

export interface ParsedToken {
  readonly kind: TokenKind;
  readonly id: string;
  readonly secret: string;
}

export function isTokenKind(value: unknown): value is TokenKind {
  return typeof value === 'string' && (TOKEN_KINDS as readonly string[]).includes(value);
}

/** Splits a token into its parts; null when it is not shaped like one. */
export function parseToken(token: string): ParsedToken | null {
  const m = tokenRe.exec(token.trim());
  if (!m) return null;
  const [, kind, id, secret] = m;
  return isTokenKind(kind) && id !== undefined && secret !== undefined ? { kind, id, secret } : null;
}

export function formatToken(parts: ParsedToken): string {
  return `drover_${parts.kind}_${parts.id}_${parts.secret}`;
}
