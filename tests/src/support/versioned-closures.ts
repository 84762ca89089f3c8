/**
 * Two small closures with versioned package names, built by real Nix
 * (/bin/sh derivations, no nixpkgs) for closure diff tests: `a` is app-1.0
 * with libfoo-1.2, tool-3 and an etc; `b` is app-1.1 with libfoo-1.2,
 * newlib-0.5 and another etc. So a → b upgrades app, adds newlib, removes
 * tool, and changes nothing else by name. Each path is a directory, so
 * either deploys as a plain profile.
 */
import { randomBytes } from 'node:crypto';
import { parseStorePath, type StorePath } from '@drover/protocol';
import { runOk } from '@drover/test-support';

const expression = (salt: string) => `
  let
    mk = name: refs: text: derivation {
      inherit name;
      system = builtins.currentSystem;
      builder = "/bin/sh";
      salt = "${salt}";
      args = [ "-c" ("/bin/mkdir $out; echo " + text + " > $out/data; echo " + builtins.concatStringsSep " " refs + " >> $out/data") ];
    };
    libfoo = mk "libfoo-1.2" [ ] "libfoo";
    tool = mk "tool-3" [ libfoo ] "tool";
    newlib = mk "newlib-0.5" [ libfoo ] "a-rather-longer-library-text-for-size";
  in {
    a = mk "app-1.0" [ libfoo tool (mk "etc" [ ] "a") ] "app-a";
    b = mk "app-1.1" [ libfoo newlib (mk "etc" [ ] "b") ] "app-b";
  }
`;

/** Builds both closures with a fresh salt (new paths); run under the Nix lock. */
export async function buildVersionedClosures(): Promise<{ a: StorePath; b: StorePath }> {
  const built = await runOk('nix-build', ['--no-out-link', '-E', expression(randomBytes(6).toString('hex')), '-A', 'a', '-A', 'b']);
  const [a, b] = built.stdout.trim().split('\n');
  return { a: parseStorePath(a), b: parseStorePath(b) };
}
