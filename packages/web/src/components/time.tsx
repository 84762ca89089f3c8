/** A time shown relative to now ("3 min. ago") with the exact UTC time on hover and for screen readers. */
import { exactTime, relativeTime } from '../format.js';
import { useNow } from '../hooks/use-now.js';

export function Time({ iso }: { iso: string | null | undefined }) {
  const now = useNow();
  if (!iso) return <span class="muted">—</span>;
  return (
    <time dateTime={iso} title={exactTime(iso)}>
      {relativeTime(iso, now)}
    </time>
  );
}
