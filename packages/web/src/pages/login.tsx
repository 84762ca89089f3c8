/** Sign in with a local account (created on the server with `drover user create`). */
import { useState } from 'preact/hooks';
import { ErrorBox } from '../components/error-box.js';
import { useAction } from '../hooks/use-action.js';
import { useTitle } from '../hooks/use-title.js';
import { navigate, useLocation } from '../router.js';
import { useSession } from '../session.js';

/** Only same-site paths are followed after sign-in. */
function safeNext(next: string | null): string {
  return next && next.startsWith('/') && !next.startsWith('//') ? next : '/';
}

export function LoginPage() {
  const { signIn, session } = useSession();
  useTitle('Sign in');
  const { query } = useLocation();
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const next = safeNext(query.get('next'));
  const submit = useAction(async () => {
    await signIn(name.trim(), password);
    navigate(next, { replace: true });
  });

  return (
    <main class="login">
      <form
        class="card login-card"
        onSubmit={(e) => {
          e.preventDefault();
          void submit.run();
        }}
      >
        <h1>Sign in to Drover</h1>
        {session ? (
          <p class="sub">
            Signed in as <strong>{session.user.name}</strong>. <a href="/">Continue</a>
          </p>
        ) : null}
        <label class="field">
          <span>User name</span>
          <input name="name" autoComplete="username" required autoFocus value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label class="field">
          <span>Password</span>
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        <ErrorBox error={submit.error} />
        <button type="submit" class="button primary" disabled={submit.running}>
          {submit.running ? 'Signing in…' : 'Sign in'}
        </button>
        <p class="help">
          No account? An administrator creates one on the server with <code>drover user create NAME --role viewer</code>.
        </p>
      </form>
    </main>
  );
}
