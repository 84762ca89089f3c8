/**
 * A stand-in for `cachix deploy activate SPEC [--agent NAME]… [--async]`
 * (cachix 1.11), written from the protocol document: token in
 * CACHIX_ACTIVATE_TOKEN, `--host URL`; POST /api/v2/deploy/activate (only
 * an exact 200 with JSON is accepted), `Deploying agents:` and `[NAME] URL`
 * lines, then per agent the log socket (`?view=true`, `[NAME] line`, ending
 * at the first line that starts with the success or failure sentence, or at
 * the close) while the status is polled every 2 s (429, 5xx and connection
 * errors retried for up to 90 s); then `Deployment summary:` and exit 0 only
 * if every agent succeeded.
 */
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { CACHIX_VERSION, restUrl, wsUrl } from './wire.js';

const FINAL = new Set(['Succeeded', 'Failed', 'Cancelled']);

function parseArgs(argv: readonly string[]): { spec: string; agents: string[]; async: boolean; host: string } {
  let host = 'https://cachix.org';
  let spec: string | undefined;
  const agents: string[] = [];
  let async = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--host') host = argv[++i] ?? host;
    else if (a === '--agent') agents.push(argv[++i] ?? '');
    else if (a === '--async') async = true;
    else spec = a;
  }
  if (!spec) throw new Error('usage: activate SPEC.json [--agent NAME]... [--async] --host URL');
  return { spec, agents, async, host };
}

const args = parseArgs(process.argv.slice(2));
const token = process.env['CACHIX_ACTIVATE_TOKEN'] ?? '';
const headers = { authorization: `Bearer ${token}`, 'user-agent': `cachix ${CACHIX_VERSION}` };

let spec: { agents: Record<string, string>; rollbackScript?: Record<string, string> };
try {
  spec = JSON.parse(readFileSync(args.spec, 'utf8')) as typeof spec;
  if (typeof spec !== 'object' || typeof spec.agents !== 'object') throw new Error('"agents" is missing');
} catch (err) {
  process.stderr.write(`Error parsing the deployment spec: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
if (args.agents.length > 0) spec = { ...spec, agents: Object.fromEntries(Object.entries(spec.agents).filter(([name]) => args.agents.includes(name))) };

const res = await fetch(restUrl(args.host, '/api/v2/deploy/activate'), {
  method: 'POST',
  headers: { ...headers, 'content-type': 'application/json' },
  body: JSON.stringify(spec),
});
const body = await res.text();
if (res.status !== 200 || !(res.headers.get('content-type') ?? '').startsWith('application/json')) {
  process.stderr.write(`activate failed: HTTP ${res.status}: ${body}\n`);
  process.exit(1);
}
const answer = JSON.parse(body) as { agents: Record<string, { id: string; url: string }> };
process.stdout.write('Deploying agents:\n');
for (const [name, d] of Object.entries(answer.agents)) process.stdout.write(`[${name}] ${d.url}\n`);
if (args.async) process.exit(0);

/** Tails one agent's log until its end line or the close. */
function tail(name: string, id: string): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(wsUrl(args.host, `/api/v1/deploy/log/${id}?view=true`), { headers, perMessageDeflate: false });
    ws.on('message', (data: Buffer) => {
      const { line } = JSON.parse(data.toString('utf8')) as { line: string };
      process.stdout.write(`[${name}] ${line}\n`);
      if (line.startsWith('Successfully activated the deployment') || line.startsWith('Failed to activate the deployment')) {
        ws.close();
        resolve();
      }
    });
    ws.on('close', () => resolve());
    ws.on('error', (err) => {
      process.stderr.write(`[${name}] log socket: ${err.message}\n`);
      resolve();
    });
  });
}

async function status(id: string): Promise<string> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    try {
      const r = await fetch(restUrl(args.host, `/api/v1/deploy/deployment/${id}`), { headers });
      if (r.status === 200) return ((await r.json()) as { status: string }).status;
      if (r.status !== 429 && r.status < 500) throw new Error(`HTTP ${r.status}: ${await r.text()}`);
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('HTTP')) throw err;
    }
    if (Date.now() > deadline) throw new Error('status polling gave up after 90 s');
    await new Promise((r) => setTimeout(r, 2000));
  }
}

async function follow(name: string, id: string): Promise<string> {
  const logDone = tail(name, id);
  let s = await status(id);
  while (!FINAL.has(s)) {
    await new Promise((r) => setTimeout(r, 2000));
    s = await status(id);
  }
  if (s === 'Failed' || s === 'Succeeded') await logDone;
  return s;
}

const results = await Promise.all(Object.entries(answer.agents).map(async ([name, d]) => [name, await follow(name, d.id)] as const));
process.stdout.write('Deployment summary:\n');
const words: Record<string, string> = {
  Succeeded: 'Deployed successfully',
  Failed: 'Failed to deploy',
  Cancelled: 'Deployment cancelled',
  InProgress: 'Still deploying',
  Pending: 'Deployment not started',
};
for (const [name, s] of results) process.stdout.write(`[${name}] ${words[s] ?? s}\n`);
process.exit(results.every(([, s]) => s === 'Succeeded') ? 0 : 1);
