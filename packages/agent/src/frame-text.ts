/**
 * The text of a websocket frame as `ws` hands it over (its `RawData`): a
 * Buffer with the default `binaryType`, an ArrayBuffer or a Buffer[] of
 * fragments with the others. Frames are UTF-8 JSON (the protocol's encoding).
 */
import type { RawData } from 'ws';

export function frameText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  return (Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)).toString('utf8');
}
