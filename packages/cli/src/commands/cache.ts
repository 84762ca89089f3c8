/**
 * `drover cache …`: create the server's built-in binary caches, show their
 * substituter URL and public key, pin paths and collect garbage — through a
 * running server with an admin token (reading also works with an activate
 * token).
 */
import { DroverError, parseCacheName, type CacheInfo, type GcReport } from '@drover/protocol';
import { ApiClient } from '../client.js';
import { info, out, printJson, table } from '../output.js';
import { readerClient, serverFrom, type ReaderFlags } from './reader.js';

function adminClient(flags: ReaderFlags): ApiClient {
  const token = flags.token ?? process.env['DROVER_ADMIN_TOKEN'];
  if (!token) throw new DroverError('DROVER_ERR_UNAUTHORIZED', 'cache administration needs an admin token: set DROVER_ADMIN_TOKEN or pass --token');
  return new ApiClient({ server: serverFrom(flags), token });
}

const path = (name: string, rest = '') => `/caches/${encodeURIComponent(parseCacheName(name))}${rest}`;

function describe(c: CacheInfo): string[] {
  return [
    `cache ${c.name} (workspace ${c.workspace}, ${c.public ? 'public' : 'private: reading needs a pull token'})`,
    `  substituter: ${c.substituter}`,
    `  public key:  ${c.publicKey}`,
    `  ${c.paths} paths, ${(c.narBytes / 1024 / 1024).toFixed(1)} MiB of NARs`,
  ];
}

export async function cacheCreate(
  name: string,
  flags: ReaderFlags & { workspace?: string; public?: boolean; trustKey?: string[]; json?: boolean },
): Promise<void> {
  const api = adminClient(flags);
  if (flags.workspace) {
    const ws = await api.request<{ name: string }>('GET', '/workspace');
    if (ws.name !== flags.workspace)
      throw new DroverError('DROVER_ERR_FORBIDDEN', `the admin token belongs to workspace ${JSON.stringify(ws.name)}, not ${JSON.stringify(flags.workspace)}`);
  }
  const c = await api.request<CacheInfo>('POST', '/caches', {
    name: parseCacheName(name),
    public: !!flags.public,
    ...(flags.trustKey ? { trustedKeys: flags.trustKey } : {}),
  });
  if (flags.json) {
    printJson(c);
    return;
  }
  for (const line of describe(c)) out(line);
  info(`push with: nix copy --to '${c.substituter}?compression=zstd' --option netrc-file NETRC PATH (a push token as the password)`);
}

export async function cacheInfo(name: string, flags: ReaderFlags & { json?: boolean }): Promise<void> {
  const c = await readerClient(flags).request<CacheInfo>('GET', path(name));
  if (flags.json) {
    printJson(c);
    return;
  }
  for (const line of describe(c)) out(line);
}

export async function cacheList(flags: ReaderFlags & { json?: boolean }): Promise<void> {
  const { caches } = await readerClient(flags).request<{ caches: CacheInfo[] }>('GET', '/caches');
  if (flags.json) {
    printJson(caches);
    return;
  }
  out(
    table([
      ['NAME', 'PUBLIC', 'PATHS', 'SUBSTITUTER', 'PUBLIC KEY'],
      ...caches.map((c) => [c.name, c.public ? 'yes' : 'no', String(c.paths), c.substituter, c.publicKey]),
    ]),
  );
}

export async function cachePin(name: string, storePath: string, flags: ReaderFlags & { keepDays?: string }): Promise<void> {
  const keepDays = flags.keepDays === undefined ? undefined : Number(flags.keepDays);
  if (keepDays !== undefined && !(keepDays >= 0))
    throw new DroverError('DROVER_ERR_VALIDATION', `--keep-days must be a number of days (got ${JSON.stringify(flags.keepDays)})`);
  await adminClient(flags).request('POST', path(name, '/pins'), { storePath, ...(keepDays === undefined ? {} : { keepDays }) });
  info(`pinned ${storePath} in cache ${name}${keepDays === undefined ? '' : ` for ${keepDays} days`}`);
}

export async function cacheGc(name: string, flags: ReaderFlags & { dryRun?: boolean; json?: boolean; grace?: string }): Promise<void> {
  const graceSeconds = flags.grace === undefined ? undefined : Number(flags.grace);
  if (graceSeconds !== undefined && !(Number.isInteger(graceSeconds) && graceSeconds >= 0))
    throw new DroverError('DROVER_ERR_VALIDATION', `--grace must be whole seconds (got ${JSON.stringify(flags.grace)})`);
  const report = await adminClient(flags).request<GcReport>('POST', path(name, '/gc'), {
    dryRun: !!flags.dryRun,
    ...(graceSeconds === undefined ? {} : { graceSeconds }),
  });
  if (flags.json) {
    printJson(report);
    return;
  }
  const verb = report.dryRun ? 'would delete' : 'deleted';
  for (const k of report.kept) out(`keep    ${k.storePath}  (${k.reason})`);
  for (const d of report.deleted) out(`${report.dryRun ? 'would delete' : 'delete '} ${d.storePath}  (${d.reason})`);
  info(
    `cache ${report.cache}: kept ${report.kept.length} paths, ${verb} ${report.deleted.length}; ${report.narsDeleted} NAR files, ${(report.bytesFreed / 1024 / 1024).toFixed(1)} MiB ${report.dryRun ? 'would be ' : ''}freed`,
  );
}
