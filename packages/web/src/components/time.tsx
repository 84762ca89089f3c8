/**
 * A time in the browser's time zone: relative to now ("3 min. ago") with the
 * exact local time, its date and zone label on hover, or (`exact`) the exact
 * local time shown ("2025-11-25 19:42:07 GMT+9") with the relative one after it.
 */
import { exactTime, relativeTime } from '../format.js';
import { useNow } from '../hooks/use-now.js';

export function Time({ iso, exact = false }: { iso: string | null | undefined; exact?: boolean }) {
  const now = useNow();
  if (!iso) return <span class="muted">—</span>;
  if (exact) {
    return (
      <time dateTime={iso} title={`${relativeTime(iso, now)} · ${iso}`} data-testid="exact-time">
        {exactTime(iso)} <span class="muted">({relativeTime(iso, now)})</span>
      </time>
    );
  }
  return (
    <time dateTime={iso} title={exactTime(iso)}>
      {relativeTime(iso, now)}
    </time>
  );
}
