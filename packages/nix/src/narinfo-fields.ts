/**
 * The rules for the narinfo fields an uploader chooses — References,
 * Deriver, CA and Sig — shared by a plain narinfo upload (`parseNarinfo`)
 * and `drover push`'s path info, so both are held to one rule. A value that
 * could change the signed narinfo's lines (a newline or any other control
 * character) never passes, and CA takes only the forms Nix itself writes.
 */
import { DroverError, isStorePath, STORE_DIR } from '@drover/protocol/light';
import { fromNixBase32, nixBase32Length } from './base32.js';

/** C0 control characters and DEL: never part of a narinfo value. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHAR = /[\u0000-\u001f\u007f]/;

/** Bytes of each hash algorithm Nix accepts in a `fixed:` content address. */
const HASH_BYTES: Readonly<Record<string, number>> = { md5: 16, sha1: 20, sha256: 32, sha512: 64 };
const CA_RE = /^(?:text:(sha256)|fixed:(?:r:)?(md5|sha1|sha256|sha512)):([0-9A-Za-z+/=]{1,128})$/;
const SIG_RE = /^[^\s:]{1,128}:[A-Za-z0-9+/]{1,171}={0,2}$/;

/** What a pusher says about a path besides its NAR. */
export interface PathMetadata {
  /** Base names (`<hash>-<name>`) of the referenced store paths. */
  readonly references: readonly string[];
  /** Base name of the deriver (`<hash>-<name>.drv`), or null. */
  readonly deriver: string | null;
  readonly ca: string | null;
  readonly sigs: readonly string[];
}

function bad(message: string): never {
  throw new DroverError('DROVER_ERR_NARINFO_INVALID', message);
}

const quoted = (value: string) => JSON.stringify(value.slice(0, 80));

/** Whether `value` holds a newline or any other control character. */
export function hasControlChar(value: string): boolean {
  return CONTROL_CHAR.test(value);
}

/** Refuses a value that holds a control character. */
export function checkPrintable(field: string, value: string): string {
  if (hasControlChar(value)) bad(`${field} ${quoted(value)} contains a newline or another control character`);
  return value;
}

/** A store path's base name, `<hash>-<name>`, by the protocol's store path rule. */
export function checkReference(value: string): string {
  if (!isStorePath(`${STORE_DIR}/${value}`)) bad(`reference ${quoted(value)} is not a store path base name`);
  return value;
}

/** A deriver's base name, `<hash>-<name>.drv`. */
export function checkDeriver(value: string): string {
  if (!value.endsWith('.drv') || !isStorePath(`${STORE_DIR}/${value}`)) bad(`Deriver ${quoted(value)} is not the base name of a .drv store path`);
  return value;
}

function isHashText(text: string, bytes: number): boolean {
  if (text.length === bytes * 2) return /^[0-9a-f]+$/.test(text);
  if (text.length === Math.ceil(bytes / 3) * 4) {
    const raw = Buffer.from(text, 'base64');
    return raw.length === bytes && raw.toString('base64') === text;
  }
  if (text.length !== nixBase32Length(bytes)) return false;
  try {
    fromNixBase32(text, bytes);
    return true;
  } catch {
    return false;
  }
}

/** A content address as Nix writes it: `text:sha256:<hash>` or `fixed:[r:]<md5|sha1|sha256|sha512>:<hash>` (base-16, nix base-32 or base-64). */
export function checkContentAddress(value: string): string {
  const m = CA_RE.exec(value);
  const algo = m?.[1] ?? m?.[2];
  const hash = m?.[3];
  const bytes = algo === undefined ? undefined : HASH_BYTES[algo];
  if (hash === undefined || bytes === undefined || !isHashText(hash, bytes))
    bad(`CA ${quoted(value)} is not a content address (text:sha256:<hash> or fixed:[r:]<algo>:<hash>)`);
  return value;
}

/** A signature's shape, `<key name>:<base64>`; whether it verifies is the cache's business. */
export function checkSignature(value: string): string {
  if (!SIG_RE.test(value)) bad(`Sig ${quoted(value)} is not <key name>:<base64 signature>`);
  return value;
}

/** Checks every field of a pusher's path metadata; returns it with References deduplicated and sorted. */
export function checkPathMetadata<T extends PathMetadata>(meta: T): T {
  for (const r of meta.references) checkReference(r);
  if (meta.deriver !== null) checkDeriver(meta.deriver);
  if (meta.ca !== null) checkContentAddress(meta.ca);
  for (const s of meta.sigs) checkSignature(s);
  return { ...meta, references: [...new Set(meta.references)].sort() };
}
