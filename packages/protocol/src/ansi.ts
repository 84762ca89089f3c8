/**
 * ANSI escape codes in log text (Nix and systemd colour their output). Logs
 * are stored as the agent sent them; `parseAnsi` turns a line into styled
 * runs for the web UI (SGR only: bold, dim, italic, underline, inverse,
 * strike, 8/16/256/24-bit foreground and background, resets), and
 * `stripAnsi` gives the plain text for `--json` and for output that is not a
 * terminal, `sgrOnly` what a terminal may be sent. Every other escape sequence (cursor moves, OSC titles and links,
 * charset switches) and control character except the tab is dropped.
 */

/** A colour: a palette index 0–255, or 24-bit as `#rrggbb`. */
export type AnsiColor = number | `#${string}`;

export interface AnsiStyle {
  readonly bold: boolean;
  readonly dim: boolean;
  readonly italic: boolean;
  readonly underline: boolean;
  readonly inverse: boolean;
  readonly strike: boolean;
  readonly fg: AnsiColor | null;
  readonly bg: AnsiColor | null;
}

/** A run of text in one style. */
export interface AnsiSpan {
  readonly text: string;
  readonly style: AnsiStyle;
}

const PLAIN_STYLE: AnsiStyle = { bold: false, dim: false, italic: false, underline: false, inverse: false, strike: false, fg: null, bg: null };

/**
 * One escape sequence or control character: CSI (`ESC [` params, intermediates, final — also
 * unterminated), OSC (`ESC ]` … BEL or `ESC \`, or to the end), other `ESC` sequences, the
 * 8-bit CSI, and C0 controls but tab and newline.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const SEQUENCE_RE = /\x1b(?:\[([0-?]*)[ -/]*([@-~])?|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[ -/]*[0-~]?)|\x9b[0-?]*[ -/]*[@-~]?|[\x00-\x08\x0b-\x1f\x7f]/g;

/** `text` without escape sequences and control characters (tabs and newlines stay). */
export function stripAnsi(text: string): string {
  return text.replace(SEQUENCE_RE, '');
}

/** `text` with only its SGR (colour and style) sequences kept, for a terminal: nothing that moves the cursor, sets a title or opens a link. */
export function sgrOnly(text: string): string {
  return text.replace(SEQUENCE_RE, (seq, params: string | undefined, final: string | undefined) =>
    seq.startsWith('\x1b[') && final === 'm' && /^[\d;:]*$/.test(params ?? '') ? seq : '',
  );
}

function hex(r: number, g: number, b: number): `#${string}` {
  const part = (n: number) => Math.max(0, Math.min(255, n)).toString(16).padStart(2, '0');
  return `#${part(r)}${part(g)}${part(b)}`;
}

/** The 24-bit value of a palette index ≥ 16 (the 6×6×6 cube, then 24 greys). */
export function paletteHex(index: number): `#${string}` {
  if (index >= 232) {
    const v = 8 + (index - 232) * 10;
    return hex(v, v, v);
  }
  const i = index - 16;
  const level = (n: number) => (n === 0 ? 0 : 55 + n * 40);
  return hex(level(Math.floor(i / 36)), level(Math.floor(i / 6) % 6), level(i % 6));
}

/** An extended colour (after 38/48): `5;N` or `2;R;G;B`, from `args`; how many arguments it used. */
function extendedColor(args: readonly number[]): { color: AnsiColor | null; used: number } {
  const [mode, a = -1, b = -1, c = -1] = args;
  if (mode === 5) return { color: a >= 0 && a <= 255 ? a : null, used: 2 };
  if (mode === 2) return { color: a >= 0 && b >= 0 && c >= 0 ? hex(a, b, c) : null, used: 4 };
  return { color: null, used: 1 };
}

/** Numbers of one SGR parameter list; `38:2::R:G:B` sub-parameters (with the empty colour-space id) become `38;2;R;G;B`. */
function sgrNumbers(params: string): number[][] {
  return (params === '' ? ['0'] : params.split(';')).map((p) => {
    if (!p.includes(':')) return [p === '' ? 0 : Number(p)];
    const parts = p.split(':');
    if (parts[1] === '2' && parts.length >= 6) parts.splice(2, 1);
    return parts.map((s) => (s === '' ? 0 : Number(s)));
  });
}

const FLAG_ON: Record<number, keyof AnsiStyle> = { 1: 'bold', 2: 'dim', 3: 'italic', 4: 'underline', 7: 'inverse', 9: 'strike' };
const FLAG_OFF: Record<number, (keyof AnsiStyle)[]> = { 22: ['bold', 'dim'], 23: ['italic'], 24: ['underline'], 27: ['inverse'], 29: ['strike'] };

/** The style after one SGR sequence's parameters. */
function applySgr(style: AnsiStyle, params: string): AnsiStyle {
  let s: { -readonly [K in keyof AnsiStyle]: AnsiStyle[K] } = { ...style };
  const groups = sgrNumbers(params);
  for (let i = 0; i < groups.length; i++) {
    const group = groups[i] ?? [];
    const code = group[0] ?? 0;
    const on = FLAG_ON[code];
    const off = FLAG_OFF[code];
    if (code === 0) s = { ...PLAIN_STYLE };
    else if (on) s = { ...s, [on]: true };
    else if (off) for (const k of off) s = { ...s, [k]: false };
    else if (code >= 30 && code <= 37) s.fg = code - 30;
    else if (code >= 90 && code <= 97) s.fg = code - 90 + 8;
    else if (code >= 40 && code <= 47) s.bg = code - 40;
    else if (code >= 100 && code <= 107) s.bg = code - 100 + 8;
    else if (code === 39) s.fg = null;
    else if (code === 49) s.bg = null;
    else if (code === 38 || code === 48) {
      // Either `38:5:N` in one group or `38;5;N` across the following ones.
      const inline = group.length > 1;
      const args = inline ? group.slice(1) : groups.slice(i + 1, i + 5).map((g) => g[0] ?? 0);
      const { color, used } = extendedColor(args);
      if (!inline) i += used;
      if (color !== null) {
        if (code === 38) s.fg = color;
        else s.bg = color;
      }
    }
  }
  return s;
}

function sameStyle(a: AnsiStyle, b: AnsiStyle): boolean {
  return (Object.keys(a) as (keyof AnsiStyle)[]).every((k) => a[k] === b[k]);
}

/** A line as styled runs (each line starts plain); adjacent runs of one style are merged, empty ones left out. */
export function parseAnsi(text: string): AnsiSpan[] {
  const spans: AnsiSpan[] = [];
  let style = PLAIN_STYLE;
  let last = 0;
  const push = (chunk: string) => {
    if (chunk === '') return;
    const prev = spans.at(-1);
    if (prev && sameStyle(prev.style, style)) spans[spans.length - 1] = { text: prev.text + chunk, style };
    else spans.push({ text: chunk, style });
  };
  for (const m of text.matchAll(SEQUENCE_RE)) {
    push(text.slice(last, m.index));
    last = m.index + m[0].length;
    if (m[0].startsWith('\x1b[') && m[2] === 'm') style = applySgr(style, m[1] ?? '');
  }
  push(text.slice(last));
  return spans;
}
