/**
 * Frames a websocket route receives before its handler is attached.
 *
 * ws emits a frame as a `message` event the moment it is read; a route
 * that awaits something (the agent's row, the workspace's cache) before it
 * attaches its listener loses every frame the client sent meanwhile — a
 * Cachix deployment subprocess writes its first log line the moment its
 * upload socket opens, and under load the lookup took longer than that.
 * `holdFrames` keeps them from the start; `release()` — called once the
 * handler's listeners are attached, or the socket is closed — emits them
 * again in order. A client that sends more than `limit` frames before its
 * route is ready is cut off: the hold is for a database look-up's
 * milliseconds, not a buffer.
 */
import type { RawData } from 'ws';
import { CLOSE_CODES } from '@drover/protocol';

const HELD_LIMIT = 1024;

type FrameListener = (data: RawData, isBinary: boolean) => void;

/** What holding needs of a socket: ws's WebSocket, as @fastify/websocket hands it to a route. */
interface FrameSource {
  on(event: 'message', listener: FrameListener): unknown;
  off(event: 'message', listener: FrameListener): unknown;
  emit(event: 'message', data: RawData, isBinary: boolean): boolean;
  close(code?: number, reason?: string): void;
}

/** Starts holding `socket`'s frames; the returned function hands them to the listeners attached since, and stops holding. */
export function holdFrames(socket: FrameSource, limit = HELD_LIMIT): () => void {
  const held: [RawData, boolean][] = [];
  let overflowed = false;
  const hold = (data: RawData, isBinary: boolean): void => {
    if (overflowed) return;
    if (held.length >= limit) {
      overflowed = true;
      socket.close(CLOSE_CODES.badFrame, `more than ${limit} frames before the server was ready for them`);
      return;
    }
    held.push([data, isBinary]);
  };
  socket.on('message', hold);
  return () => {
    socket.off('message', hold);
    if (overflowed) return;
    for (const [data, isBinary] of held.splice(0)) socket.emit('message', data, isBinary);
  };
}
