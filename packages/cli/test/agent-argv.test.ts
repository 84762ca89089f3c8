/**
 * The commander-free reading of `drover agent …` (agent-argv.ts) against
 * commander's own (agent-register.ts): the same options with the same kinds
 * and defaults, the same flags for plain lines, and null (commander reads
 * it) for help, unknown options and anything else it does not read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { AGENT_DEFAULTS, AGENT_OPTIONS, parseAgentArgv } from '../src/agent-argv.js';
import { registerAgentCommand } from '../src/commands/agent-register.js';

/** What commander hands the agent action for `args`. */
function commanderReads(args: string[]): { name: string; flags: unknown } {
  let got: { name: string; flags: unknown } | undefined;
  const program = new Command('drover').enablePositionalOptions().exitOverride();
  registerAgentCommand(program, () => async (...a: unknown[]) => {
    got = { name: a[0] as string, flags: { ...(a[1] as object) } };
  });
  program.parse(['node', 'drover', 'agent', ...args]);
  assert.ok(got, 'the action ran');
  return got;
}

test('every option of `drover agent` is known, with its kind and default', () => {
  const program = new Command('drover');
  registerAgentCommand(program, () => async () => {});
  const agent = program.commands.find((c) => c.name() === 'agent');
  assert.ok(agent);
  const theirs = Object.fromEntries(
    agent.options.map((o) => [o.long, [o.attributeName(), o.isBoolean() ? 'flag' : o.variadic || o.parseArg ? 'repeat' : 'value']]),
  );
  assert.deepEqual({ ...AGENT_OPTIONS }, theirs);
  const defaults = Object.fromEntries(agent.options.filter((o) => o.defaultValue !== undefined).map((o) => [o.attributeName(), o.defaultValue]));
  assert.deepEqual({ ...AGENT_DEFAULTS }, defaults);
});

test('plain lines read the same as with commander', () => {
  const lines = [
    ['web-1'],
    ['web-1', '--server', 'http://127.0.0.1:7700', '--state-dir', '/var/lib/x', '--token-file=/run/t'],
    ['--server', 'http://s', 'web-1', '--label', 'role=web', '--label=region=eu', '--bootstrap'],
    ['web-1', '--profile', 'per-user/me/p', '--auth-retry', '5s', '--log-level', 'debug', '--runner-scope', 'off'],
    ['web-1', '--activation-timeout', '2m', '--confirm-timeout', '30s', '--store-reserve', '2G', '--identity', '/k', '--declared-secrets', '/d.json'],
  ];
  for (const line of lines) assert.deepEqual(parseAgentArgv(line), commanderReads(line), line.join(' '));
});

test('commander reads help, unknown options and odd lines', () => {
  for (const line of [
    [],
    ['--help'],
    ['web-1', '-h'],
    ['web-1', '--nope'],
    ['a', 'b'],
    ['web-1', '--server'],
    ['web-1', '--server', '--bootstrap'],
    ['web-1', '--bootstrap=1'],
    ['web-1', '--'],
  ]) {
    assert.equal(parseAgentArgv(line), null, line.join(' '));
  }
});
