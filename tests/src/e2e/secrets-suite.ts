/**
 * Secrets end to end, defined once and run on SQLite and on PostgreSQL:
 * real `drover server`, real agents (each with its own age identity), real
 * `drover secret` encrypting on the client, real `drover activate`, real
 * Nix. A secret is set for one agent and arrives with its deployment (file
 * content, mode and owner checked) while an agent it is not for gets
 * nothing; a rotation goes out as a secrets-only deployment (profile
 * untouched); a file made with Debian's `age -r RECIPIENT` is accepted with
 * `--encrypted`; a tampered one fails the deployment with a clear reason
 * and changes nothing; a removed secret's file is deleted; a restarted
 * agent writes its missing files again (after a reboot /run is empty); and
 * the plaintexts used are found in no log, no state file, no API answer
 * and no database dump.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Agent, Deployment } from '@drover/protocol';
import { run } from '@drover/test-support';
import { drover, PG_URL, waitFor, type BackendKind } from '../support/drover.js';
import { activePath, deploymentIds, generations, World, type TestAgent } from './harness.js';

/** What `drover secret set` prints with --json (the API's SecretSetResponse, the parts read here). */
interface SetResult {
  readonly deployments: readonly Deployment[];
  readonly withNextDeployment: readonly string[];
}

/** A plaintext no other byte of the test run can contain by chance. */
function plaintext(label: string): string {
  return `drover-e2e-${label}-${randomBytes(12).toString('hex')}`;
}

/** Every file under `dir` (recursively) except those under `skip`. */
async function filesUnder(dir: string, skip: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (skip.some((s) => path === s || path.startsWith(`${s}/`))) continue;
    if (entry.isDirectory()) out.push(...(await filesUnder(path, skip)));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

export function defineSecretsSuite(kind: BackendKind): void {
  describe(`secrets end to end on ${kind}`, { timeout: 600_000 }, () => {
    const world = new World(kind);
    /** Where the secret files go (excluded from the plaintext search: they are the plaintext). */
    let out: string;
    let web: TestAgent;
    let other: TestAgent;
    const used: string[] = [];
    const apiAnswers: string[] = [];

    before(async () => {
      await world.setUp();
      out = join(world.dir, 'secret-files');
      await mkdir(out);
      const declared = join(world.dir, 'declared-secrets.json');
      await writeFile(declared, JSON.stringify({ secrets: { db: { path: '/run/drover/secrets/db', owner: null, group: null, mode: '0400' } } }));
      [web, other] = await Promise.all([world.agent(), world.agent({ extraArgs: ['--declared-secrets', declared] })]);
    });
    after(() => world.tearDown());

    /** `drover secret ARGS` with the admin token; `input` on stdin. */
    async function secret(args: readonly string[], input?: string) {
      const r = await drover(
        ['secret', ...args, '--server', world.server.url],
        { DROVER_ADMIN_TOKEN: world.adminToken, DROVER_ACTIVATE_TOKEN: world.adminToken },
        input,
      );
      apiAnswers.push(r.stdout, r.stderr);
      return r;
    }

    async function setSecret(args: readonly string[], input?: string): Promise<SetResult> {
      const r = await secret(['set', ...args, '--json'], input);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      return JSON.parse(r.stdout) as SetResult;
    }

    /** The one secrets-only deployment a change queued for `agent`, waited for until it ends `status`. */
    async function secretsOnly(result: SetResult, agent: TestAgent, status: Deployment['status'] = 'Succeeded'): Promise<Deployment> {
      assert.deepEqual(
        result.deployments.map((d) => d.agent),
        [agent.name],
        `one secrets-only deployment, for ${agent.name} only`,
      );
      const [queued] = result.deployments;
      return world.waitForStatus(queued!.id, status, 120_000);
    }

    async function logText(id: string): Promise<string> {
      return (await world.logOf(id)).map((l) => l.text).join('\n');
    }

    async function mode(path: string): Promise<number> {
      return (await stat(path)).mode & 0o7777;
    }

    test('agents list their recipient; a secret set for one agent arrives with its deployment, with content, mode and owner; the other agent gets nothing', async () => {
      const agents = await drover(['agents', '--json', '--server', world.server.url], { DROVER_ACTIVATE_TOKEN: world.activateToken });
      apiAnswers.push(agents.stdout);
      const listed = JSON.parse(agents.stdout) as Agent[];
      const identity = await readFile(join(web.stateDir, 'age-identity'), 'utf8');
      const recipient = /^# public key: (age1[0-9a-z]+)$/m.exec(identity)?.[1];
      assert.ok(recipient, identity.replace(/AGE-SECRET-KEY-1\S+/, 'AGE-SECRET-KEY-1…'));
      assert.equal(listed.find((a) => a.name === web.name)?.recipient, recipient);
      assert.match(listed.find((a) => a.name === other.name)?.recipient ?? '', /^age1/);

      const db = plaintext('db');
      used.push(db);
      const path = join(out, 'web', 'db');
      const set = await setSecret(['db', '--agent', web.name, '--path', path, '--owner', 'nobody:nogroup', '--mode', '0440'], db);
      assert.deepEqual(set.deployments, [], 'nothing was deployed to the agent yet: its first deployment carries the secret');
      assert.deepEqual(set.withNextDeployment, [web.name]);

      const f = world.fixtures;
      const r = await world.activate([await world.specFile({ [web.name]: f.nixos, [other.name]: f.nixos })]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal(await readFile(path, 'utf8'), db);
      assert.equal(await mode(path), 0o440);
      assert.equal((await stat(path)).uid, 65534, 'owned by nobody');
      assert.equal((await stat(path)).gid, 65534, 'group nogroup');
      assert.equal(await mode(join(out, 'web')), 0o751, 'a directory the agent made is 0751');
      const ids = deploymentIds(r.stdout);
      const webLog = await logText(ids.get(web.name)!);
      assert.match(webLog, /1 secret\(s\) for this agent decrypt: db/);
      assert.match(webLog, new RegExp(`secret db: wrote ${path} \\(version 1, mode 0440, owner 65534:65534\\)`));
      const fsType = (await run('stat', ['-f', '-c', '%T', join(out, 'web')], { timeoutMs: 10_000 })).stdout.trim();
      if (fsType !== 'tmpfs') assert.match(webLog, new RegExp(`warning: ${join(out, 'web')} is not on a tmpfs`), `on ${fsType}`);
      const otherLog = await logText(ids.get(other.name)!);
      assert.doesNotMatch(otherLog, /^secret |secret\(s\)/m, 'the untargeted agent got no secret');
      assert.match(
        otherLog,
        new RegExp(
          `^warning: declared secret "db" \\(/run/drover/secrets/db\\) was not set for this agent: run \`drover secret set db --agent ${other.name} --path /run/drover/secrets/db --mode 0400\`$`,
          'm',
        ),
        'the declared secrets are checked against what it received',
      );
      assert.equal((await readdir(out)).join(), 'web', 'no file for the other agent');
      assert.equal(existsSync(join(other.stateDir, 'secrets.json')), false, 'the other agent recorded no set: it holds not even the ciphertext');
    });

    test('a rotation goes out as a secrets-only deployment: new content, same statuses and log, the profile untouched', async () => {
      const rotated = plaintext('db-rotated');
      used.push(rotated);
      const path = join(out, 'web', 'db');
      const before = await generations(web.profile);
      const set = await setSecret(['db', '--agent', web.name, '--path', path, '--owner', 'nobody:nogroup', '--mode', '0440'], rotated);
      const done = await secretsOnly(set, web);
      assert.equal(done.storePath, world.fixtures.nixos, "a secrets-only deployment's store path is the agent's current one");
      assert.equal(await readFile(path, 'utf8'), rotated);
      assert.equal(await mode(path), 0o440);
      assert.deepEqual(await generations(web.profile), before, 'no new profile generation');
      assert.equal(await activePath(web.profile), world.fixtures.nixos);
      const log = await logText(done.id);
      assert.match(log, /secrets-only deployment: the profile stays at/);
      assert.match(log, new RegExp(`secret db: wrote ${path} \\(version 2,`));
      assert.doesNotMatch(log, /\$ nix-env|switch-to-configuration/);
    });

    test("a file made with Debian's `age -r RECIPIENT` is accepted with --encrypted and delivered", async () => {
      const identity = await readFile(join(web.stateDir, 'age-identity'), 'utf8');
      const recipient = /^# public key: (age1[0-9a-z]+)$/m.exec(identity)?.[1] ?? assert.fail('no recipient');
      const api = plaintext('api');
      used.push(api);
      const file = join(world.dir, 'api.age');
      const age = await run('age', ['-r', recipient, '-o', file], { input: api, timeoutMs: 20_000 });
      assert.equal(age.code, 0, age.stderr);
      const path = join(out, 'web', 'api');
      const done = await secretsOnly(await setSecret(['api', '--agent', web.name, '--encrypted', file, '--path', path]), web);
      assert.equal(await readFile(path, 'utf8'), api);
      assert.equal(await mode(path), 0o400, 'the default mode');
      assert.match(await logText(done.id), /secret api: wrote/);
    });

    test('a tampered ciphertext fails the deployment with a clear reason before anything changes', async () => {
      const identity = await readFile(join(web.stateDir, 'age-identity'), 'utf8');
      const recipient = /^# public key: (age1[0-9a-z]+)$/m.exec(identity)?.[1] ?? assert.fail('no recipient');
      const bad = plaintext('tampered');
      used.push(bad);
      const file = join(world.dir, 'tampered.age');
      assert.equal((await run('age', ['-r', recipient, '-o', file], { input: bad, timeoutMs: 20_000 })).code, 0);
      const bytes = await readFile(file);
      bytes[bytes.length - 3] = (bytes[bytes.length - 3] ?? 0) ^ 0x55; // in the payload: the header stays valid
      await writeFile(file, bytes);
      const path = join(out, 'web', 'tampered');
      const apiBefore = await readFile(join(out, 'web', 'api'), 'utf8');
      const failed = await secretsOnly(await setSecret(['tampered', '--agent', web.name, '--encrypted', file, '--path', path]), web, 'Failed');
      assert.match(
        failed.reason ?? '',
        /^DROVER_ERR_AGENT_SECRET: secret "tampered" \(version 1\) cannot be decrypted: its ciphertext is damaged or was tampered with \(age: .+\); the profile was not changed$/,
      );
      assert.equal(existsSync(path), false);
      assert.equal(await readFile(join(out, 'web', 'api'), 'utf8'), apiBefore, 'the other secrets are untouched');
      assert.equal(await activePath(web.profile), world.fixtures.nixos);
      const rm1 = await secret(['rm', 'tampered', '--json']);
      assert.equal(rm1.code, 0, rm1.stdout + rm1.stderr);
      await secretsOnly(JSON.parse(rm1.stdout) as SetResult, web);
    });

    test("a removed secret's file is deleted by the secrets-only deployment that follows", async () => {
      const path = join(out, 'web', 'api');
      assert.ok(existsSync(path));
      const r = await secret(['rm', 'api', '--json']);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const done = await secretsOnly(JSON.parse(r.stdout) as SetResult, web);
      assert.equal(existsSync(path), false);
      assert.match(await logText(done.id), new RegExp(`secret api: removed ${path} \\(no longer set for this agent\\)`));
      assert.ok(existsSync(join(out, 'web', 'db')), 'the remaining secret stays');
      const list = await secret(['list', '--json']);
      assert.equal(list.code, 0, list.stderr);
      assert.deepEqual(
        (JSON.parse(list.stdout) as { name: string }[]).map((s) => s.name),
        ['db'],
      );
    });

    test('a restarted agent writes its missing secret files again before it connects (after a reboot /run is empty)', async () => {
      const path = join(out, 'web', 'db');
      const content = await readFile(path, 'utf8');
      await web.proc.stop();
      await rm(path);
      await web.restart();
      await waitFor('the secret file to be written again', () => existsSync(path), 20_000);
      assert.equal(await readFile(path, 'utf8'), content);
      assert.equal(await mode(path), 0o440);
      assert.match(web.proc.output, new RegExp(`secret db: wrote ${path}`));
    });

    test('the plaintexts are found in no log, state file, API answer or database dump', async () => {
      assert.ok(used.length >= 4);
      // The search can find them: the one secret left on disk is one of them.
      assert.ok(used.includes(await readFile(join(out, 'web', 'db'), 'utf8')), 'the search looks for what was delivered');
      const haystacks: { where: string; text: string }[] = [];
      for (const p of [world.server.proc, web.proc, other.proc]) haystacks.push({ where: `output of ${p.name}`, text: p.output });
      for (const file of await filesUnder(world.dir, [out])) {
        if ((await stat(file)).size > 50 * 1024 * 1024) continue;
        haystacks.push({ where: file, text: (await readFile(file)).toString('latin1') });
      }
      haystacks.push({ where: 'CLI and API answers', text: apiAnswers.join('\n') });
      for (const agent of [web, other]) {
        const history = await drover(['deployments', '--agent', agent.name, '--json', '--server', world.server.url], {
          DROVER_ACTIVATE_TOKEN: world.activateToken,
        });
        const ids = (JSON.parse(history.stdout) as Deployment[]).map((d) => d.id);
        assert.ok(ids.length > 0, history.stdout + history.stderr);
        for (const id of ids) haystacks.push({ where: `log of deployment ${id}`, text: await logText(id) });
      }
      haystacks.push({ where: `${kind} dump`, text: await dumpDatabase(world) });
      assert.ok(
        haystacks.some((h) => h.where === `${kind} dump` && h.text.includes('secrets')),
        'the dump holds the secrets table',
      );
      for (const secretText of used) {
        for (const h of haystacks) assert.ok(!h.text.includes(secretText), `plaintext ${secretText.slice(0, 16)}… found in ${h.where}`);
      }
    });
  });
}

/** The whole database as text: `sqlite3 FILE .dump`, or `pg_dump` of the test's schema. */
async function dumpDatabase(world: World): Promise<string> {
  const flags = world.backend.flags;
  if (world.backend.kind === 'sqlite') {
    const dataDir = flags[flags.indexOf('--data-dir') + 1]!;
    const dbs = (await readdir(dataDir)).filter((n) => n.endsWith('.sqlite'));
    assert.ok(dbs.length > 0, `a database file in ${dataDir}`);
    const dumps = await Promise.all(dbs.map((n) => run('sqlite3', [join(dataDir, n), '.dump'], { timeoutMs: 60_000 })));
    for (const d of dumps) assert.equal(d.code, 0, d.stderr);
    return dumps.map((d) => d.stdout).join('\n');
  }
  const schema = flags[flags.indexOf('--database-schema') + 1]!;
  const dump = await run('pg_dump', ['--dbname', PG_URL, '--schema', schema], { timeoutMs: 60_000 });
  assert.equal(dump.code, 0, dump.stderr);
  return dump.stdout;
}
