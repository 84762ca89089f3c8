/**
 * Loads something from the API for a page: the data, the error, whether a
 * load is running, and `reload`. The previous data stays on screen while a
 * new load runs (no flicker on live refreshes), and an answer that arrives
 * after a newer request started is dropped.
 */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '../api/client.js';

export interface Resource<T> {
  data: T | undefined;
  error: ApiError | null;
  loading: boolean;
  reload(): void;
  /** Patch the data in place, e.g. from a live event. */
  setData(update: (previous: T | undefined) => T | undefined): void;
}

export function useResource<T>(load: (signal: AbortSignal) => Promise<T>, deps: readonly unknown[]): Resource<T> {
  const [data, setDataState] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(true);
  const generation = useRef(0);
  const [reloads, setReloads] = useState(0);

  useEffect(() => {
    const mine = ++generation.current;
    const controller = new AbortController();
    setLoading(true);
    load(controller.signal).then(
      (value) => {
        if (mine !== generation.current) return;
        setDataState(value);
        setError(null);
        setLoading(false);
      },
      (err: unknown) => {
        if (mine !== generation.current || controller.signal.aborted) return;
        setError(asApiError(err));
        setLoading(false);
      },
    );
    return () => controller.abort();
  }, [...deps, reloads]); // `load` is a fresh closure each render; `deps` say when it means something new

  const reload = useCallback(() => setReloads((n) => n + 1), []);
  const setData = useCallback((update: (previous: T | undefined) => T | undefined) => setDataState(update), []);
  return { data, error, loading, reload, setData };
}

export function asApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  return new ApiError(0, {
    code: 'CLIENT',
    message: err instanceof Error ? err.message : String(err),
    hint: 'This is a bug in the web UI; reload the page, and report it if it happens again.',
  });
}
