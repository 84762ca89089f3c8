/**
 * Sign-in limits (issue 12 §5, §6) through a real server on SQLite (the
 * limits live in process memory, not in the database): parallel wrong
 * passwords are counted before they are hashed, so at most the lockout's
 * five are checked; password hashing is bounded, so a static asset download
 * completes while a sign-in flood is still queued; past the queue or the
 * per-address limit a sign-in is refused with its code and Retry-After.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyPassword } from '../src/auth/passwords.js';
import { createUser } from '../src/auth/users.js';
import { startTestServer, type TestServer } from './support.js';

const PASSWORD = 'correct horse battery';

interface Answer {
  readonly status: number;
  readonly code: string | undefined;
  readonly retryAfter: string | null;
}

async function signIn(t: TestServer, name: string, password: string): Promise<Answer> {
  const res = await fetch(`${t.url}/api/v1/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, password }),
  });
  const body: unknown = await res.json();
  const code = typeof body === 'object' && body !== null && 'code' in body && typeof body.code === 'string' ? body.code : undefined;
  return { status: res.status, code, retryAfter: res.headers.get('retry-after') };
}

function count(answers: readonly Answer[], code: string): number {
  return answers.filter((a) => a.code === code).length;
}

/** A password check that takes a while and counts how often it started. */
function slowVerifier(ms: number): { verify: (password: string, stored: string | null) => Promise<boolean>; started: () => number } {
  let started = 0;
  return {
    verify: async () => {
      started += 1;
      await new Promise((r) => setTimeout(r, ms));
      return false;
    },
    started: () => started,
  };
}

/** A password check that waits until `open()` is called and counts how often it started. */
function gatedVerifier(): { verify: (password: string, stored: string | null) => Promise<boolean>; started: () => number; open: () => void } {
  let started = 0;
  let open = () => {};
  const gate = new Promise<void>((resolve) => (open = resolve));
  return {
    verify: async () => {
      started += 1;
      await gate;
      return false;
    },
    started: () => started,
    open: () => open(),
  };
}

describe('sign-in lockout counted before hashing', () => {
  const hasher = slowVerifier(30);
  let t: TestServer;
  before(async () => {
    t = await startTestServer('sqlite', {
      server: { passwordVerifier: hasher.verify, signInConcurrency: 2, signInQueue: 100, signInPerAddress: 100, webRoot: null },
    });
    await createUser(t.db, { name: 'mallory', password: PASSWORD, grant: { role: 'viewer', workspace: null } });
  });
  after(() => t.close());

  test('40 parallel wrong passwords: at most 5 are hashed, the other 35 get 429 with Retry-After', async () => {
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => signIn(t, 'mallory', `guess ${i}`)));
    assert.ok(hasher.started() <= 5, `${hasher.started()} passwords were hashed`);
    assert.equal(count(answers, 'DROVER_ERR_BAD_CREDENTIALS'), hasher.started());
    assert.equal(count(answers, 'DROVER_ERR_TOO_MANY_ATTEMPTS'), 40 - hasher.started());
    for (const a of answers.filter((x) => x.code === 'DROVER_ERR_TOO_MANY_ATTEMPTS')) {
      assert.equal(a.status, 429);
      assert.match(a.retryAfter ?? '', /^\d+$/);
    }
  });
});

describe('sign-ins past the hashing queue or the per-address limit', () => {
  test('a full queue answers 503 DROVER_ERR_SIGN_IN_BUSY with Retry-After, having hashed nothing more', async () => {
    const hasher = gatedVerifier();
    const t = await startTestServer('sqlite', {
      server: { passwordVerifier: hasher.verify, signInConcurrency: 1, signInQueue: 3, signInPerAddress: 100, webRoot: null },
    });
    try {
      // Distinct names: the per-name lockout stays out of the way. The hash of the first
      // holds until the eight past the queue are answered, however slowly the requests arrive.
      let answered = 0;
      const pending = Array.from({ length: 12 }, (_, i) => signIn(t, `nobody-${i}`, 'wrong password').finally(() => (answered += 1)));
      for (let i = 0; i < 200 && answered < 8; i++) await new Promise((r) => setTimeout(r, 25));
      hasher.open();
      const answers = await Promise.all(pending);
      assert.equal(count(answers, 'DROVER_ERR_BAD_CREDENTIALS'), 4, 'one hashing and three waiting');
      assert.equal(count(answers, 'DROVER_ERR_SIGN_IN_BUSY'), 8);
      assert.equal(hasher.started(), 4);
      const busy = answers.find((a) => a.code === 'DROVER_ERR_SIGN_IN_BUSY');
      assert.ok(busy);
      assert.equal(busy.status, 503);
      assert.equal(busy.retryAfter, '1');
    } finally {
      await t.close();
    }
  });

  test('one address past sign_in_per_address gets 429 DROVER_ERR_TOO_MANY_SIGN_INS with Retry-After', async () => {
    const hasher = slowVerifier(50);
    const t = await startTestServer('sqlite', {
      server: { passwordVerifier: hasher.verify, signInConcurrency: 1, signInQueue: 100, signInPerAddress: 2, webRoot: null },
    });
    try {
      const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => signIn(t, `nobody-${i}`, 'wrong password')));
      assert.equal(count(answers, 'DROVER_ERR_BAD_CREDENTIALS'), 2);
      assert.equal(count(answers, 'DROVER_ERR_TOO_MANY_SIGN_INS'), 8);
      assert.equal(hasher.started(), 2);
      const refused = answers.find((a) => a.code === 'DROVER_ERR_TOO_MANY_SIGN_INS');
      assert.ok(refused);
      assert.equal(refused.status, 429);
      assert.equal(refused.retryAfter, '1');
    } finally {
      await t.close();
    }
  });
});

describe('a sign-in flood does not stall file downloads', () => {
  const FLOOD = 40;
  let started = 0;
  let t: TestServer;
  let webRoot: string;
  before(async () => {
    webRoot = await mkdtemp(join(tmpdir(), 'drover-web-root-'));
    await mkdir(join(webRoot, 'assets'));
    await writeFile(join(webRoot, 'index.html'), '<!doctype html><title>Drover UI</title>');
    await writeFile(join(webRoot, 'assets', 'big-1234.js'), Buffer.alloc(4 * 1024 * 1024, 'x'));
    // Real scrypt, counted when each hash starts.
    const verify = (password: string, stored: string | null): Promise<boolean> => {
      started += 1;
      return verifyPassword(password, stored);
    };
    t = await startTestServer('sqlite', { server: { passwordVerifier: verify, signInConcurrency: 1, signInQueue: 1000, signInPerAddress: 1000, webRoot } });
  });
  after(async () => {
    await t.close();
    await rm(webRoot, { recursive: true, force: true });
  });

  test(`an asset download completes while most of ${FLOOD} parallel sign-ins still wait for a hash`, async () => {
    const flood = Promise.all(Array.from({ length: FLOOD }, (_, i) => signIn(t, `nobody-${i}`, 'wrong password')));
    while (started === 0) await new Promise((r) => setTimeout(r, 5));
    const res = await fetch(`${t.url}/assets/big-1234.js`);
    assert.equal(res.status, 200);
    assert.equal((await res.arrayBuffer()).byteLength, 4 * 1024 * 1024);
    const startedWhenDownloaded = started;
    const answers = await flood;
    assert.ok(startedWhenDownloaded < FLOOD / 2, `the download finished after ${startedWhenDownloaded} of ${FLOOD} hashes had started`);
    assert.equal(count(answers, 'DROVER_ERR_BAD_CREDENTIALS'), FLOOD, 'every queued sign-in was answered');
  });
});
