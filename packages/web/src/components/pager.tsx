/** Previous/next through a server-paged list, with "51–100 of 10,000". */
import { count } from '../format.js';

export function Pager({
  offset,
  limit,
  shown,
  total,
  onOffset,
}: {
  offset: number;
  limit: number;
  shown: number;
  total: number | undefined;
  onOffset: (offset: number) => void;
}) {
  const hasNext = total === undefined ? shown === limit : offset + shown < total;
  if (offset === 0 && !hasNext) return null;
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" class="button small" disabled={offset === 0} onClick={() => onOffset(Math.max(0, offset - limit))}>
        ← Previous
      </button>
      <span class="muted">
        {shown ? `${count(offset + 1)}–${count(offset + shown)}` : '0'}
        {total !== undefined ? ` of ${count(total)}` : ''}
      </span>
      <button type="button" class="button small" disabled={!hasNext} onClick={() => onOffset(offset + limit)}>
        Next →
      </button>
    </nav>
  );
}
