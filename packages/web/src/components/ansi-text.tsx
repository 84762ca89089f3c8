/**
 * A log line's text with its ANSI colours (parsed by @drover/protocol's
 * parseAnsi) as spans: flags as classes, palette colours 0–15 as the theme's
 * --ansi-N variables (so dark mode has its own palette), other colours as
 * their value. Text is only ever a text node; other escape codes are gone.
 */
import { paletteHex, parseAnsi, type AnsiColor, type AnsiSpan } from '../api/protocol.js';

function css(color: AnsiColor): string {
  if (typeof color === 'string') return color;
  return color < 16 ? `var(--ansi-${color})` : paletteHex(color);
}

function spanProps({ style: s }: AnsiSpan): { class: string; style: Record<string, string> } {
  const classes = [s.bold && 'ansi-bold', s.dim && 'ansi-dim', s.italic && 'ansi-italic', s.underline && 'ansi-underline', s.strike && 'ansi-strike'];
  const fg = s.inverse ? (s.bg === null ? 'var(--log-bg)' : css(s.bg)) : s.fg === null ? null : css(s.fg);
  const bg = s.inverse ? (s.fg === null ? 'var(--log-fg)' : css(s.fg)) : s.bg === null ? null : css(s.bg);
  const style: Record<string, string> = {};
  if (fg) style.color = fg;
  if (bg) style.backgroundColor = bg;
  return { class: ['ansi', ...classes.filter(Boolean)].join(' '), style };
}

export function AnsiText({ text }: { text: string }) {
  // Most lines have no escape code at all: keep them a plain text node.
  if (!text.includes('\x1b') && !text.includes('\x9b')) return <>{text}</>;
  return (
    <>
      {parseAnsi(text).map((span, i) => {
        const p = spanProps(span);
        return p.class === 'ansi' && Object.keys(p.style).length === 0 ? (
          span.text
        ) : (
          <span key={i} class={p.class} style={p.style}>
            {span.text}
          </span>
        );
      })}
    </>
  );
}
