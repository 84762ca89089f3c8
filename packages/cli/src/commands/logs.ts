/**
 * `drover logs DEPLOYMENT [--follow] [--json]`: one deployment's log. Without
 * --follow the stored lines, page by page; with it, the log's event stream
 * (as `activate` follows one) until the deployment is final, resuming after
 * the last line shown when the connection drops. Text goes out as the agent
 * sent it on a terminal, without escape codes otherwise; `--json` prints one
 * JSON object per line ({seq, time, stream, text}, text without escape codes).
 */
import {
  decodeDeploymentLog,
  decodeLogStreamLine,
  decodeLogStreamStatus,
  isFinalStatus,
  LOG_EVENTS,
  stripAnsi,
  type Deployment,
  type LogLineJson,
} from '@drover/protocol';
import { messageData, openEventStream } from '@drover/client';
import { info, out } from '../output.js';
import { terminalText } from '../terminal-text.js';
import { readerClient, type ReaderFlags } from './reader.js';
import { EXIT } from './activate.js';

export interface LogsFlags extends ReaderFlags {
  follow?: boolean;
  json?: boolean;
}

/** Lines per page (the server allows up to 5000). */
const PAGE_LINES = 5000;

export async function logsCommand(id: string, flags: LogsFlags): Promise<number> {
  const api = readerClient(flags);
  const path = `/deployments/${encodeURIComponent(id)}/log`;
  const print = (l: LogLineJson) =>
    flags.json ? out(JSON.stringify({ seq: l.seq, time: l.time, stream: l.stream, text: stripAnsi(l.text) })) : out(terminalText(l.text, process.stdout));

  if (!flags.follow) {
    let after = -1;
    for (;;) {
      const page = await api.request('GET', `${path}?after=${after}&limit=${PAGE_LINES}`, undefined, decodeDeploymentLog);
      for (const l of page.lines) print(l);
      const last = page.lines.at(-1)?.seq;
      if (last === undefined || page.lines.length < PAGE_LINES) return EXIT.ok;
      after = last;
    }
  }

  let lastSeq = -1;
  // The deployment as the stream last reported it (an object: TypeScript does not see the callback assign it).
  const seen: { latest: Deployment | null } = { latest: null };
  const stream = openEventStream(
    api.http,
    path,
    {
      onMessage: (m) => {
        if (m.event === LOG_EVENTS.line) {
          const line = messageData(m, decodeLogStreamLine);
          if (line.seq <= lastSeq) return;
          lastSeq = line.seq;
          print(line);
        } else if (m.event === LOG_EVENTS.status) {
          seen.latest = messageData(m, decodeLogStreamStatus);
        } else if (m.event === LOG_EVENTS.end) {
          stream.close();
        }
      },
      onError: (err, fatal) => {
        if (!fatal) info(`log stream interrupted (${err.message}); reconnecting`);
      },
      onDrop: () => info('log stream interrupted (log stream closed early); reconnecting'),
    },
    { maxDelayMs: 10_000, query: () => ({ after: lastSeq }) },
  );
  const fatal = await stream.done;
  if (fatal) throw fatal;
  const final = seen.latest;
  if (final && isFinalStatus(final.status)) info(`deployment ${final.agent} #${final.index} ${final.status}${final.reason ? `: ${final.reason}` : ''}`);
  return final?.status === 'Succeeded' ? EXIT.ok : EXIT.failed;
}
