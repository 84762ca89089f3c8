/** An API error as the user reads it: the message, the hint, each detail, and the code for searching docs/errors.md. */
import type { ApiError } from '../api/client.js';

export function ErrorBox({ error, title }: { error: ApiError | null | undefined; title?: string }) {
  if (!error) return null;
  // Validation errors often repeat their one detail in the message; list details only when they add something.
  const details = error.details.filter((d) => !error.message.includes(d.message));
  return (
    <div class="error-box" role="alert">
      <p class="error-message">
        {title ? <strong>{title}: </strong> : null}
        {error.message}
      </p>
      {details.length ? (
        <ul class="error-details">
          {details.map((d) => (
            <li key={d.path + (d.code ?? '')}>
              {d.path ? <code>{d.path}</code> : null} {d.message}
            </li>
          ))}
        </ul>
      ) : null}
      {error.hint ? <p class="error-hint">{error.hint}</p> : null}
      <p class="error-code">{error.code}</p>
    </div>
  );
}
