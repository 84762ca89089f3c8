/**
 * The workspace's built-in binary caches on the settings page: what agents
 * substitute from when no external cache is set (the oldest built-in one),
 * each cache's substituter URL and public key to copy, and — for admins — a
 * form to create one. The server holds every cache's signing key.
 */
import { useState } from 'preact/hooks';
import { api, wsPath } from '../api/client.js';
import type { CacheInfo, Workspace } from '../api/protocol.js';
import { bytes, count } from '../format.js';
import { useAction } from '../hooks/use-action.js';
import { useResource } from '../hooks/use-resource.js';
import { useWorkspace } from '../workspace.js';
import { CopyButton } from './copy.js';
import { ErrorBox } from './error-box.js';

function whatAgentsUse(workspace: Workspace, caches: readonly CacheInfo[]): string {
  if (workspace.cache) return 'Agents use the external cache set above; built-in caches serve CI and anyone with a pull token.';
  if (caches[0]) return `Agents use the built-in cache ${caches[0].name} (the oldest) with their own token — nothing to configure.`;
  return 'There is no built-in cache yet: create one, push to it from CI, and agents use it without any setting.';
}

export function BuiltinCaches({ workspace }: { workspace: Workspace }) {
  const ws = useWorkspace();
  const caches = useResource((signal) => api.get<{ caches: CacheInfo[] }>(wsPath(ws.name, '/caches'), { signal }), [ws.name]);
  const list = caches.data?.caches ?? [];
  return (
    <section class="card" aria-labelledby="builtin-title" data-testid="builtin-caches">
      <h2 id="builtin-title">Built-in caches</h2>
      <ErrorBox error={caches.error} />
      {caches.data ? <p class="help">{whatAgentsUse(workspace, list)}</p> : null}
      {list.length > 0 ? (
        <div class="table-wrap">
          <table class="table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Substituter</th>
                <th>Public key</th>
                <th>Paths</th>
                <th>NARs</th>
              </tr>
            </thead>
            <tbody>
              {list.map((c) => (
                <tr key={c.name}>
                  <td>
                    <strong>{c.name}</strong> {c.public ? <span class="kind">public</span> : null}
                  </td>
                  <td>
                    <code>{c.substituter}</code> <CopyButton text={c.substituter} />
                  </td>
                  <td>
                    <code>{c.publicKey.split(':')[0]}</code> <CopyButton text={c.publicKey} label="Copy key" />
                  </td>
                  <td>{count(c.paths)}</td>
                  <td>{bytes(c.narBytes)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {ws.canAdmin ? <NewCacheForm onCreated={() => caches.reload()} /> : null}
    </section>
  );
}

function NewCacheForm({ onCreated }: { onCreated: () => void }) {
  const ws = useWorkspace();
  const [name, setName] = useState('');
  const [isPublic, setPublic] = useState(false);
  const create = useAction(async () => {
    await api.post<CacheInfo>(wsPath(ws.name, '/caches'), { name: name.trim(), public: isPublic });
    setName('');
    onCreated();
  });
  return (
    <form
      class="row"
      onSubmit={(e) => {
        e.preventDefault();
        void create.run();
      }}
    >
      <label class="field">
        <span>New cache name</span>
        <input name="cacheName" required placeholder="main" value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </label>
      <label class="check">
        <input type="checkbox" checked={isPublic} onChange={(e) => setPublic(e.currentTarget.checked)} /> readable without a token
      </label>
      <button type="submit" class="button" disabled={create.running}>
        Create cache
      </button>
      <ErrorBox error={create.error} />
    </form>
  );
}
