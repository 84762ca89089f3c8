/**
 * Reading an event's JSON data through a decoder: the typed value, or an
 * ApiError (DROVER_ERR_BAD_RESPONSE) saying which event did not match.
 */
import { DroverError, type Decoder } from '@drover/protocol/light';
import { apiErrorOf } from './api-error.js';
import { decodeWith } from './client.js';
import type { SseMessage } from './sse-parser.js';

export function messageData<T>(message: SseMessage, decode: Decoder<T>): T {
  let value: unknown;
  try {
    value = JSON.parse(message.data);
  } catch {
    throw apiErrorOf(new DroverError('DROVER_ERR_BAD_RESPONSE', `the data of a "${message.event}" event is not JSON: ${message.data.slice(0, 200)}`));
  }
  return decodeWith(decode, value);
}
