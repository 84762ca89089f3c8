/**
 * @drover/client — the one client of Drover's HTTP API, shared by the CLI,
 * the web UI and the tests: DroverClient (typed JSON requests), ApiError
 * (the one error class, keeping the server's code and hint) and one
 * server-sent events reader with reconnects. Runs in the browser and on
 * Node 20; imports only @drover/protocol/light (no TypeBox).
 */
export { ApiError, apiErrorOf, errorOfResponse, unreachableError, type ApiErrorBody, type ApiErrorDetail } from './api-error.js';
export { decodeWith, DroverClient, type ClientOptions, type Query, type RequestOptions, type SendOptions } from './client.js';
export { openEventStream, readEventStream, type EventStream, type EventStreamHandlers, type EventStreamOptions } from './event-stream.js';
export { SseParser, type SseMessage } from './sse-parser.js';
export { messageData } from './message-data.js';
export { agentNotes, agentPresence, type AgentPresence } from './agent-state.js';
