/**
 * The fixed names of Drover's HTTP API: where it lives, the CSRF header and
 * the session cookie. TypeBox-free, so the web UI can import them at run time.
 */

export const API_PREFIX = '/api/v1';
export const CSRF_HEADER = 'x-drover-csrf';
export const SESSION_COOKIE = 'drover_session';
