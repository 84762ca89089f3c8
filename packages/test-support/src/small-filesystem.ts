/**
 * A real small filesystem for full-disk tests: a tmpfs of a given size
 * mounted on a new temporary folder (needs root), which `fill()` fills until
 * the kernel answers ENOSPC and `free()` empties again. A string, the reason,
 * where mounting is not possible, so a test can skip with one clear line.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SmallFilesystem {
  readonly root: string;
  /** Writes one filler file until ENOSPC. */
  fill(): void;
  /** Removes the filler file. */
  free(): void;
  unmount(): void;
}

/** Mounts a tmpfs of `size` (mount's syntax: `256k`, `8m`; default 256k) on a new folder under `parent` (default: the OS temp dir). */
export function mountSmallTmpfs(options: { size?: string; parent?: string } = {}): SmallFilesystem | string {
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root';
  const root = mkdtempSync(join(options.parent ?? tmpdir(), 'drover-full-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${options.size ?? '256k'},mode=0700`, 'tmpfs', root], { stdio: 'pipe' });
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
      execFileSync('umount', ['--lazy', root], { stdio: 'pipe' });
      rmSync(root, { recursive: true, force: true });
    },
  };
}
