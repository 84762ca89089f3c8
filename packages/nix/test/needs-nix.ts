/** Whether real Nix is installed: test options that skip a test with one clear line when it is not. */
import { execFileSync } from 'node:child_process';

const hasNix = (() => {
  try {
    execFileSync('nix-store', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

export const needsNix = hasNix ? {} : { skip: 'nix-store is not installed (run scripts/setup-nix.sh)' };
