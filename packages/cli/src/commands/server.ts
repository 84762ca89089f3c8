/**
 * `drover server`: start the control plane with settings from file, env and
 * flags — one process, or with `--workers N` a primary and N worker
 * processes sharing the port.
 */
import { createLogger, isClusterWorker, reportListening, startCluster, startServer } from '@drover/server';
import type { LevelWithSilent, Logger } from 'pino';
import { resolveServerSettings, type ServerSettings } from '../config.js';
import { info } from '../output.js';
import { cacheOptions } from '../cache-settings.js';

export interface ServerFlags {
  config?: string;
  listen?: string;
  dataDir?: string;
  databaseUrl?: string;
  databaseSchema?: string;
  publicUrl?: string;
  logLevel?: string;
  workers?: string;
  maxLogBytes?: string;
  maxStreamSeconds?: string;
  signInConcurrency?: string;
  signInQueue?: string;
  signInPerAddress?: string;
  auditRetentionDays?: string;
  webhookKeyFile?: string;
}

function onSignals(log: Logger, close: () => Promise<void>): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
    setTimeout(() => process.exit(1), 15_000).unref();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

function banner(url: string, settings: ServerSettings, dialect: string): void {
  const workers = settings.workers > 1 ? `, ${settings.workers} workers` : '';
  info(`drover server ready at ${url} (${dialect}${settings.databaseUrl ? '' : `, data in ${settings.dataDir}`}${workers})`);
  const where = settings.databaseUrl ? ' --database-url …' : ` --data-dir ${settings.dataDir}`;
  info(`  web UI: ${url}/ — sign in with a user from: drover user create NAME --role admin${where}`);
  info(`  agents: drover token create --kind agent --agent NAME${where}`);
}

export async function serverCommand(flags: ServerFlags): Promise<void> {
  const given: Partial<Record<keyof ServerSettings, string>> = {};
  for (const key of [
    'listen',
    'dataDir',
    'databaseUrl',
    'databaseSchema',
    'publicUrl',
    'logLevel',
    'workers',
    'maxLogBytes',
    'maxStreamSeconds',
    'signInConcurrency',
    'signInQueue',
    'signInPerAddress',
    'auditRetentionDays',
    'webhookKeyFile',
  ] as const) {
    if (flags[key] !== undefined) given[key] = flags[key];
  }
  const settings = resolveServerSettings({ configFile: flags.config, env: process.env, flags: given as Partial<ServerSettings> });
  const logger = createLogger(settings.logLevel as LevelWithSilent);
  if (settings.workers > 1 && !isClusterWorker()) {
    const primary = await startCluster({ workers: settings.workers, database: settings, log: logger.child({ component: 'cluster' }) });
    onSignals(logger, () => primary.close());
    banner(await primary.ready, settings, settings.databaseUrl ? 'postgres' : 'sqlite');
    return;
  }
  const server = await startServer({
    ...settings,
    logger,
    clusterWorker: isClusterWorker(),
    cache: cacheOptions(settings, process.env),
    maxStreamMs: settings.maxStreamSeconds === undefined ? undefined : settings.maxStreamSeconds * 1000,
    webhooks: settings.webhookKeyFile === undefined ? undefined : { keyFile: settings.webhookKeyFile },
  });
  onSignals(logger, () => server.close());
  if (isClusterWorker()) reportListening(server.url);
  else banner(server.url, settings, server.context.dialect);
}
