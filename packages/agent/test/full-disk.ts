/**
 * A real full filesystem for tests: a 256 KiB tmpfs mounted on a temporary
 * folder (needs root), which `fill()` fills until the kernel answers ENOSPC
 * and `free()` empties again. Null, with the reason, where mounting is not
 * possible, so the tests can skip with one clear line.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface FullDisk {
  readonly root: string;
  fill(): void;
  free(): void;
  unmount(): void;
}

export function mountSmallTmpfs(): FullDisk | string {
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root';
  const root = mkdtempSync(join(tmpdir(), 'drover-full-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'tmpfs', root], { stdio: 'pipe' });
  } catch (err) {
    rmSync(root, { recursive: true, force: true });
    return `cannot mount a tmpfs: ${err instanceof Error ? err.message : String(err)}`;
  }
  const filler = join(root, 'filler');
  return {
    root,
    fill: () => {
      const fd = openSync(filler, 'a');
      const chunk = Buffer.alloc(4096, 120);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (err) {
        if (!(err instanceof Error && 'code' in err && err.code === 'ENOSPC')) throw err;
      } finally {
        closeSync(fd);
      }
    },
    free: () => rmSync(filler, { force: true }),
    unmount: () => {
      execFileSync('umount', [root], { stdio: 'pipe' });
      rmSync(root, { recursive: true, force: true });
    },
  };
}
