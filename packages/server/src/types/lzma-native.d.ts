/** The part of lzma-native (no bundled types) the cache uses: a streaming xz decompressor. */
declare module 'lzma-native' {
  import type { Transform } from 'node:stream';
  export function createDecompressor(options?: Record<string, unknown>): Transform;
  const lzma: { createDecompressor: typeof createDecompressor };
  export default lzma;
}
