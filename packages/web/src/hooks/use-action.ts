/**
 * A button's request: runs it once at a time, remembers its error for the
 * page to show, and tells whether it is running (to disable the button).
 */
import { useCallback, useState } from 'preact/hooks';
import type { ApiError } from '../api/client.js';
import { asApiError } from './use-resource.js';

export interface Action<A extends unknown[]> {
  run(...args: A): Promise<void>;
  running: boolean;
  error: ApiError | null;
  clearError(): void;
}

export function useAction<A extends unknown[]>(fn: (...args: A) => Promise<void>): Action<A> {
  const [running, setRunning] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const run = useCallback(
    async (...args: A) => {
      setRunning(true);
      setError(null);
      try {
        await fn(...args);
      } catch (err) {
        setError(asApiError(err));
      } finally {
        setRunning(false);
      }
    },
    [fn],
  );
  return { run, running, error, clearError: () => setError(null) };
}
