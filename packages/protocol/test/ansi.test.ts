/**
 * ANSI escapes in log lines (ansi.ts): parseAnsi's styled runs for SGR
 * (flags, 16/256/24-bit colours, resets, both parameter syntaxes) and
 * stripAnsi dropping every escape sequence and control character.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { paletteHex, parseAnsi, sgrOnly, stripAnsi, type AnsiSpan, type AnsiStyle } from '../src/index.js';

/** The runs as [text, the style fields that are set]. */
function runs(text: string): [string, Partial<AnsiStyle>][] {
  return parseAnsi(text).map((s: AnsiSpan) => [s.text, Object.fromEntries(Object.entries(s.style).filter(([, v]) => v !== false && v !== null))]);
}

/** An expected style, typed as one (so `bold` is AnsiStyle's). */
const st = (style: Partial<AnsiStyle>): Partial<AnsiStyle> => style;

describe('parseAnsi', () => {
  test('plain text is one plain run', () => assert.deepEqual(runs('building /nix/store/x'), [['building /nix/store/x', st({})]]));

  test('bold red, then reset', () => {
    assert.deepEqual(runs('\x1b[1;31merror:\x1b[0m build failed'), [
      ['error:', st({ bold: true, fg: 1 })],
      [' build failed', st({})],
    ]);
  });

  test('an empty SGR resets, 22/39/49 reset parts', () => {
    assert.deepEqual(runs('\x1b[1;32;44ma\x1b[39mb\x1b[22mc\x1b[49md\x1b[me'), [
      ['a', st({ bold: true, fg: 2, bg: 4 })],
      ['b', st({ bold: true, bg: 4 })],
      ['c', st({ bg: 4 })],
      ['de', st({})],
    ]);
  });

  test('bright colours are palette 8–15', () => assert.deepEqual(runs('\x1b[91;102mx'), [['x', st({ fg: 9, bg: 10 })]]));

  test('256 colours and truecolor, with ; and : separators', () => {
    assert.deepEqual(runs('\x1b[38;5;208ma\x1b[48;2;10;20;30mb\x1b[38:2::255:0:128mc\x1b[38:5:21md'), [
      ['a', st({ fg: 208 })],
      ['b', st({ fg: 208, bg: '#0a141e' })],
      ['c', st({ fg: '#ff0080', bg: '#0a141e' })],
      ['d', st({ fg: 21, bg: '#0a141e' })],
    ]);
  });

  test('a truecolour sequence does not leak its numbers as codes', () => {
    // 38;2;1;4;7 — without consuming the arguments, 1 would be bold, 4 underline, 7 inverse.
    assert.deepEqual(runs('\x1b[38;2;1;4;7mx'), [['x', st({ fg: '#010407' })]]);
  });

  test('italic, underline, inverse, strike and their resets', () => {
    assert.deepEqual(runs('\x1b[3;4;7;9ma\x1b[23;24;27;29mb'), [
      ['a', st({ italic: true, underline: true, inverse: true, strike: true })],
      ['b', st({})],
    ]);
  });

  test('other sequences are dropped without ending the style', () => {
    assert.deepEqual(runs('\x1b[1m\x1b[2K\x1b[1Gbold\x1b]0;title\x07 still\x1b(B'), [['bold still', st({ bold: true })]]);
  });

  test('adjacent runs of one style merge; empty runs are left out', () => {
    assert.deepEqual(runs('\x1b[31ma\x1b[31mb\x1b[0m\x1b[0m'), [['ab', st({ fg: 1 })]]);
  });
});

describe('stripAnsi', () => {
  const cases: [string, string][] = [
    ['\x1b[1;31merror:\x1b[0m x', 'error: x'],
    ['\x1b[38;5;208mo\x1b[48;2;1;2;3mk', 'ok'],
    ['\x1b]8;;https://example.com\x1b\\link\x1b]8;;\x1b\\', 'link'],
    ['\x1b]0;title\x07text', 'text'],
    ['\x1b[?25lhidden cursor\x1b[?25h', 'hidden cursor'],
    ['progress\r\x1b[Kdone', 'progressdone'],
    ['\x1b(Bcharset', 'charset'],
    ['bell\x07 and nul\x00', 'bell and nul'],
    ['tab\tstays', 'tab\tstays'],
    ['unterminated \x1b[1;3', 'unterminated '],
    ['8-bit CSI \x9b31mred', '8-bit CSI red'],
    ['a lone escape at the end\x1b', 'a lone escape at the end'],
  ];
  for (const [input, plain] of cases) test(JSON.stringify(input), () => assert.equal(stripAnsi(input), plain));

  test('the plain text is what parseAnsi runs add up to', () => {
    for (const [input, plain] of cases)
      assert.equal(
        parseAnsi(input)
          .map((s) => s.text)
          .join(''),
        plain,
      );
  });
});

describe('sgrOnly', () => {
  test('keeps colour and style sequences, drops the rest', () => {
    assert.equal(sgrOnly('\x1b[1;31merror\x1b[0m \x1b]0;owned\x07\x1b[2J\x1b[?1049h\x1b[38:5:1mx\r'), '\x1b[1;31merror\x1b[0m \x1b[38:5:1mx');
  });
});

describe('paletteHex', () => {
  test('the cube and the grey ramp', () => {
    assert.equal(paletteHex(16), '#000000');
    assert.equal(paletteHex(196), '#ff0000');
    assert.equal(paletteHex(21), '#0000ff');
    assert.equal(paletteHex(232), '#080808');
    assert.equal(paletteHex(255), '#eeeeee');
  });
});
