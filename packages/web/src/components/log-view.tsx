/**
 * A deployment log: one row per line with its time and stream (the agent's
 * own lines, the commands' stdout and stderr), following the end while the
 * reader is at the bottom.
 */
import { useLayoutEffect, useRef } from 'preact/hooks';
import type { LogLineJson } from '../api/protocol.js';

function clock(iso: string): string {
  return iso.slice(11, 19);
}

export function LogView({ lines, live }: { lines: LogLineJson[]; live: boolean }) {
  const box = useRef<HTMLDivElement>(null);
  const following = useRef(true);

  useLayoutEffect(() => {
    const el = box.current;
    if (el && following.current) el.scrollTop = el.scrollHeight;
  }, [lines.length]);

  return (
    <div
      class="log"
      ref={box}
      tabIndex={0}
      role="log"
      aria-live={live ? 'polite' : 'off'}
      aria-label="Deployment log"
      data-testid="log"
      onScroll={(e) => {
        const el = e.currentTarget;
        following.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
      }}
    >
      {lines.length === 0 ? <div class="log-line log-empty">No log lines yet.</div> : null}
      {lines.map((l) => (
        <div key={l.seq} class={`log-line log-${l.stream}`} data-seq={l.seq}>
          <span class="log-time" title={l.time}>
            {clock(l.time)}
          </span>
          <span class="log-text">{l.text}</span>
        </div>
      ))}
    </div>
  );
}
