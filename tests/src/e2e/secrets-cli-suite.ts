/**
 * Secrets through the real `drover server` and `drover secret`, defined once
 * and run on SQLite and PostgreSQL, with simulated agents (a real websocket
 * each, sim-agent.ts) whose age identities come from Debian's `age-keygen`:
 * the CLI encrypts to the targets' recipients and the order an agent gets
 * decrypts with Debian's `age -d` for it and for no other agent; `--on`
 * selects by label; `--encrypted` takes a file from `age -r` (binary and
 * armored); an agent without a recipient and a too-large secret are refused
 * with the fix; `list` shows metadata only, viewers get no ciphertext;
 * `rm` empties the set; the plaintext is found in no server log line and no
 * database dump (`sqlite3 .dump` / `pg_dump`).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeploymentOrder, SecretOrder } from '@drover/protocol';
import { Teardown, run } from '@drover/test-support';
import { api, createToken, drover, makeBackend, PG_URL, startServer, type Backend, type BackendKind, type ServerHandle } from '../support/drover.js';
import { SimAgent } from '../web/sim-agent.js';

/** Debian's age tools, or why the suite is skipped. */
async function ageTools(): Promise<string | false> {
  const r = await run('age', ['--version']);
  return r.code === 0 ? false : 'Debian age not installed (apt-get install -y age): skipping the secrets CLI suite';
}

export async function defineSecretsCliSuite(kind: BackendKind): Promise<void> {
  const skip = await ageTools();
  if (skip) process.stdout.write(`# ${skip}\n`);
  describe(`secrets through the CLI on ${kind}`, { skip, timeout: 300_000 }, () => {
    let dir: string;
    let backend: Backend;
    let server: ServerHandle;
    let activate: string;
    const agents: Record<string, { sim: SimAgent; key: string; recipient: string }> = {};
    const teardown = new Teardown();
    /** Every plaintext the suite used: none may show up in a log or a dump. */
    const plaintexts: string[] = [];

    const secretCli = (args: string[], input?: string) => drover(['secret', ...args], { DROVER_SERVER: server.url, DROVER_ACTIVATE_TOKEN: activate }, input);
    const plaintext = (label: string) => {
      const p = `${label}-${randomBytes(12).toString('hex')}`;
      plaintexts.push(p);
      return p;
    };

    async function identity(name: string): Promise<{ key: string; recipient: string }> {
      const key = join(dir, `${name}.key`);
      const r = await run('age-keygen', ['-o', key]);
      assert.equal(r.code, 0, r.stderr);
      const recipient = /public key: (age1[0-9a-z]+)/.exec(await readFile(key, 'utf8'))?.[1];
      assert.ok(recipient, 'age-keygen wrote a public key');
      return { key, recipient };
    }

    /** Decrypts an order's secret with Debian's age and this agent's identity. */
    async function decryptAs(agent: string, secret: SecretOrder): Promise<{ code: number; text: string; stderr: string }> {
      const file = join(dir, `ct-${randomBytes(4).toString('hex')}`);
      await writeFile(file, Buffer.from(secret.ciphertext, 'base64'));
      const r = await run('age', ['-d', '-i', agents[agent]?.key ?? '', file]);
      return { code: r.code, text: r.stdout, stderr: r.stderr };
    }

    /** The agent's next order after `seen` orders (the sim agent finishes each at once). */
    async function nextOrder(agent: string, seen: number): Promise<DeploymentOrder> {
      const orders = await agents[agent]!.sim.waitForOrders(seen + 1);
      return orders[seen]!;
    }

    before(async () => {
      dir = await mkdtemp(join(process.env['DROVER_TEST_OUTPUT'] ?? tmpdir(), `secrets-cli-${kind}-`));
      if (!process.env['DROVER_TEST_KEEP']) teardown.add(() => rm(dir, { recursive: true, force: true }));
      backend = await makeBackend(kind, dir);
      teardown.add(() => backend.cleanup());
      server = await startServer(backend);
      teardown.add(() => server.stop());
      activate = await createToken(backend, 'activate');
      for (const [name, labels] of [
        ['web-1', { role: 'web' }],
        ['web-2', { role: 'web' }],
        ['db-1', { role: 'db' }],
      ] as const) {
        const id = await identity(name);
        const token = await createToken(backend, 'agent', ['--agent', name]);
        const sim = await SimAgent.connect(server.url, name, token, { recipient: id.recipient, labels });
        teardown.add(async () => sim.close());
        agents[name] = { sim, ...id };
        // A first deployment gives each a current path (what a secrets-only deployment keeps).
        const path = `/nix/store/${'a'.repeat(31)}${name.length}-${name}`;
        const res = await api(server.url, activate, 'POST', '/activate?cacheCheck=false', { agents: { [name]: path } });
        assert.equal(res.status, 201, JSON.stringify(res.json));
        await sim.waitForOrders(1);
      }
      const old = await createToken(backend, 'agent', ['--agent', 'old-1']);
      const oldSim = await SimAgent.connect(server.url, 'old-1', old);
      teardown.add(async () => oldSim.close());
    });
    after(() => teardown.run());

    test('set --agent: encrypted here to that agent only; its secrets-only order decrypts with its identity and no other', async () => {
      const secret = plaintext('db-password');
      const file = join(dir, 'db-password.txt');
      await writeFile(file, secret);
      const r = await secretCli(['set', 'db-password', '--agent', 'web-1', '--file', file, '--owner', 'postgres:postgres', '--mode', '0440']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /secret db-password version 1 set for web-1 \(\/run\/drover\/secrets\/db-password, mode 0440\)/);
      assert.match(r.stderr, /web-1: secrets-only deployment #\d+ http/);
      const order = await nextOrder('web-1', 1);
      assert.equal(order.secretsOnly, true);
      assert.equal(order.storePath, agents['web-1']!.sim.orders[0]!.storePath);
      const [s] = order.secrets ?? [];
      assert.ok(s);
      assert.deepEqual(
        { ...s, ciphertext: '' },
        { name: 'db-password', path: '/run/drover/secrets/db-password', owner: 'postgres', group: 'postgres', mode: 0o440, version: 1, ciphertext: '' },
      );
      assert.equal((await decryptAs('web-1', s)).text, secret, "Debian's age decrypts it with web-1's identity");
      const other = await decryptAs('web-2', s);
      assert.notEqual(other.code, 0, 'web-2 cannot decrypt it');
      assert.match(other.stderr, /no identity matched any of the recipients/);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(agents['web-2']!.sim.orders.length, 1, 'the untargeted agent got no order');
    });

    test('set --on SELECTOR from stdin: every matching agent can decrypt; a change bumps the version', async () => {
      const secret = plaintext('api-key');
      const r = await secretCli(['set', 'api-key', '--on', 'role=web'], secret);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /set for web-1, web-2/);
      const seen2 = agents['web-2']!.sim.orders.length;
      const order1 = await nextOrder('web-1', 2);
      const order2 = await nextOrder('web-2', seen2 - 1);
      assert.deepEqual(
        order1.secrets?.map((s) => s.name),
        ['api-key', 'db-password'],
        'the complete set, by name',
      );
      for (const [agent, order] of [
        ['web-1', order1],
        ['web-2', order2],
      ] as const) {
        const s = order.secrets?.find((x) => x.name === 'api-key');
        assert.ok(s);
        assert.equal((await decryptAs(agent, s)).text, secret, `${agent} decrypts it`);
      }
      const rotated = plaintext('api-key-v2');
      const again = await secretCli(['set', 'api-key', '--on', 'role=web', '--json'], rotated);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(JSON.parse(again.stdout).secret.version, 2);
      const order = await nextOrder('web-2', seen2);
      const s = order.secrets?.find((x) => x.name === 'api-key');
      assert.ok(s);
      assert.equal(s.version, 2);
      assert.equal((await decryptAs('web-2', s)).text, rotated);
    });

    test("--encrypted takes a file made with Debian's age -r (binary and armored)", async () => {
      for (const armor of [false, true]) {
        const secret = plaintext(armor ? 'tls-armored' : 'tls-binary');
        const file = join(dir, `tls-${String(armor)}.age`);
        const made = await run('age', [...(armor ? ['-a'] : []), '-r', agents['db-1']!.recipient, '-o', file], { input: secret });
        assert.equal(made.code, 0, made.stderr);
        const seen = agents['db-1']!.sim.orders.length;
        const r = await secretCli(['set', 'tls-key', '--agent', 'db-1', '--encrypted', file, '--path', '/var/lib/app/tls.key']);
        assert.equal(r.code, 0, r.stderr);
        const order = await nextOrder('db-1', seen);
        const s = order.secrets?.find((x) => x.name === 'tls-key');
        assert.ok(s);
        assert.equal(s.path, '/var/lib/app/tls.key');
        assert.ok(Buffer.from(s.ciphertext, 'base64').toString('latin1').startsWith('age-encryption.org/v1\n'), 'sent in the binary format');
        assert.equal((await decryptAs('db-1', s)).text, secret);
      }
    });

    test('refusals: an agent without a recipient (named, with the fix), an unknown agent, a secret over 64 KiB, a bad mode; nothing stored', async () => {
      const none = await secretCli(['set', 'nope', '--agent', 'old-1'], 'x');
      assert.equal(none.code, 1);
      assert.match(none.stderr, /error: agent old-1 has no age recipient/);
      assert.match(none.stderr, /hint: .*upgrade it and start it once/);
      const unknown = await secretCli(['set', 'nope', '--agent', 'ghost'], 'x');
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /no agent named ghost/);
      const big = await secretCli(['set', 'nope', '--agent', 'web-1'], 'x'.repeat(64 * 1024 + 1));
      assert.equal(big.code, 1);
      assert.match(big.stderr, /over the limit of 65536/);
      const mode = await secretCli(['set', 'nope', '--agent', 'web-1', '--mode', '999'], 'x');
      assert.equal(mode.code, 1);
      assert.match(mode.stderr, /not an octal file mode/);
      const both = await secretCli(['set', 'nope', '--agent', 'web-1', '--on', 'role=web'], 'x');
      assert.equal(both.code, 1);
      assert.match(both.stderr, /--agent NAME \(repeatable\) or --on SELECTOR, not both/);
      const list = await secretCli(['list', '--json']);
      assert.ok(!JSON.parse(list.stdout).some((s: { name: string }) => s.name === 'nope'));
    });

    test('list shows metadata only; a viewer gets names and targets, never ciphertext', async () => {
      const list = await secretCli(['list']);
      assert.equal(list.code, 0, list.stderr);
      assert.match(list.stdout, /^NAME\s+VERSION\s+TARGETS\s+PATH\s+OWNER\s+MODE\s+UPDATED/);
      assert.match(list.stdout, /db-password\s+1\s+web-1\s+\/run\/drover\/secrets\/db-password\s+postgres:postgres\s+0440/);
      assert.match(list.stdout, /api-key\s+2\s+web-1,web-2/);
      const json = await secretCli(['list', '--json']);
      assert.ok(!json.stdout.includes('ciphertext'));
      const created = await drover(
        ['user', 'create', 'vera', '--role', 'viewer', '--workspace', 'default', '--password-stdin', ...backend.flags],
        {},
        'viewer password 1\n',
      );
      assert.equal(created.code, 0, created.stderr);
      const signIn = await fetch(`${server.url}/api/v1/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'vera', password: 'viewer password 1' }),
      });
      assert.equal(signIn.status, 200);
      const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
      const seen = await fetch(`${server.url}/api/v1/workspaces/default/secrets`, { headers: { cookie } });
      const text = await seen.text();
      assert.equal(seen.status, 200, text);
      assert.match(text, /"name":"db-password"/);
      assert.match(text, /"agent":"web-1"/);
      assert.ok(!text.includes('ciphertext'), 'no ciphertext field for a viewer');
      for (const order of agents['web-1']!.sim.orders) for (const s of order.secrets ?? []) assert.ok(!text.includes(s.ciphertext.slice(0, 32)));
    });

    test('rm: a secrets-only deployment without it; then the plaintext is in no log line and no database dump', async () => {
      const seen = agents['web-1']!.sim.orders.length;
      const r = await secretCli(['rm', 'db-password']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /secret db-password removed/);
      const order = await nextOrder('web-1', seen);
      assert.equal(order.secretsOnly, true);
      assert.deepEqual(
        order.secrets?.map((s) => s.name),
        ['api-key'],
      );
      const gone = await secretCli(['rm', 'db-password']);
      assert.equal(gone.code, 1);
      assert.match(gone.stderr, /DROVER_ERR_SECRET_NOT_FOUND|does not exist/);

      let dump: string;
      if (kind === 'sqlite') {
        const dataDir = backend.flags[backend.flags.indexOf('--data-dir') + 1] ?? '';
        const d = await run('sqlite3', [join(dataDir, 'drover.sqlite'), '.dump']);
        assert.equal(d.code, 0, d.stderr);
        dump = d.stdout;
      } else {
        const schema = backend.flags[backend.flags.indexOf('--database-schema') + 1] ?? '';
        const d = await run('pg_dump', ['--schema', schema, PG_URL]);
        assert.equal(d.code, 0, d.stderr);
        dump = d.stdout;
      }
      assert.match(dump, /api-key/, 'the dump holds the secrets table');
      const logs = server.proc.output;
      assert.match(logs, /secret set/, 'the server logged the changes');
      for (const p of plaintexts) {
        assert.ok(!dump.includes(p), `plaintext ${p.slice(0, 12)}… is not in the database dump`);
        assert.ok(!logs.includes(p), `plaintext ${p.slice(0, 12)}… is not in the server log`);
      }
    });
  });
}
