/**
 * The CLI's connection to the Drover API: the shared @drover/client with
 * the --server URL checked up front and the token sent on every request;
 * `request(method, path, body, decode)` is the short form the commands use.
 */
import { DroverClient } from '@drover/client';
import { DroverError, type Decoder } from '@drover/protocol/light';

export { ApiError } from '@drover/client';

export interface ApiClientOptions {
  readonly server: string;
  readonly token: string | undefined;
}

export class ApiClient {
  readonly http: DroverClient;

  constructor(opts: ApiClientOptions) {
    let url: URL;
    try {
      url = new URL(opts.server);
    } catch {
      throw new DroverError('DROVER_ERR_CONFIG', `--server ${JSON.stringify(opts.server)} is not a URL (expected e.g. http://127.0.0.1:7700)`);
    }
    this.http = new DroverClient({ server: url.toString(), token: opts.token });
  }

  /** A JSON request; the answer is checked by `decode` when given. */
  request<T>(method: string, path: string, body?: unknown, decode?: Decoder<T>): Promise<T> {
    return this.http.request(method, path, { json: body, decode });
  }
}
