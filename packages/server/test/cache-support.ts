/**
 * Helpers for the built-in cache's API tests, without Nix: NAR-shaped bytes
 * named by their hash (uncompressed, so any bytes will do), the narinfo Nix
 * would upload for them, a `drover push` batch body, and the requests
 * `nix copy` and `drover push` make — all through `app.inject`.
 */
import { randomBytes } from 'node:crypto';
import { formatNixHash, narFileName, sha256, storeHashOf } from '@drover/nix';
import type { StorePath } from '@drover/protocol';
import { api, storePath, type ApiResponse, type TestServer } from './support.js';

/** A store path with its (uncompressed) NAR bytes and what describes them. */
export interface FakePath {
  readonly storePath: StorePath;
  readonly hash: string;
  readonly bytes: Buffer;
  /** `<nix base-32 sha256>.nar` */
  readonly file: string;
  readonly narHash: string;
}

export function fakePath(name: string, bytes: Buffer = randomBytes(512)): FakePath {
  const path = storePath(name);
  const digest = sha256(bytes);
  return { storePath: path, hash: storeHashOf(path), bytes, file: narFileName(digest, 'none'), narHash: formatNixHash(digest) };
}

/** The narinfo `nix copy` uploads for `p`; `extra` lines are appended as they are. */
export function narinfoOf(p: FakePath, extra = ''): string {
  return (
    [
      `StorePath: ${p.storePath}`,
      `URL: nar/${p.file}`,
      'Compression: none',
      `FileHash: ${p.narHash}`,
      `FileSize: ${p.bytes.length}`,
      `NarHash: ${p.narHash}`,
      `NarSize: ${p.bytes.length}`,
      'References: ',
    ].join('\n') + `\n${extra}`
  );
}

/** What `drover push` says about a path (PathInfo), with overrides. */
export function pathInfoOf(p: FakePath, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { storePath: p.storePath, narHash: p.narHash, narSize: p.bytes.length, references: [], deriver: null, ca: null, sigs: [], ...overrides };
}

/** A push batch body (cache/batch.ts): u32 LE header length, JSON header, the NARs back to back. */
export function batchBody(entries: readonly { readonly path: FakePath; readonly info?: Record<string, unknown> }[]): Buffer {
  const header = Buffer.from(
    JSON.stringify({ compression: 'none', paths: entries.map((e) => ({ ...(e.info ?? pathInfoOf(e.path)), fileSize: e.path.bytes.length })) }),
  );
  const length = Buffer.alloc(4);
  length.writeUInt32LE(header.length);
  return Buffer.concat([length, header, ...entries.map((e) => e.path.bytes)]);
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

export function putNar(t: TestServer, cache: string, p: FakePath, token: string): Promise<ApiResponse> {
  return api(t, 'PUT', `/cache/${cache}/nar/${p.file}`, { headers: { ...bearer(token), 'content-type': 'application/x-nix-nar' }, body: p.bytes });
}

export function putNarinfo(t: TestServer, cache: string, p: FakePath, token: string, text = narinfoOf(p)): Promise<ApiResponse> {
  return api(t, 'PUT', `/cache/${cache}/${p.hash}.narinfo`, { headers: { ...bearer(token), 'content-type': 'text/x-nix-narinfo' }, body: text });
}

export function pushBatch(t: TestServer, cache: string, body: Buffer, token: string): Promise<ApiResponse> {
  return api(t, 'POST', `/api/v1/caches/${cache}/paths`, { headers: { ...bearer(token), 'content-type': 'application/octet-stream' }, body });
}

/** GET (or HEAD) as anyone, or with a token. */
export async function fetchCache(t: TestServer, method: 'GET' | 'HEAD', url: string, token?: string): Promise<{ status: number; body: string; bytes: Buffer }> {
  const r = await t.server.app.inject({ method, url, headers: token ? bearer(token) : {} });
  return { status: r.statusCode, body: r.body, bytes: r.rawPayload };
}
