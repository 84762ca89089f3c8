/**
 * A deployment's log, live: the stored lines first, then each new line as the
 * agent sends it, and the deployment's status as it changes, over the log's
 * server-sent event stream, each event's data decoded with the protocol's
 * decoders. A dropped stream resumes after the last line seen (Last-Event-ID);
 * lines are kept in seq order without duplicates.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { messageData, openEventStream } from '@drover/client';
import { client, wsPath, type ApiError } from '../api/client.js';
import { decodeLogStreamLine, decodeLogStreamStatus, LOG_EVENTS, type Deployment, type LogLineJson } from '../api/protocol.js';

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
    const stream = openEventStream(
      client,
      wsPath(workspace, `/deployments/${id}/log`),
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
            stream.close();
          }
        },
      },
      { resume: true },
    );
    return () => {
      stream.close();
      if (frame) cancelAnimationFrame(frame);
    };
  }, [workspace, id]);

  return state;
}
