/**
 * A button that asks once more in place ("Revoke" → "Revoke now" + "Keep"),
 * without a modal dialog: destructive actions and ones that start
 * deployments (Re-run, Re-deploy, Cancel). `kind` styles both buttons.
 */
import { useState } from 'preact/hooks';

export function ConfirmButton({
  label,
  confirmLabel,
  onConfirm,
  disabled,
  kind = 'small-danger',
  title,
}: {
  label: string;
  confirmLabel: string;
  onConfirm: () => void;
  disabled?: boolean | undefined;
  /** small-danger: a quiet small button (table rows); danger or primary: a page action. */
  kind?: 'small-danger' | 'danger' | 'primary';
  title?: string | undefined;
}) {
  const [asking, setAsking] = useState(false);
  const size = kind === 'small-danger' ? ' small' : '';
  if (!asking) {
    const look = kind === 'small-danger' ? 'danger-quiet' : kind === 'danger' ? 'danger' : 'primary';
    return (
      <button type="button" class={`button${size} ${look}`} disabled={disabled} title={title} onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  }
  return (
    <span class="confirm" data-testid="confirm">
      <button
        type="button"
        class={`button${size} ${kind === 'primary' ? 'primary' : 'danger'}`}
        autoFocus
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
      >
        {confirmLabel}
      </button>
      <button type="button" class={`button${size} quiet`} onClick={() => setAsking(false)}>
        Keep
      </button>
    </span>
  );
}
