/**
 * The event-stream parser (sse-parser.ts): fields, comments, multi-line
 * data, ids that carry over, CRLF and CR line ends, and chunk boundaries
 * anywhere — inside a field, between CR and LF, inside a UTF-8 character.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readEventStream, SseParser, type SseMessage } from '../src/index.js';

function parseChunks(chunks: readonly string[]): { messages: SseMessage[]; parser: SseParser } {
  const parser = new SseParser();
  const messages = chunks.flatMap((c) => parser.push(c)).concat(parser.end());
  return { messages, parser };
}

const sample = 'id: 7\nevent: line\ndata: {"seq":7}\n\n: keepalive\n\nevent: status\ndata: {"a":1}\n\n';

describe('SseParser', () => {
  test('reads event, id and data fields; comments are skipped', () => {
    assert.deepEqual(parseChunks([sample]).messages, [
      { event: 'line', data: '{"seq":7}', id: '7' },
      { event: 'status', data: '{"a":1}', id: '7' },
    ]);
  });

  test('gives the same events whatever the chunk boundaries', () => {
    const whole = parseChunks([sample]).messages;
    for (let cut = 1; cut < sample.length; cut++) {
      assert.deepEqual(parseChunks([sample.slice(0, cut), sample.slice(cut)]).messages, whole, `cut at ${cut}`);
    }
    assert.deepEqual(parseChunks(sample.split('')).messages, whole, 'one character at a time');
  });

  test('accepts CRLF and CR line ends, also split between chunks', () => {
    const crlf = sample.replaceAll('\n', '\r\n');
    const cr = sample.replaceAll('\n', '\r');
    const whole = parseChunks([sample]).messages;
    assert.deepEqual(parseChunks([crlf]).messages, whole);
    assert.deepEqual(parseChunks([cr]).messages, whole);
    for (let cut = 1; cut < crlf.length; cut++) assert.deepEqual(parseChunks([crlf.slice(0, cut), crlf.slice(cut)]).messages, whole, `CRLF cut at ${cut}`);
    assert.deepEqual(parseChunks(['data: x\r', '\r']).messages, [{ event: 'message', data: 'x', id: null }]);
  });

  test('joins multi-line data with newlines and keeps spaces after the first', () => {
    assert.deepEqual(parseChunks(['data: one\ndata:two\ndata:   three\ndata\n\n']).messages, [{ event: 'message', data: 'one\ntwo\n  three\n', id: null }]);
  });

  test('an event without data is not dispatched, and the event name does not leak into the next', () => {
    assert.deepEqual(parseChunks(['event: ready\n\ndata: x\n\n']).messages, [{ event: 'message', data: 'x', id: null }]);
  });

  test('the id carries over, an empty id resets it, an id with NUL is ignored', () => {
    const { messages, parser } = parseChunks(['id: 1\ndata: a\n\ndata: b\n\nid\ndata: c\n\nid: 2\0\ndata: d\n\n']);
    assert.deepEqual(
      messages.map((m) => m.id),
      ['1', '1', '', ''],
    );
    assert.equal(parser.lastEventId, '');
  });

  test('retry sets the reconnection delay; unknown fields are ignored; a leading BOM is dropped', () => {
    const { messages, parser } = parseChunks(['\uFEFFretry: 2500\nfoo: bar\ndata: x\n\n']);
    assert.equal(parser.retryMs, 2500);
    assert.deepEqual(messages, [{ event: 'message', data: 'x', id: null }]);
  });

  test('an event cut off by the end of the stream is dropped', () => {
    assert.deepEqual(parseChunks(['data: whole\n\ndata: cut']).messages, [{ event: 'message', data: 'whole', id: null }]);
  });
});

describe('readEventStream', () => {
  test('decodes UTF-8 split across chunks', async () => {
    const bytes = new TextEncoder().encode('event: line\ndata: {"text":"déjà ✓"}\n\n');
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 3) controller.enqueue(bytes.slice(i, i + 3));
        controller.close();
      },
    });
    const seen: SseMessage[] = [];
    await readEventStream(body, new SseParser(), (m) => seen.push(m));
    assert.deepEqual(seen, [{ event: 'line', data: '{"text":"déjà ✓"}', id: null }]);
  });
});
