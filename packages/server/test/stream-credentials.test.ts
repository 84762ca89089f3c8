/**
 * Open event streams end with their credential, on SQLite and PostgreSQL:
 * every stream kind (workspace events, a deployment's log, an activation's
 * events), opened with a token or with a session, stops when the token is
 * revoked or the session signs out, and the reconnect is refused; and a
 * stream never outlives the server's bound on its lifetime.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CSRF_HEADER } from '@drover/protocol';
import { createUser } from '../src/auth/users.js';
import { api, backendCases, storePath, startTestServer, type TestServer } from './support.js';

const PASSWORD = 'a-long-enough-password';
const ENDS_WITHIN_MS = 5000;

type StreamKind = 'workspace events' | 'deployment log' | 'activation events';
const KINDS: readonly StreamKind[] = ['workspace events', 'deployment log', 'activation events'];

interface OpenStream {
  /** Resolves with the text received once the server ends the body, or with null when it is still open after `ms`. */
  endedWithin(ms: number): Promise<string | null>;
  close(): void;
}

/** Opens an event stream and waits for its first bytes (the stream is live). */
async function openStream(url: string, headers: Record<string, string>): Promise<OpenStream> {
  const controller = new AbortController();
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
  assert.equal(res.status, 200, await (res.ok ? Promise.resolve('') : res.text()));
  assert.ok(res.body);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const first = await reader.read();
  text += decoder.decode(first.value, { stream: true });
  const done = (async () => {
    try {
      for (;;) {
        const { value, done: finished } = await reader.read();
        if (finished) return true;
        text += decoder.decode(value, { stream: true });
      }
    } catch {
      // A destroyed socket ends the body with an error: the stream is over either way.
      return true;
    }
  })();
  return {
    async endedWithin(ms) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
      const ended = await Promise.race([done, timeout]);
      clearTimeout(timer);
      return ended ? text : null;
    },
    close: () => controller.abort(),
  };
}

for (const { backend, skip } of await backendCases()) {
  describe(`event streams and their credentials over ${backend}`, { skip }, () => {
    let t: TestServer;
    let admin: string;
    let deploymentId: string;
    let activationId: string;

    before(async () => {
      t = await startTestServer(backend);
      admin = (await t.mint('admin')).token;
      await t.mint('agent', { agent: 'stream-1' });
      // The agent never connects: the deployment stays Pending, so its streams stay open.
      const res = await api(t, 'POST', '/api/v1/activate', { token: admin, body: { agents: { 'stream-1': storePath('stream') } } });
      assert.equal(res.status, 201, res.text);
      activationId = res.json.activationId as string;
      deploymentId = res.json.agents['stream-1'].id as string;
      await createUser(t.db, { name: 'sam', password: PASSWORD, grant: { role: 'viewer', workspace: null } });
    });
    after(async () => {
      await t.close();
    });

    /** The URL of a stream kind, under the token's paths or the named workspace's (a session's). */
    function pathOf(kind: StreamKind, named: boolean): string {
      const base = named ? '/api/v1/workspaces/default' : '/api/v1';
      switch (kind) {
        case 'workspace events':
          // Mounted under the named workspace only; a token names its own.
          return '/api/v1/workspaces/default/events';
        case 'deployment log':
          return `${base}/deployments/${deploymentId}/log`;
        case 'activation events':
          return `${base}/activations/${activationId}/events`;
      }
    }

    async function signIn(): Promise<{ cookie: string; csrf: string }> {
      const res = await api(t, 'POST', '/api/v1/session', { body: { name: 'sam', password: PASSWORD } });
      assert.equal(res.status, 200, res.text);
      return { cookie: String(res.headers['set-cookie']).split(';')[0] ?? '', csrf: String(res.json.csrfToken) };
    }

    for (const kind of KINDS) {
      test(`${kind} opened with a token end when the token is revoked, and the reconnect is refused`, async () => {
        const minted = await t.mint('activate', { description: 'stream reader' });
        const headers = { authorization: `Bearer ${minted.token}` };
        const url = `${t.url}${pathOf(kind, false)}`;
        const stream = await openStream(url, headers);
        try {
          assert.equal(await stream.endedWithin(300), null, 'open while the token is valid');
          const revoked = await api(t, 'DELETE', `/api/v1/tokens/${minted.id}`, { token: admin });
          assert.equal(revoked.status, 204, revoked.text);
          assert.notEqual(await stream.endedWithin(ENDS_WITHIN_MS), null, 'the stream ended after the revocation');
          const again = await fetch(url, { headers: { accept: 'text/event-stream', ...headers } });
          assert.equal(again.status, 401);
          assert.equal(((await again.json()) as { code: string }).code, 'DROVER_ERR_TOKEN_REVOKED');
        } finally {
          stream.close();
        }
      });

      test(`${kind} opened with a session end when it signs out, and the reconnect is refused`, async () => {
        const session = await signIn();
        const url = `${t.url}${pathOf(kind, true)}`;
        const stream = await openStream(url, { cookie: session.cookie });
        // Another session of the same user signing out ends nothing of this one.
        const other = await signIn();
        try {
          const otherOut = await api(t, 'DELETE', '/api/v1/session', { headers: { cookie: other.cookie, [CSRF_HEADER]: other.csrf } });
          assert.equal(otherOut.status, 204, otherOut.text);
          assert.equal(await stream.endedWithin(300), null, 'open while the session is valid');
          const out = await api(t, 'DELETE', '/api/v1/session', { headers: { cookie: session.cookie, [CSRF_HEADER]: session.csrf } });
          assert.equal(out.status, 204, out.text);
          assert.notEqual(await stream.endedWithin(ENDS_WITHIN_MS), null, 'the stream ended after the sign-out');
          const again = await fetch(url, { headers: { accept: 'text/event-stream', cookie: session.cookie } });
          assert.equal(again.status, 401);
          assert.equal(((await again.json()) as { code: string }).code, 'DROVER_ERR_SESSION_EXPIRED');
        } finally {
          stream.close();
        }
      });
    }
  });

  describe(`the lifetime of an event stream over ${backend}`, { skip }, () => {
    let t: TestServer;
    let admin: string;
    let deploymentId: string;

    before(async () => {
      t = await startTestServer(backend, { server: { maxStreamMs: 1000 } });
      admin = (await t.mint('admin')).token;
      await t.mint('agent', { agent: 'stream-2' });
      const res = await api(t, 'POST', '/api/v1/activate', { token: admin, body: { agents: { 'stream-2': storePath('stream') } } });
      assert.equal(res.status, 201, res.text);
      deploymentId = res.json.agents['stream-2'].id as string;
    });
    after(async () => {
      await t.close();
    });

    for (const [kind, path] of [
      ['workspace events', () => '/api/v1/workspaces/default/events'],
      ['deployment log', () => `/api/v1/deployments/${deploymentId}/log`],
    ] as const) {
      test(`${kind}: the server ends the stream after its lifetime, without an end event, so the client reconnects and is checked again`, async () => {
        const started = Date.now();
        const stream = await openStream(`${t.url}${path()}`, { authorization: `Bearer ${admin}` });
        try {
          const text = await stream.endedWithin(ENDS_WITHIN_MS);
          assert.notEqual(text, null, 'the stream ended');
          assert.ok(Date.now() - started >= 900, `ended after ${Date.now() - started} ms`);
          assert.doesNotMatch(text ?? '', /event: end/, 'not the end of the log: the client reconnects');
        } finally {
          stream.close();
        }
      });
    }

    test('a session stream ends when the session expires, even before the lifetime bound', async () => {
      const bounded = await startTestServer(backend, { server: { sessionTtlMs: 800 } });
      try {
        const name = `exp-${randomBytes(3).toString('hex')}`;
        await createUser(bounded.db, { name, password: PASSWORD, grant: { role: 'viewer', workspace: null } });
        const res = await api(bounded, 'POST', '/api/v1/session', { body: { name, password: PASSWORD } });
        assert.equal(res.status, 200, res.text);
        const stream = await openStream(`${bounded.url}/api/v1/workspaces/default/events`, { cookie: String(res.headers['set-cookie']).split(';')[0] ?? '' });
        try {
          assert.notEqual(await stream.endedWithin(ENDS_WITHIN_MS), null, 'the stream ended with the session');
        } finally {
          stream.close();
        }
      } finally {
        await bounded.close();
      }
    });
  });
}
