/**
 * What the Nix module tests share: whether the module trees are there (or
 * the one line saying why the tests skip), systemd's reading of an
 * ExecStart= line into argv words, and a real /bin/sh reading a launchd
 * job's `/bin/sh -c` command line into the words our program would get.
 */
import { test } from 'node:test';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nixModuleTrees, runOk } from '@drover/test-support';

const trees = await nixModuleTrees();

/** Defines the tests `body` declares when the module trees are there; else one skipped test saying what is missing. */
export function withModuleTrees(suite: string, body: () => void): void {
  if (trees.path === undefined) test(suite, { skip: trees.skip }, () => undefined);
  else body();
}

/** The value of `KEY=` lines in a section of unit text, in order (`[Service]` etc.). */
function unitValues(text: string, section: string, key: string): string[] {
  const values: string[] = [];
  let current = '';
  for (const line of text.split('\n')) {
    const header = /^\[(.+)\]$/.exec(line);
    if (header) current = header[1] ?? '';
    else if (current === section && line.startsWith(`${key}=`)) values.push(line.slice(key.length + 1));
  }
  return values;
}

/** The one `KEY=` value of a section; throws unless there is exactly one. */
export function unitValue(text: string, section: string, key: string): string {
  const values = unitValues(text, section, key);
  if (values.length !== 1) throw new Error(`expected one ${key}= in [${section}], found ${values.length}:\n${text}`);
  return values[0] ?? '';
}

/**
 * The argv systemd makes of an ExecStart= value: words split at blanks,
 * "double" (C escapes) and 'single' quotes, then `%%` → `%` and `$$` → `$`
 * (specifiers and variables are refused here: the modules must escape them).
 */
export function execStartWords(line: string): string[] {
  const words: string[] = [];
  const word = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  for (let m = word.exec(line); m !== null; m = word.exec(line)) {
    const raw = m[1] !== undefined ? (JSON.parse(`"${m[1]}"`) as string) : (m[2] ?? m[3] ?? '');
    if (/%[^%]|\$[^$]/.test(raw.replaceAll('%%', '').replaceAll('$$', ''))) throw new Error(`unescaped % or $ in ExecStart word ${JSON.stringify(raw)}`);
    words.push(raw.replaceAll('%%', '%').replaceAll('$$', '$'));
  }
  return words;
}

/**
 * The words a real /bin/sh passes to `program` when it runs `command`
 * (as launchd's `/bin/sh -c` does): `program` is replaced by a script that
 * prints its argv as JSON. Returns [program, ...args].
 */
export async function shellWords(command: string, program: string): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'drover-sh-words-'));
  try {
    const fake = join(dir, 'print-argv');
    await writeFile(fake, `#!${process.execPath}\nprocess.stdout.write(JSON.stringify(process.argv.slice(2)));\n`);
    await chmod(fake, 0o755);
    if (!command.includes(program)) throw new Error(`${JSON.stringify(command)} does not run ${program}`);
    const res = await runOk('/bin/sh', ['-c', command.replaceAll(program, fake)], { timeoutMs: 20_000 });
    return [program, ...(JSON.parse(res.stdout) as string[])];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A package stand-in for a module's `package` option, as Nix source. */
export function fakeDrover(outPath = '/nix/store/00000000000000000000000000000000-drover'): string {
  return `pkgs.fakePackage "drover" { outPath = "${outPath}"; meta.mainProgram = "drover"; }`;
}

/** An argument that needs every kind of escaping: blanks, quotes, `%` specifiers, `$` variables, a backslash. */
export const AWKWARD_ARG = `it's "100%" of $HOME \\ %H`;
