/**
 * Log text as the CLI prints it: the agent's ANSI colours kept when the
 * stream is a terminal (only SGR sequences, and not with NO_COLOR set),
 * every escape code stripped otherwise (files, pipes, `--json`).
 */
import { sgrOnly, stripAnsi } from '@drover/protocol';

export function terminalText(text: string, stream: NodeJS.WriteStream): string {
  const colour = stream.isTTY && !process.env['NO_COLOR'];
  return colour ? sgrOnly(text) : stripAnsi(text);
}
