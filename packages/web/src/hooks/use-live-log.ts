/**
 * A deployment's log, live and paged: the newest page of stored lines first
 * (a log of hundreds of thousands of lines shows its end at once), older
 * pages when the reader asks for them, then each new line as the agent sends
 * it and the deployment's status as it changes, over the log's server-sent
 * event stream, each payload decoded with the protocol's decoders. A dropped
 * stream resumes after the last line seen; lines are kept in seq order
 * without duplicates, and at most MAX_KEPT of them (the oldest are dropped
 * and can be loaded again).
 */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { messageData, openEventStream } from '@drover/client';
import { ApiError, client, wsPath } from '../api/client.js';
import { decodeDeploymentLog, decodeLogStreamLine, decodeLogStreamStatus, LOG_EVENTS, type Deployment, type LogLineJson } from '../api/protocol.js';

/** Lines per page asked of the server (it allows up to 5000). */
const PAGE_LINES = 1000;
/** The most lines kept in memory; past it the oldest are dropped (and can be loaded again). */
const MAX_KEPT = 50_000;

export interface LiveLog {
  lines: LogLineJson[];
  /** The deployment as the stream last reported it (null until it does). */
  deployment: Deployment | null;
  /** True once the server said the log is complete. */
  ended: boolean;
  error: ApiError | null;
  /** Older lines are stored than the first one here. */
  hasOlder: boolean;
  /** An older page is being fetched. */
  loadingOlder: boolean;
  /** Fetches the page before the first line here. */
  loadOlder: () => void;
}

interface State {
  lines: LogLineJson[];
  deployment: Deployment | null;
  ended: boolean;
  error: ApiError | null;
  /** The `before` cursor of the page preceding `lines`, or null. */
  older: number | null;
  loadingOlder: boolean;
}

const EMPTY: State = { lines: [], deployment: null, ended: false, error: null, older: null, loadingOlder: false };

/** `lines` with `more` appended (only seqs past the last), trimmed to MAX_KEPT from the front. */
function appendLines(s: State, more: readonly LogLineJson[]): State {
  const last = s.lines.at(-1)?.seq ?? -1;
  const fresh = more.filter((l) => l.seq > last);
  if (fresh.length === 0) return s;
  const all = s.lines.concat(fresh);
  if (all.length <= MAX_KEPT) return { ...s, lines: all };
  const kept = all.slice(all.length - MAX_KEPT);
  return { ...s, lines: kept, older: kept[0]?.seq ?? null };
}

export function useLiveLog(workspace: string, id: string): LiveLog {
  const [state, setState] = useState<State>(EMPTY);
  const pending = useRef<LogLineJson[]>([]);
  const path = wsPath(workspace, `/deployments/${encodeURIComponent(id)}/log`);

  useEffect(() => {
    setState(EMPTY);
    pending.current = [];
    let lastSeq = -1;
    let frame = 0;
    let stream: { close(): void } | null = null;
    const controller = new AbortController();
    // Lines arrive in bursts; render them once per animation frame.
    const flush = () => {
      frame = 0;
      const batch = pending.current;
      pending.current = [];
      if (batch.length) setState((s) => appendLines(s, batch));
    };
    const follow = () => {
      const opened = openEventStream(
        client,
        path,
        {
          onOpen: () => setState((s) => (s.error ? { ...s, error: null } : s)),
          onError: (error) => setState((s) => ({ ...s, error })),
          onMessage: (m) => {
            if (m.event === LOG_EVENTS.line) {
              const line = messageData(m, decodeLogStreamLine);
              if (line.seq <= lastSeq) return;
              lastSeq = line.seq;
              pending.current.push({ seq: line.seq, time: line.time, stream: line.stream, text: line.text });
              if (!frame) frame = requestAnimationFrame(flush);
            } else if (m.event === LOG_EVENTS.status) {
              const deployment = messageData(m, decodeLogStreamStatus);
              setState((s) => ({ ...s, deployment }));
            } else if (m.event === LOG_EVENTS.end) {
              flush();
              setState((s) => ({ ...s, ended: true }));
              opened.close();
            }
          },
        },
        // Every (re)connect asks for the lines after the last one here.
        { query: () => ({ after: lastSeq }) },
      );
      stream = opened;
    };
    // The newest page first, then the stream from its last line on.
    client
      .request('GET', path, { query: { tail: true, limit: PAGE_LINES }, decode: decodeDeploymentLog, signal: controller.signal })
      .then(
        (page) => {
          lastSeq = page.lines.at(-1)?.seq ?? -1;
          setState((s) => ({ ...appendLines(s, page.lines), older: page.previous }));
        },
        (error: unknown) => {
          if (!controller.signal.aborted && error instanceof ApiError) setState((s) => ({ ...s, error }));
        },
      )
      .finally(() => {
        if (!controller.signal.aborted) follow();
      });
    return () => {
      controller.abort();
      stream?.close();
      if (frame) cancelAnimationFrame(frame);
    };
  }, [path]);

  const loadOlder = useCallback(() => {
    const before = state.older;
    if (before === null || state.loadingOlder) return;
    setState((s) => ({ ...s, loadingOlder: true }));
    client.request('GET', path, { query: { before, limit: PAGE_LINES }, decode: decodeDeploymentLog }).then(
      (page) =>
        setState((s) => {
          const first = s.lines[0]?.seq ?? Infinity;
          const older = page.lines.filter((l) => l.seq < first);
          return { ...s, lines: older.concat(s.lines), older: page.previous, loadingOlder: false };
        }),
      (error: unknown) => setState((s) => ({ ...s, loadingOlder: false, error: error instanceof ApiError ? error : s.error })),
    );
  }, [path, state.older, state.loadingOlder]);

  return {
    lines: state.lines,
    deployment: state.deployment,
    ended: state.ended,
    error: state.error,
    hasOlder: state.older !== null,
    loadingOlder: state.loadingOlder,
    loadOlder,
  };
}
