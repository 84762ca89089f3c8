/**
 * Reading the JSON body of an API error, as every client does: the server's
 * code, message, hint and details, or null when the body is not Drover's
 * error (a proxy's page, an empty body). TypeBox-free.
 */
import { array, object, string, type Decoded } from './decode.js';

const decodeErrorBody = object(
  { code: string, message: string },
  { hint: string, details: array(object({ path: string, message: string }, { code: string })) },
);

/** An error body as a client receives it: the code may be one this client's table does not know yet. */
export type ReceivedErrorBody = Decoded<typeof decodeErrorBody>;

/** The error of a response body's text, keeping the server's hint; null when the text is not a Drover error body. */
export function parseErrorBody(text: string): ReceivedErrorBody | null {
  try {
    return decodeErrorBody(JSON.parse(text));
  } catch {
    return null;
  }
}
