/**
 * Narinfo files: the per-path metadata of a Nix binary cache
 * (`<hash>.narinfo`). `parseNarinfo` reads what a client uploads and checks
 * every field (the uploader-chosen ones by narinfo-fields.ts's rules);
 * `formatNarinfo` writes the canonical form Nix reads back and never a value
 * that could add a line. Unknown keys are ignored, as Nix does.
 */
import { DroverError, isStorePath, STORE_DIR, type StorePath } from '@drover/protocol/light';
import { formatNixHash, parseNixHash, type Sha256 } from './hash.js';
import { checkPathMetadata, checkPrintable, checkSignature } from './narinfo-fields.js';

export const NAR_COMPRESSIONS = ['none', 'xz', 'zstd'] as const;
export type NarCompression = (typeof NAR_COMPRESSIONS)[number];

/** File extension of a NAR compressed this way. */
export const NAR_EXTENSIONS: Record<NarCompression, string> = { none: '.nar', xz: '.nar.xz', zstd: '.nar.zst' };

/** A NAR file name as it appears after `nar/`: `<nix base-32 file hash>.nar[.xz|.zst]`. */
export const NAR_FILE_PATTERN = /^([0-9abcdfghijklmnpqrsvwxyz]{52})(\.nar(?:\.xz|\.zst)?)$/;

export interface Narinfo {
  readonly storePath: StorePath;
  /** Relative to the cache root, e.g. `nar/<filehash>.nar.zst`. */
  readonly url: string;
  readonly compression: NarCompression;
  readonly fileHash: Sha256;
  readonly fileSize: number;
  readonly narHash: Sha256;
  readonly narSize: number;
  /** Base names (`<hash>-<name>`) of the referenced store paths, sorted. */
  readonly references: readonly string[];
  readonly deriver: string | null;
  readonly sigs: readonly string[];
  readonly ca: string | null;
}

/** Parses `nar/<file>` into its file hash and compression. */
export function parseNarFileName(file: string): { fileHash: Sha256; compression: NarCompression } | null {
  const [, hash, extension] = NAR_FILE_PATTERN.exec(file) ?? [];
  const compression = NAR_COMPRESSIONS.find((c) => NAR_EXTENSIONS[c] === extension);
  if (hash === undefined || compression === undefined) return null;
  return { fileHash: parseNixHash(`sha256:${hash}`), compression };
}

export function narFileName(fileHash: Uint8Array, compression: NarCompression): string {
  return `${formatNixHash(fileHash).slice('sha256:'.length)}${NAR_EXTENSIONS[compression]}`;
}

const MAX_NARINFO_BYTES = 64 * 1024;
/** Keys a narinfo holds once at most (Sig may repeat). */
const SINGLE_KEYS = new Set(['StorePath', 'URL', 'Compression', 'FileHash', 'FileSize', 'NarHash', 'NarSize', 'References', 'Deriver', 'CA']);

function bad(message: string): never {
  throw new DroverError('DROVER_ERR_NARINFO_INVALID', message);
}

function size(field: string, value: string | undefined): number {
  if (value === undefined || !/^\d{1,15}$/.test(value)) bad(`${field} must be a byte count (got ${JSON.stringify(value ?? null)})`);
  return Number(value);
}

function hash(field: string, value: string | undefined): Sha256 {
  if (value === undefined) bad(`${field} is missing`);
  try {
    return parseNixHash(value);
  } catch (err) {
    bad(`${field}: ${(err as Error).message}`);
  }
}

/** Splits a narinfo into its lines' keys and values; refuses control characters, malformed lines and repeated keys. */
function readLines(text: string): { fields: Map<string, string>; sigs: string[] } {
  if (Buffer.byteLength(text) > MAX_NARINFO_BYTES) bad(`a narinfo may be at most ${MAX_NARINFO_BYTES} bytes`);
  const fields = new Map<string, string>();
  const sigs: string[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    checkPrintable('line', line);
    const colon = line.indexOf(': ');
    if (colon <= 0) bad(`line ${JSON.stringify(line.slice(0, 80))} is not "Key: value"`);
    const key = line.slice(0, colon);
    const value = line.slice(colon + 2);
    if (key === 'Sig') sigs.push(checkSignature(value));
    else if (SINGLE_KEYS.has(key) && fields.has(key)) bad(`${key} appears more than once`);
    else fields.set(key, value);
  }
  return { fields, sigs };
}

export function parseNarinfo(text: string): Narinfo {
  const { fields, sigs } = readLines(text);
  const storePath = fields.get('StorePath');
  if (!isStorePath(storePath)) bad(`StorePath ${JSON.stringify(storePath ?? null)} is not a store path under ${STORE_DIR}`);
  const url = fields.get('URL') ?? bad('URL is missing');
  const compression = NAR_COMPRESSIONS.find((c) => c === (fields.get('Compression') ?? 'bzip2'));
  if (!compression) {
    throw new DroverError(
      'DROVER_ERR_UNSUPPORTED_COMPRESSION',
      `compression ${JSON.stringify(fields.get('Compression') ?? 'bzip2')} is not supported; push with ?compression=zstd (or xz, none)`,
    );
  }
  const deriver = fields.get('Deriver');
  const meta = checkPathMetadata({
    references: (fields.get('References') ?? '').split(' ').filter((r) => r !== ''),
    deriver: deriver && deriver !== 'unknown-deriver' ? deriver : null,
    ca: fields.get('CA') ?? null,
    sigs,
  });
  return {
    storePath,
    url,
    compression,
    fileHash: hash('FileHash', fields.get('FileHash')),
    fileSize: size('FileSize', fields.get('FileSize')),
    narHash: hash('NarHash', fields.get('NarHash')),
    narSize: size('NarSize', fields.get('NarSize')),
    ...meta,
  };
}

/** Whether `text` is a narinfo this module would accept (a stored one from before a rule was added may not be). */
export function isSoundNarinfo(text: string): boolean {
  try {
    parseNarinfo(text);
    return true;
  } catch {
    return false;
  }
}

/** The canonical text; a value with a newline or control character is refused, never written into a line. */
export function formatNarinfo(info: Narinfo): string {
  const lines: [string, string][] = [
    ['StorePath', info.storePath],
    ['URL', info.url],
    ['Compression', info.compression],
    ['FileHash', formatNixHash(info.fileHash)],
    ['FileSize', String(info.fileSize)],
    ['NarHash', formatNixHash(info.narHash)],
    ['NarSize', String(info.narSize)],
    ['References', info.references.join(' ')],
  ];
  if (info.deriver) lines.push(['Deriver', info.deriver]);
  for (const sig of info.sigs) lines.push(['Sig', sig]);
  if (info.ca) lines.push(['CA', info.ca]);
  return lines.map(([key, value]) => `${key}: ${checkPrintable(key, value)}\n`).join('');
}

/** `<hash>` of `/nix/store/<hash>-<name>` or of `<hash>-<name>`. */
export function storeHashOf(pathOrBaseName: string): string {
  const base = pathOrBaseName.startsWith(`${STORE_DIR}/`) ? pathOrBaseName.slice(STORE_DIR.length + 1) : pathOrBaseName;
  return base.slice(0, 32);
}
