/**
 * /w/:ws/tokens (admins) — the workspace's tokens: create one (its secret is
 * shown once, with a ready command line), see when each was last used and
 * which agent tokens are unbound, and revoke it, which takes effect at once.
 */
import { useState } from 'preact/hooks';
import { api, wsPath } from '../api/client.js';
import { TOKEN_KINDS, type TokenCreated, type TokenInfo, type TokenKind } from '../api/protocol.js';
import { activateCommand, agentCommand, pushCommand } from '../commands.js';
import { ConfirmButton } from '../components/confirm-button.js';
import { CopyBlock } from '../components/copy.js';
import { ErrorBox } from '../components/error-box.js';
import { EmptyState, Loading, PageHeader } from '../components/layout.js';
import { Time } from '../components/time.js';
import { useAction } from '../hooks/use-action.js';
import { useResource } from '../hooks/use-resource.js';
import { useLocation } from '../router.js';
import { useSession } from '../session.js';
import { useWorkspace } from '../workspace.js';

const KIND_HELP: Record<TokenKind, string> = {
  agent: 'held by one machine running drover agent, bound to its agent name',
  activate: 'for CI: starts deployments and reads agents, deployments and logs',
  admin: 'everything in this workspace, including tokens and settings',
  push: "for CI: uploads store paths to the workspace's built-in binary caches (nix copy or drover push)",
  pull: "reads the workspace's private built-in binary caches (a netrc password for nix)",
};

export function TokensPage() {
  const ws = useWorkspace();
  const list = useResource((signal) => api.get<{ tokens: TokenInfo[] }>(wsPath(ws.name, '/tokens'), { signal }), [ws.name]);
  const [created, setCreated] = useState<TokenCreated | null>(null);
  const revoke = useAction(async (id: string) => {
    await api.del(wsPath(ws.name, `/tokens/${encodeURIComponent(id)}`));
    list.reload();
  });

  const tokens = list.data?.tokens;
  return (
    <main class="page">
      <PageHeader title="Tokens" sub="Tokens are shown once when created and stored only as hashes. Revoking one takes effect at once." />
      {ws.canAdmin ? (
        <CreateTokenForm
          onCreated={(t) => {
            setCreated(t);
            list.setData((prev) => ({ tokens: [t.info, ...(prev?.tokens ?? []).filter((x) => x.id !== t.info.id)] }));
            list.reload();
          }}
        />
      ) : null}
      {created ? <NewTokenSecret created={created} onDone={() => setCreated(null)} /> : null}
      <h2>All tokens</h2>
      <ErrorBox error={list.error ?? revoke.error} />
      {!tokens ? (
        list.error ? null : (
          <Loading what="tokens" />
        )
      ) : tokens.length === 0 ? (
        <EmptyState title="No tokens yet">
          <p>Create an agent token above for each machine, and an activate token for CI.</p>
        </EmptyState>
      ) : (
        <div class="table-wrap">
          <table class="table" data-testid="tokens-table">
            <thead>
              <tr>
                <th scope="col">Description</th>
                <th scope="col">Kind</th>
                <th scope="col" class="wide-only">
                  Agent
                </th>
                <th scope="col" class="wide-only">
                  ID
                </th>
                <th scope="col" class="wide-only">
                  Created
                </th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {tokens.map((t) => (
                <tr key={t.id} data-token={t.id} class={t.revokedAt ? 'revoked' : ''}>
                  <th scope="row">{t.description || <span class="muted">no description</span>}</th>
                  <td>
                    <span class={`kind kind-${t.kind}`}>{t.kind}</span>
                  </td>
                  <td class="wide-only mono">
                    <AgentBinding token={t} />
                  </td>
                  <td class="wide-only mono">{t.id}</td>
                  <td class="wide-only">
                    <Time iso={t.createdAt} />
                  </td>
                  <td>{t.lastUsedAt ? <Time iso={t.lastUsedAt} /> : <span class="muted">never</span>}</td>
                  <td class="actions-cell">
                    {t.revokedAt ? (
                      <span class="muted">
                        revoked <Time iso={t.revokedAt} />
                      </span>
                    ) : !ws.canAdmin ? null : (
                      <ConfirmButton label="Revoke" confirmLabel="Revoke now" disabled={revoke.running} onConfirm={() => void revoke.run(t.id)} />
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </main>
  );
}

/** The Agent cell: the bound name, or a warning that the token is unbound. */
function AgentBinding({ token }: { token: TokenInfo }) {
  if (token.agent !== null) return <span data-binding="bound">{token.agent}</span>;
  if (token.agentBinding === 'claim') {
    return (
      <span class="badge warn" data-binding="claim" title="created --unbound: the first agent to connect with it claims its name, and it is bound from then on">
        unbound: first connection claims
      </span>
    );
  }
  if (token.agentBinding === 'any') {
    return (
      <span
        class="badge danger"
        data-binding="any"
        title="an unbound token from before bound tokens were the default: it can connect under any agent name in this workspace; replace it with bound tokens"
      >
        unbound: any agent name
      </span>
    );
  }
  return <span class="muted">-</span>;
}

function CreateTokenForm({ onCreated }: { onCreated: (t: TokenCreated) => void }) {
  const ws = useWorkspace();
  const { query } = useLocation();
  const initialKind = (TOKEN_KINDS as readonly string[]).includes(query.get('new') ?? '') ? (query.get('new') as TokenKind) : 'agent';
  const [kind, setKind] = useState<TokenKind>(initialKind);
  const [agent, setAgent] = useState('');
  const [unbound, setUnbound] = useState(false);
  const [description, setDescription] = useState('');
  const create = useAction(async () => {
    const binding = kind !== 'agent' ? {} : unbound ? { unbound: true } : agent.trim() ? { agent: agent.trim() } : {};
    const body = { kind, ...binding, ...(description.trim() ? { description: description.trim() } : {}) };
    onCreated(await api.post<TokenCreated>(wsPath(ws.name, '/tokens'), body));
    setAgent('');
    setDescription('');
  });
  return (
    <form
      class="card"
      aria-label="Create a token"
      onSubmit={(e) => {
        e.preventDefault();
        void create.run();
      }}
    >
      <h2>New token</h2>
      <div class="row wrap">
        <label class="field">
          <span>Kind</span>
          <select name="kind" value={kind} onChange={(e) => setKind(e.currentTarget.value as TokenKind)}>
            {TOKEN_KINDS.map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </label>
        {kind === 'agent' ? (
          <>
            <label class="field">
              <span>Agent name</span>
              <input
                name="agent"
                placeholder="web-1"
                maxLength={64}
                required={!unbound}
                disabled={unbound}
                value={agent}
                onInput={(e) => setAgent(e.currentTarget.value)}
              />
            </label>
            <label class="check">
              <input type="checkbox" name="unbound" checked={unbound} onChange={(e) => setUnbound(e.currentTarget.checked)} />
              <span>Unbound (fleet enrolment: the first machine to connect claims its name)</span>
            </label>
          </>
        ) : null}
        <label class="field grow">
          <span>Description</span>
          <input
            name="description"
            placeholder="what holds it, e.g. web-1 in rack 3"
            maxLength={256}
            value={description}
            onInput={(e) => setDescription(e.currentTarget.value)}
          />
        </label>
        <button type="submit" class="button primary" disabled={create.running}>
          Create token
        </button>
      </div>
      <p class="help">
        <strong>{kind}</strong>: {KIND_HELP[kind]}.
        {kind === 'agent'
          ? unbound
            ? ' Unbound, it is bound to the name of the first agent that connects with it; hand each one to a single machine.'
            : ' Bound to a name, the agent is known at once and can be deployed to before it first connects.'
          : ''}
      </p>
      <ErrorBox error={create.error} />
    </form>
  );
}

function NewTokenSecret({ created, onDone }: { created: TokenCreated; onDone: () => void }) {
  const { info } = useSession();
  const { token, info: t } = created;
  const command =
    t.kind === 'agent'
      ? agentCommand(token, t.agent ?? 'NAME', info.publicUrl)
      : t.kind === 'activate'
        ? activateCommand(token, info.publicUrl)
        : t.kind === 'push'
          ? pushCommand(token, info.publicUrl)
          : null;
  return (
    <section class="card secret" aria-labelledby="new-token-title" data-testid="new-token">
      <h2 id="new-token-title">
        New {t.kind} token{t.description ? `: ${t.description}` : ''}
      </h2>
      <p>Copy it now: it is not shown again. Revoke it below if it leaks.</p>
      <CopyBlock text={token} label="Token" testId="new-token-secret" />
      {command ? (
        <>
          <p>
            {t.kind === 'agent'
              ? `On the machine${t.agent ? '' : ' (replace NAME with the agent name)'}:`
              : t.kind === 'push'
                ? 'In CI (replace CACHE with the cache name):'
                : 'In CI, with deploy.json next to it:'}
          </p>
          <CopyBlock text={command} label="Command" testId="new-token-command" />
        </>
      ) : null}
      <button type="button" class="button" onClick={onDone}>
        Done, I copied it
      </button>
    </section>
  );
}
