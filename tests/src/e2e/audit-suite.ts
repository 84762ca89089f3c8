/**
 * The audit log end to end, defined once and run on SQLite and on
 * PostgreSQL: a real `drover server` (retention set to 30 days), changes
 * made through the API with tokens and a signed-in user and on the server
 * machine with `drover user|token|workspace`, then read back with `drover
 * audit` both ways (an admin token: its workspace only; the database:
 * everything, filtered by workspace, action and time), refused for a
 * non-admin token — and a dump of the database's audit table that holds
 * none of the passwords, token texts or session cookies handed around.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditEntry, AuditList } from '@drover/protocol';
import { Teardown } from '@drover/test-support';
import { run } from '../support/nix.js';
import { createToken, drover, makeBackend, PG_URL, randomName, startServer, type Backend, type BackendKind, type ServerHandle } from '../support/drover.js';

/** The audit table as the database holds it, every column, as text. */
async function dumpAuditTable(backend: Backend): Promise<string> {
  if (backend.kind === 'sqlite') {
    const dataDir = backend.flags[backend.flags.indexOf('--data-dir') + 1] ?? '';
    const r = await run('sqlite3', [join(dataDir, 'drover.sqlite'), '.dump audit_log']);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  }
  const schema = backend.flags[backend.flags.indexOf('--database-schema') + 1] ?? '';
  const r = await run('pg_dump', ['--data-only', '--table', `${schema}.audit_log`, PG_URL]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

export function defineAuditSuite(kind: BackendKind): void {
  describe(`audit log on ${kind}`, { timeout: 300_000 }, () => {
    let dir: string;
    let backend: Backend;
    let server: ServerHandle;
    let admin: string;
    const password = `pw-${randomBytes(12).toString('hex')}`;
    const newPassword = `pw-${randomBytes(12).toString('hex')}`;
    const user = randomName('alice');
    const team = randomName('team');
    /** Every secret handed around: none may be in the audit table. */
    const secrets: string[] = [password, newPassword];
    const teardown = new Teardown();

    const local = (args: readonly string[], input?: string) => drover([...args, ...backend.flags], {}, input);
    const remote = (args: readonly string[], token = admin) => drover([...args, '--server', server.url, '--token', token]);
    const pageOf = (stdout: string) => JSON.parse(stdout) as AuditList;

    before(async () => {
      dir = await mkdtemp(join(process.env['DROVER_TEST_OUTPUT'] ?? tmpdir(), `audit-${kind}-`));
      if (!process.env['DROVER_TEST_KEEP']) teardown.add(() => rm(dir, { recursive: true, force: true }));
      backend = await makeBackend(kind, dir);
      teardown.add(() => backend.cleanup());
      server = await startServer(backend, ['--audit-retention-days', '30']);
      teardown.add(() => server.stop());
      admin = await createToken(backend, 'admin', ['--description', 'ops admin']);
      secrets.push(admin);

      // On the server machine: users, a workspace.
      const created = await local(['user', 'create', user, '--role', 'admin', '--workspace', 'default', '--password-stdin'], `${password}\n`);
      assert.equal(created.code, 0, created.stderr);
      const changed = await local(['user', 'password', user, '--password-stdin'], `${newPassword}\n`);
      assert.equal(changed.code, 0, changed.stderr);
      assert.equal((await local(['workspace', 'create', team])).code, 0);

      // Through the API: a token, its revocation, a sign-in.
      const made = await remote(['token', 'create', '--kind', 'activate', '--description', 'ci deploys']);
      assert.equal(made.code, 0, made.stderr);
      secrets.push(made.stdout.trim());
      const id = /created activate token ([0-9a-f]+)/.exec(made.stderr)?.[1] ?? '';
      assert.equal((await remote(['token', 'revoke', id])).code, 0);
      const signIn = await fetch(`${server.url}/api/v1/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: user, password: newPassword }),
      });
      assert.equal(signIn.status, 200, await signIn.text());
      const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
      secrets.push(cookie.slice(cookie.indexOf('=') + 1));
    });
    after(() => teardown.run());

    test('an admin token reads its workspace: who, what, target and address of each change, newest first, with the retention', async () => {
      const r = await remote(['audit', '--json']);
      assert.equal(r.code, 0, r.stderr);
      const page = pageOf(r.stdout);
      assert.equal(page.retentionDays, 30);
      const seen = page.entries.map((e) => [e.action, e.actor.kind, e.actor.label, e.address]);
      // Signing in and setting a password are server-wide, the new workspace is its own: not here.
      assert.deepEqual(seen, [
        ['token.revoke', 'token', 'ops admin', '127.0.0.1'],
        ['token.create', 'token', 'ops admin', '127.0.0.1'],
        ['user.create', 'local', page.entries[2]?.actor.label, 'local'],
        ['token.create', 'local', page.entries[3]?.actor.label, 'local'],
      ]);
      assert.ok(page.entries.every((e) => e.workspace === 'default'));
      assert.match(page.entries[2]?.actor.label ?? '', /^.+@.+$/);
      const [revoked, created] = page.entries;
      assert.ok(revoked && created);
      assert.equal(created.details['description'], 'ci deploys');
      assert.equal(created.target, revoked.target);
      // The table form says the same, and how long entries are kept.
      const text = await remote(['audit', '--action', 'token']);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /^TIME\s+WORKSPACE\s+ACTOR\s+ACTION\s+TARGET\s+ADDRESS\s+DETAILS$/m);
      assert.equal(text.stdout.trim().split('\n').length, 4, text.stdout); // the header and three token entries
      assert.match(text.stderr, /entries are kept 30 days/);
    });

    test('on the server machine every workspace and the server-wide entries, filtered by workspace, action, actor and time', async () => {
      const all = pageOf((await local(['audit', '--json'])).stdout);
      const actions = all.entries.map((e) => `${e.action}@${e.workspace ?? '*'}`);
      assert.ok(actions.includes(`workspace.create@${team}`), actions.join(' '));
      assert.ok(actions.includes('user.set-password@*'), actions.join(' '));
      const signedIn = all.entries.find((e) => e.action === 'session.create');
      assert.deepEqual([signedIn?.actor.id, signedIn?.address, signedIn?.workspace], [user, '127.0.0.1', null]);
      const users = pageOf((await local(['audit', '--action', 'user', '--json'])).stdout);
      assert.deepEqual(
        users.entries.map((e: AuditEntry) => [e.action, e.target]),
        [
          ['user.set-password', user],
          ['user.create', user],
        ],
      );
      assert.equal(users.entries[1]?.details['role'], 'admin');
      const inTeam = pageOf((await local(['audit', '--workspace', team, '--json'])).stdout);
      assert.deepEqual(
        inTeam.entries.map((e) => e.action),
        ['workspace.create'],
      );
      assert.equal(pageOf((await local(['audit', '--actor', 'ops admin', '--json'])).stdout).total, 2);
      assert.equal(pageOf((await local(['audit', '--since', '1h', '--json'])).stdout).total, all.total);
      assert.equal(pageOf((await local(['audit', '--until', '1h', '--json'])).stdout).total, 0);
      const paged = pageOf((await local(['audit', '--limit', '2', '--offset', '1', '--json'])).stdout);
      assert.deepEqual(
        paged.entries.map((e) => e.id),
        all.entries.slice(1, 3).map((e) => e.id),
      );
    });

    test('a token that is not an admin is refused, and a bad --since is an error', async () => {
      const activate = await createToken(backend, 'activate');
      secrets.push(activate);
      const refused = await remote(['audit'], activate);
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /activate token cannot do this/);
      const bad = await local(['audit', '--since', 'yesterday']);
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /--since must be a time/);
    });

    test('the audit table in the database holds none of the passwords, token texts or session cookies', async () => {
      const dump = await dumpAuditTable(backend);
      assert.match(dump, /token\.create/, 'the dump holds no entries at all');
      for (const secret of secrets) {
        assert.ok(secret.length >= 16, `a test secret is too short to search for: ${secret.length}`);
        assert.ok(!dump.includes(secret), `a secret is in the audit table: ${secret.slice(0, 10)}…`);
        const secretPart = secret.split('_').at(-1) ?? secret;
        assert.ok(!dump.includes(secretPart), `a token's secret part is in the audit table: ${secretPart.slice(0, 8)}…`);
      }
    });
  });
}
