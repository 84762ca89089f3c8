/**
 * /w/:ws/secrets — the workspace's secrets, read-only for every role: name,
 * target agents (flagged when an agent's recipient changed since), path,
 * owner, mode, version and who changed it when. Never a secret's contents:
 * the API has no ciphertext to give, and secrets are set with
 * `drover secret set`, which encrypts on the user's machine.
 */
import { api, wsPath } from '../api/client.js';
import type { Secret } from '../api/protocol.js';
import { CopyBlock } from '../components/copy.js';
import { ErrorBox } from '../components/error-box.js';
import { EmptyState, Loading, PageHeader } from '../components/layout.js';
import { Time } from '../components/time.js';
import { useResource } from '../hooks/use-resource.js';
import { Link, uiPath } from '../router.js';
import { useWorkspace } from '../workspace.js';

function modeText(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`;
}

export function SecretsPage() {
  const ws = useWorkspace();
  const list = useResource((signal) => api.get<{ secrets: Secret[] }>(wsPath(ws.name, '/secrets'), { signal }), [ws.name]);
  const secrets = list.data?.secrets;
  const setCommand = `drover secret set NAME --agent AGENT --file ./FILE --server ${window.location.origin}`;
  return (
    <main class="page">
      <PageHeader
        title="Secrets"
        pageTitle={`Secrets — ${ws.name}`}
        sub="Encrypted with age on the machine that sets them, to each target agent's recipient; the server holds ciphertext only and never shows it."
      />
      <ErrorBox error={list.error} />
      {!secrets ? (
        list.error ? null : (
          <Loading what="secrets" />
        )
      ) : secrets.length === 0 ? (
        <EmptyState title="No secrets yet">
          <p>{ws.canDeploy ? 'Set one from your machine (it is encrypted there):' : 'A deployer or admin sets them from their machine:'}</p>
          <CopyBlock text={setCommand} label="Command to set a secret" testId="secret-set-command" />
        </EmptyState>
      ) : (
        <div class="table-wrap">
          <table class="table" data-testid="secrets-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Targets</th>
                <th scope="col" class="wide-only">
                  Path
                </th>
                <th scope="col" class="wide-only">
                  Owner
                </th>
                <th scope="col">Mode</th>
                <th scope="col" class="wide-only">
                  Version
                </th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {secrets.map((s) => (
                <tr key={s.name} data-testid={`secret-${s.name}`}>
                  <td>
                    <code>{s.name}</code>
                  </td>
                  <td>
                    {s.targets.map((t, i) => (
                      <span key={t.agent}>
                        {i > 0 ? ', ' : null}
                        <Link href={uiPath(ws.name, 'agents', t.agent)}>{t.agent}</Link>
                        {t.recipientChanged ? (
                          <span class="dry-tag" title="This agent's recipient changed since the secret was set: it cannot decrypt it; set the secret again">
                            recipient changed
                          </span>
                        ) : null}
                      </span>
                    ))}
                  </td>
                  <td class="wide-only">
                    <code>{s.path}</code>
                  </td>
                  <td class="wide-only">
                    {s.owner ?? <span class="muted">agent's user</span>}
                    {s.group ? `:${s.group}` : null}
                  </td>
                  <td>
                    <code>{modeText(s.mode)}</code>
                  </td>
                  <td class="wide-only">{s.version}</td>
                  <td>
                    <Time iso={s.updatedAt} />
                    {s.updatedBy ? <span class="muted"> by {s.updatedBy.label}</span> : null}
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
