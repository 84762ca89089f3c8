/**
 * The single-file agent (packages/cli/dist/drover-agent.mjs, `npm run
 * bundle`): it loads nothing but Node's own modules (no node_modules, no
 * native `.node` addon), and copied ALONE to an empty directory it runs with
 * only `node`: `--version`, `agent` (up to its configuration check), the
 * hidden runner mode, and a clear refusal of the other commands; an invalid
 * server frame gets TypeBox's explanation, which the bundle loads only then
 * (@drover/protocol's wire-codec.ts). A whole deployment through it is in
 * the deploy suite ("the single-file agent …").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import { bundledAgentPath, repoRoot, run, tempDir } from '@drover/test-support';

const root = repoRoot();
/** ws probes these optional speed-ups inside try/catch and works without them. */
const OPTIONAL = new Set(['bufferutil', 'utf-8-validate']);

test('the bundle requires and imports only Node built-ins (no node_modules, no .node addon)', { timeout: 120_000 }, async () => {
  const text = readFileSync(await bundledAgentPath(), 'utf8');
  // The bundle is minified: esbuild's require helper (`__require`) has a short name; it is the one defined as `typeof require<"u"?require:…`.
  const helper = /([\w$]+)=\(?\w+=>typeof require\s*<\s*"u"\s*\?\s*require/.exec(text)?.[1] ?? '__require';
  const requireCall = new RegExp(`(?<![\\w$])(?:${helper.replace(/\$/g, '\\$')}|require)\\(\\s*(["'\`])([^"'\`]+)\\1\\s*\\)`, 'g');
  const required = [...text.matchAll(requireCall)].map((m) => m[2] ?? '');
  const imported = [...text.matchAll(/(?<![\w$.])import\s*[^;()'"`]*?\bfrom\s*["']([^"']+)["']/g), ...text.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)].map(
    (m) => m[1] ?? '',
  );
  assert.ok(required.length > 0 && imported.length > 0, 'the scan finds the requires and imports');
  const builtin = (name: string) => builtinModules.includes(name.replace(/^node:/, ''));
  assert.deepEqual(
    [...new Set([...required, ...imported])].filter((n) => !builtin(n) && !OPTIONAL.has(n)),
    [],
    'only built-in modules are loaded',
  );
  assert.doesNotMatch(text, /\.node["'`]/, 'no native addon file is named');
  assert.doesNotMatch(text, /node-gyp-build|require\(["']bindings["']\)/, 'no addon loader');
});

test('copied alone to an empty directory, it runs with only node', { timeout: 120_000 }, async () => {
  const dir = await tempDir('drover-bundle-');
  try {
    const file = join(dir.path, 'drover-agent.mjs');
    copyFileSync(await bundledAgentPath(), file);
    const env = { NODE_PATH: '', DROVER_SERVER: '', DROVER_AGENT_TOKEN: '' };
    const node = (...args: string[]) => run(process.execPath, [file, ...args], { env, timeoutMs: 30_000 });

    const version = await node('--version');
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout.trim(), manifest.version, 'the version is built in');

    const help = await node('--help');
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /agent \[options\] <name>/);
    assert.doesNotMatch(help.stdout, /^\s+(server|activate|token)\b/m, 'only the agent command is offered');

    const agentHelp = await node('agent', '--help');
    assert.match(agentHelp.stdout, /--token-file <file>/, 'the same agent options as the full CLI');

    const noServer = await node('agent', 'web-1');
    assert.equal(noServer.code, 1);
    assert.match(noServer.stderr, /^error: no server: pass --server URL or set DROVER_SERVER$/m, 'the agent command itself runs');

    for (const other of ['server', 'activate', 'token']) {
      const res = await node(other, '--help');
      assert.equal(res.code, 1, other);
      assert.match(res.stderr, new RegExp(`^error: \`drover ${other}\` is not part of this package: this is the agent-only drover`, 'm'));
      assert.match(res.stderr, /^hint: install the full drover package/m);
      assert.doesNotMatch(res.stderr, /\n\s+at /, 'no stack trace');
    }

    const runner = await node('__drover-runner');
    assert.equal(runner.code, 2, 'the hidden mode is the deployment runner');
    assert.match(runner.stderr, /usage: runner DEPLOYMENT_DIR/);
  } finally {
    await dir.remove();
  }
});

test("an invalid server frame gets TypeBox's explanation from the bundle", { timeout: 120_000 }, async () => {
  const dir = await tempDir('drover-bundle-');
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    wss.on('connection', (ws) => {
      ws.once('message', () => {
        ws.send(JSON.stringify({ type: 'registered', agentId: '0b7e1c52-7d0e-4a43-9f6a-1f2f3a4b5c6d', workspace: 'default', cache: null, pingIntervalMs: 10 }));
      });
      ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
  });
  const file = join(dir.path, 'drover-agent.mjs');
  copyFileSync(await bundledAgentPath(), file);
  const server = `http://127.0.0.1:${(wss.address() as AddressInfo).port}`;
  const agent = spawn(
    process.execPath,
    [file, 'agent', 'web-1', '--server', server, '--profile', join(dir.path, 'profile'), '--state-dir', join(dir.path, 'state')],
    {
      env: { ...process.env, DROVER_AGENT_TOKEN: 'any', NODE_PATH: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  agent.stdout.on('data', (d: Buffer) => (output += d.toString()));
  agent.stderr.on('data', (d: Buffer) => (output += d.toString()));
  try {
    const close = await closed;
    assert.equal(close.code, 4400, 'closed as a bad frame');
    assert.match(close.reason, /^server frame "registered" is invalid at \/pingIntervalMs: Expected integer to be greater or equal to 1000$/);
    while (!output.includes('server sent an invalid frame')) await once(agent.stdout, 'data');
    assert.match(output, /"error":"server frame \\"registered\\" is invalid at \/pingIntervalMs: Expected integer/, 'the agent logs the explanation');
  } finally {
    agent.kill('SIGTERM');
    if (agent.exitCode === null) await once(agent, 'exit');
    wss.close();
    await dir.remove();
  }
});
