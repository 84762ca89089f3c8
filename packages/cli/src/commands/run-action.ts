/**
 * `run`: wraps a command's action so that its result becomes the exit code
 * and an error is printed the way every command prints one.
 */
import { reportError } from '../output.js';

export type Runner = (fn: (...args: never[]) => Promise<unknown>) => (...args: unknown[]) => Promise<void>;

export const run: Runner = (fn) => {
  return async (...args: unknown[]) => {
    try {
      const code = await (fn as (...a: unknown[]) => Promise<unknown>)(...args);
      if (typeof code === 'number') process.exitCode = code;
    } catch (err) {
      process.exitCode = reportError(err);
    }
  };
};
