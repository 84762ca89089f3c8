/** `drover server`: start the control plane with settings from file, env and flags. */
import { createLogger, startServer } from '@drover/server';
import type { LevelWithSilent } from 'pino';
import { resolveServerSettings, type ServerSettings } from '../config.js';
import { info } from '../output.js';

export interface ServerFlags {
  config?: string;
  listen?: string;
  dataDir?: string;
  databaseUrl?: string;
  databaseSchema?: string;
  publicUrl?: string;
  logLevel?: string;
}

export async function serverCommand(flags: ServerFlags): Promise<void> {
  const given: Partial<ServerSettings> = {};
  for (const key of ['listen', 'dataDir', 'databaseUrl', 'databaseSchema', 'publicUrl', 'logLevel'] as const) {
    if (flags[key] !== undefined) given[key] = flags[key];
  }
  const settings = resolveServerSettings({ configFile: flags.config, env: process.env, flags: given });
  const logger = createLogger(settings.logLevel as LevelWithSilent);
  const server = await startServer({ ...settings, logger });
  info(`drover server ready at ${server.url} (${server.context.dialect}${settings.databaseUrl ? '' : `, data in ${settings.dataDir}`})`);
  info(`  next: drover token create --kind agent${settings.databaseUrl ? ' --database-url …' : ` --data-dir ${settings.dataDir}`}`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
    setTimeout(() => process.exit(1), 10_000).unref();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
