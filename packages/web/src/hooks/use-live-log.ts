/**
 * A deployment's log, live: the stored lines first, then each new line as the
 * agent sends it, and the deployment's status as it changes, over the log's
 * server-sent event stream. A dropped stream resumes after the last line
 * seen; lines are kept in seq order without duplicates.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { apiUrl, wsPath, type ApiError } from '../api/client.js';
import { messageData, openEventStream } from '../api/event-stream.js';
import { LOG_EVENTS, type Deployment, type LogLineJson } from '../api/protocol.js';

export interface LiveLog {
  lines: LogLineJson[];
  /** The deployment as the stream last reported it (null until it does). */
  deployment: Deployment | null;
  /** True once the server said the log is complete. */
  ended: boolean;
  error: ApiError | null;
}

export function useLiveLog(workspace: string, id: string): LiveLog {
  const [state, setState] = useState<LiveLog>({ lines: [], deployment: null, ended: false, error: null });
  const pending = useRef<LogLineJson[]>([]);

  useEffect(() => {
    setState({ lines: [], deployment: null, ended: false, error: null });
    pending.current = [];
    let lastSeq = -1;
    let frame = 0;
    // Lines arrive in bursts; render them once per animation frame.
    const flush = () => {
      frame = 0;
      const batch = pending.current;
      pending.current = [];
      if (batch.length) setState((s) => ({ ...s, lines: s.lines.concat(batch) }));
    };
    const stream = openEventStream(() => apiUrl(wsPath(workspace, `/deployments/${id}/log`), { after: lastSeq >= 0 ? lastSeq : undefined }), {
      onOpen: () => setState((s) => (s.error ? { ...s, error: null } : s)),
      onError: (error) => setState((s) => ({ ...s, error })),
      onMessage: (m) => {
        const data = messageData(m);
        if (data === undefined) return;
        if (m.event === LOG_EVENTS.line) {
          const line = data as LogLineJson;
          if (line.seq <= lastSeq) return;
          lastSeq = line.seq;
          pending.current.push({ seq: line.seq, time: line.time, stream: line.stream, text: line.text });
          if (!frame) frame = requestAnimationFrame(flush);
        } else if (m.event === LOG_EVENTS.status) {
          setState((s) => ({ ...s, deployment: data as Deployment }));
        } else if (m.event === LOG_EVENTS.end) {
          flush();
          const final = isDeployment(data) ? data : null;
          setState((s) => ({ ...s, ended: true, deployment: final ?? s.deployment }));
          stream.close();
        }
      },
    });
    return () => {
      stream.close();
      if (frame) cancelAnimationFrame(frame);
    };
  }, [workspace, id]);

  return state;
}

function isDeployment(data: unknown): data is Deployment {
  return typeof data === 'object' && data !== null && typeof (data as { id?: unknown }).id === 'string' && typeof (data as { status?: unknown }).status === 'string';
}
