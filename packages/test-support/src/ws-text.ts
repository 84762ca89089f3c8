/** The text of a WebSocket frame as the `ws` package hands it over (its `RawData`). */

/** A Buffer by default; fragments as a Buffer[] or an ArrayBuffer with other `binaryType`s. */
export function wsText(data: Buffer | ArrayBuffer | Buffer[]): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  return (Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)).toString('utf8');
}
