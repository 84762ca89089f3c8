/** The server URL and token for commands that read or deploy through the API. */
import { DroverError } from '@drover/protocol';
import { ApiClient } from '../client.js';

export interface ReaderFlags {
  server?: string;
  token?: string;
}

export function serverFrom(flags: ReaderFlags): string {
  const server = flags.server ?? process.env['DROVER_SERVER'];
  if (!server) throw new DroverError('DROVER_ERR_CONFIG', 'no server: pass --server URL or set DROVER_SERVER');
  return server;
}

/** A client with --token, else DROVER_ACTIVATE_TOKEN, else DROVER_ADMIN_TOKEN. */
export function readerClient(flags: ReaderFlags): ApiClient {
  const token = flags.token ?? process.env['DROVER_ACTIVATE_TOKEN'] ?? process.env['DROVER_ADMIN_TOKEN'];
  if (!token) throw new DroverError('DROVER_ERR_UNAUTHORIZED', 'no token: set DROVER_ACTIVATE_TOKEN (or DROVER_ADMIN_TOKEN), or pass --token');
  return new ApiClient({ server: serverFrom(flags), token });
}

/** A client for admin-only requests (agent labels, decommissioning): --token, else DROVER_ADMIN_TOKEN. */
export function adminClient(flags: ReaderFlags): ApiClient {
  const token = flags.token ?? process.env['DROVER_ADMIN_TOKEN'];
  if (!token) throw new DroverError('DROVER_ERR_UNAUTHORIZED', 'no admin token: set DROVER_ADMIN_TOKEN, or pass --token');
  return new ApiClient({ server: serverFrom(flags), token });
}
