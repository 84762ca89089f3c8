/** The current time, refreshed every `everyMs`, so "3 min ago" and running durations stay true. */
import { useEffect, useState } from 'preact/hooks';

export function useNow(everyMs = 15_000): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}
