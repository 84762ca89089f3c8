/**
 * Registers `drover cache …` and `drover push` on the program; the command
 * modules themselves are imported lazily when one of them runs.
 */
import type { Command } from 'commander';
import type { Runner } from './run-action.js';

export function registerCacheCommands(program: Command, readerOptions: (cmd: Command) => Command, run: Runner): void {
  const load = () => import('./cache.js');
  const cache = program.command('cache').description("the server's built-in Nix binary caches");
  readerOptions(
    cache.command('create').description('create a cache with its own signing key held by the server').argument('<name>', 'lowercase letters, digits, "-"'),
  )
    .option('--workspace <name>', "check that the admin token's workspace is this one")
    .option('--public', 'readable without a token')
    .option('--trust-key <key>', "keep uploaders' signatures made with this public key (repeatable)", (v: string, prev: string[] | undefined) => [
      ...(prev ?? []),
      v,
    ])
    .option('--json', 'JSON output')
    .action(run(async (name, flags) => (await load()).cacheCreate(name, flags)));
  readerOptions(cache.command('info').description('substituter URL and public key of a cache').argument('<name>', 'cache'))
    .option('--json', 'JSON output')
    .action(run(async (name, flags) => (await load()).cacheInfo(name, flags)));
  readerOptions(cache.command('list').description('caches of the workspace'))
    .option('--json', 'JSON output')
    .action(run(async (flags) => (await load()).cacheList(flags)));
  readerOptions(cache.command('pin').description('keep a store path and its closure through GC').argument('<name>', 'cache').argument('<path>', 'store path'))
    .option('--keep-days <days>', 'only for this many days (default: until unpinned)')
    .action(run(async (name, path, flags) => (await load()).cachePin(name, path, flags)));
  readerOptions(cache.command('gc').description('delete paths no pin reaches (deployments, pins, grace period)').argument('<name>', 'cache'))
    .option('--dry-run', 'only report what would be deleted')
    .option('--grace <seconds>', 'keep paths pushed or used within this many seconds (default: the server setting, 1 h)')
    .option('--json', 'JSON report')
    .action(run(async (name, flags) => (await load()).cacheGc(name, flags)));

  program
    .command('push')
    .description('upload store paths and their closures to a built-in cache (token in DROVER_PUSH_TOKEN)')
    .argument('<cache>', 'cache name')
    .argument('<paths...>', 'store paths')
    .option('--server <url>', 'Drover server URL (env DROVER_SERVER)')
    .option('--jobs <n>', 'parallel uploads', '8')
    .option('--compression <c>', 'zstd or none', 'zstd')
    .action(run(async (name, paths, flags) => (await import('./push.js')).pushCommand(name, paths, flags)));
}
