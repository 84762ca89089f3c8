/**
 * What the fault-injection tests share: a plain profile big enough that
 * substituting or uploading it takes a while (random, so incompressible),
 * added to the local store with real Nix; and a bound on any one wait.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runOk } from '@drover/test-support';

/** `nix-store --add` of a plain profile (`bin/hello` and `mib` MiB of random bytes) built under `dir`; its store path. */
export async function bigPlainProfile(dir: string, name: string, mib: number): Promise<string> {
  const root = join(dir, name);
  await mkdir(join(root, 'bin'), { recursive: true });
  await writeFile(join(root, 'bin', 'hello'), `#!/bin/sh\necho hello from ${name}\n`);
  await chmod(join(root, 'bin', 'hello'), 0o755);
  await writeFile(join(root, 'payload'), randomBytes(mib * 1024 * 1024));
  const added = await runOk('nix-store', ['--add', root]);
  return added.stdout.trim();
}

/** `promise`, or an error naming `what` once `ms` have passed. */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
