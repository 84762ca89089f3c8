/**
 * Drover's version, read at start-up from the root package.json — the one
 * place it is written — so the CLI (`drover --version`), the agent's hello,
 * the API's /info, the OpenAPI document and the build-info metric all report
 * the same string. Bump it with `npm version` at the root.
 */
import { existsSync, readFileSync } from 'node:fs';
import { DroverError } from './errors.js';

const ROOT_PACKAGE_NAME = 'drover';

/** Walks up from this module (dist/src or src) to the package.json named `drover`. */
function readRootVersion(): string {
  let dir = new URL('./', import.meta.url);
  for (;;) {
    const file = new URL('package.json', dir);
    if (existsSync(file)) {
      const manifest: unknown = JSON.parse(readFileSync(file, 'utf8'));
      if (typeof manifest === 'object' && manifest !== null && 'name' in manifest && manifest.name === ROOT_PACKAGE_NAME) {
        if ('version' in manifest && typeof manifest.version === 'string') return manifest.version;
        throw new DroverError('DROVER_ERR_INTERNAL', `${file.pathname} has no "version"`);
      }
    }
    const parent = new URL('../', dir);
    if (parent.href === dir.href)
      throw new DroverError(
        'DROVER_ERR_INTERNAL',
        `no package.json named "${ROOT_PACKAGE_NAME}" above ${import.meta.url}: Drover's root package.json must be installed with it`,
      );
    dir = parent;
  }
}

/** Written into the single-file agent by its bundler (`npm run bundle`): that file has no package.json beside it. */
declare const __DROVER_VERSION__: string | undefined;

/** The version of this Drover installation, e.g. `0.1.0`. */
export const DROVER_VERSION: string = typeof __DROVER_VERSION__ === 'string' ? __DROVER_VERSION__ : readRootVersion();
