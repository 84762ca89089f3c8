/** The document title: what the page shows, then "Drover" ("web-1 #3 · Succeeded — Deployment — Drover"). */
import { useEffect } from 'preact/hooks';

export function useTitle(title: string | null | undefined): void {
  const text = title ? `${title} — Drover` : 'Drover';
  useEffect(() => {
    document.title = text;
  }, [text]);
}
