/**
 * The one rule for free text in agent frames: repaired, not refused (see
 * db/text.ts). An agent cannot change its hostname or what a program
 * printed, so refusing such a frame would only make it replay the same frame
 * forever; names and ids are checked by the frame schemas instead.
 */
import type { AgentMessage } from '@drover/protocol';
import { storableText } from '../db/text.js';

/** The frame with its free text (hello fields, log lines, reason) storable on both databases. */
export function repairFrame(message: AgentMessage): AgentMessage {
  switch (message.type) {
    case 'hello':
      return {
        ...message,
        version: storableText(message.version),
        profile: storableText(message.profile),
        hostname: storableText(message.hostname),
        ...(message.problems ? { problems: message.problems.map(storableText) } : {}),
      };
    case 'agent.problems':
      return { ...message, problems: message.problems.map(storableText) };
    case 'deployment.log':
      return { ...message, lines: message.lines.map((line) => ({ ...line, text: storableText(line.text) })) };
    case 'deployment.finished':
      return { ...message, reason: message.reason === null ? null : storableText(message.reason) };
    case 'deployment.would-restart': {
      const units = message.wouldRestart;
      if (units === null) return message;
      const repair = (names: string[]) => names.map(storableText);
      return {
        ...message,
        wouldRestart: { restart: repair(units.restart), start: repair(units.start), stop: repair(units.stop), reload: repair(units.reload) },
      };
    }
    case 'deployment.started':
    case 'deployment.closure-size':
    case 'deployment.diff':
      return message;
  }
}
