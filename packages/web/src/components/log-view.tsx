/**
 * A deployment log: one row per line with its time (the browser's zone; date
 * and zone on hover), its text with ANSI colours (AnsiText) and stream (the agent's
 * own lines, the commands' stdout and stderr), following the end while the
 * reader is at the bottom. However many lines it is given, at most WINDOW
 * rows are in the document: the rows around the visible part, between two
 * spacers as tall as the rows left out (from the measured row height), so
 * scrolling stays smooth through hundreds of thousands of lines. Older pages
 * are loaded with the button at the top.
 */
import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { LogLineJson } from '../api/protocol.js';
import { exactTime, localClock } from '../format.js';
import { AnsiText } from './ansi-text.js';

/** The most rows in the document at once. */
const WINDOW = 600;
/** The window moves once the visible rows come this close to its edge. */
const MARGIN = 150;
/** The row height assumed until one is measured, in pixels. */
const DEFAULT_ROW_PX = 19;

/** The index of the first line with seq ≥ `seq` (lines are in seq order). */
function indexOfSeq(lines: readonly LogLineJson[], seq: number): number {
  let lo = 0;
  let hi = lines.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((lines[mid]?.seq ?? Infinity) < seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface LogViewProps {
  lines: LogLineJson[];
  live: boolean;
  /** Older lines are stored than the first one given. */
  hasOlder?: boolean | undefined;
  loadingOlder?: boolean | undefined;
  onLoadOlder?: (() => void) | undefined;
}

export function LogView({ lines, live, hasOlder = false, loadingOlder = false, onLoadOlder }: LogViewProps) {
  const box = useRef<HTMLDivElement>(null);
  const following = useRef(true);
  const rowPx = useRef(DEFAULT_ROW_PX);
  /** The seq of the first row in the document while the reader is not following the end. */
  const [anchor, setAnchor] = useState<number | null>(null);
  const rendered = useRef<{ first: number; firstSeq: number | null }>({ first: 0, firstSeq: null });

  const lastStart = Math.max(0, lines.length - WINDOW);
  const first = following.current || anchor === null ? lastStart : Math.min(indexOfSeq(lines, anchor), lastStart);
  const end = Math.min(lines.length, first + WINDOW);

  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    const rows = el.querySelectorAll<HTMLElement>('.log-line[data-seq]');
    const top = rows[0];
    const bottom = rows[rows.length - 1];
    if (top && bottom && rows.length > 1) rowPx.current = Math.max(1, (bottom.offsetTop + bottom.offsetHeight - top.offsetTop) / rows.length);
    if (following.current) {
      el.scrollTop = el.scrollHeight;
    } else {
      // Lines added or dropped above the rows shown: keep the same rows in view.
      const before = rendered.current;
      const moved = before.firstSeq === lines[first]?.seq ? first - before.first : 0;
      if (moved !== 0) el.scrollTop += moved * rowPx.current;
    }
    rendered.current = { first, firstSeq: lines[first]?.seq ?? null };
  }, [lines, first]);

  const onScroll = (el: HTMLDivElement) => {
    const wasFollowing = following.current;
    following.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
    const topSpacer = first * rowPx.current;
    const visibleFirst = Math.floor((el.scrollTop - topSpacer) / rowPx.current) + first;
    const visibleCount = Math.ceil(el.clientHeight / rowPx.current);
    const nearTop = visibleFirst < first + MARGIN && first > 0;
    const nearBottom = visibleFirst + visibleCount > end - MARGIN && end < lines.length;
    if (following.current) {
      if (!wasFollowing) setAnchor(null);
    } else if (wasFollowing || nearTop || nearBottom || anchor === null) {
      const start = Math.max(0, Math.min(lastStart, Math.round(visibleFirst - (WINDOW - visibleCount) / 2)));
      setAnchor(lines[start]?.seq ?? null);
    }
  };

  return (
    <div
      class="log"
      ref={box}
      tabIndex={0}
      role="log"
      aria-live={live ? 'polite' : 'off'}
      aria-label="Deployment log"
      data-testid="log"
      data-lines={lines.length}
      onScroll={(e) => onScroll(e.currentTarget)}
    >
      {hasOlder ? (
        <div class="log-older">
          <button type="button" class="button small" disabled={loadingOlder} onClick={() => onLoadOlder?.()}>
            {loadingOlder ? 'Loading older lines…' : 'Load older lines'}
          </button>
        </div>
      ) : null}
      {lines.length === 0 ? <div class="log-line log-empty">No log lines yet.</div> : null}
      <div class="log-spacer" style={{ height: `${first * rowPx.current}px` }} aria-hidden="true" />
      {lines.slice(first, end).map((l) => (
        <div key={l.seq} class={`log-line log-${l.stream}`} data-seq={l.seq}>
          <span class="log-time" title={exactTime(l.time)}>
            {localClock(l.time)}
          </span>
          <span class="log-text">
            <AnsiText text={l.text} />
          </span>
        </div>
      ))}
      <div class="log-spacer" style={{ height: `${(lines.length - end) * rowPx.current}px` }} aria-hidden="true" />
    </div>
  );
}
