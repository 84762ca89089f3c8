/**
 * Nix profiles: where they live, what kind of closure a store path is, and
 * the commands that make a store path the active one.
 */
import { constants } from 'node:fs';
import { access, readlink, realpath } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { isStorePath, type StorePath } from '@drover/protocol/light';
import type { Command } from './command.js';

export const PROFILES_DIR = '/nix/var/nix/profiles';

export type ProfileType = 'nixos' | 'nix-darwin' | 'home-manager' | 'plain';

/**
 * `system` → /nix/var/nix/profiles/system, another bare NAME →
 * /nix/var/nix/profiles/NAME, an absolute path is taken as is.
 */
export function resolveProfilePath(profile: string): string {
  if (isAbsolute(profile)) return profile;
  if (!/^[A-Za-z0-9._-]+$/.test(profile) || profile === '.' || profile === '..') {
    throw new Error(`profile ${JSON.stringify(profile)} is neither a name (letters, digits, ".", "_", "-") nor an absolute path`);
  }
  return join(PROFILES_DIR, profile);
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path, constants.F_OK);
    return true;
  } catch {
    return false;
  }
}

/** Detects the profile type from marker files, as NixOS, nix-darwin and home-manager write them. */
export async function detectProfileType(storePath: StorePath): Promise<ProfileType> {
  if (await exists(join(storePath, 'nixos-version'))) return 'nixos';
  if ((await exists(join(storePath, 'darwin-version'))) || (await exists(join(storePath, 'darwin-version.json')))) {
    return 'nix-darwin';
  }
  if (await exists(join(storePath, 'hm-version'))) return 'home-manager';
  return 'plain';
}

/** The store path a profile points to now, or null when it does not exist yet. */
export async function readActivePath(profilePath: string): Promise<StorePath | null> {
  try {
    await readlink(profilePath);
  } catch {
    return null;
  }
  try {
    const target = await realpath(profilePath);
    return isStorePath(target) ? target : null;
  } catch {
    return null; // dangling link: its generation was garbage-collected
  }
}

/**
 * The commands that activate `storePath` on `profilePath`. Every type first
 * records the path as the profile's new generation, so the profile always
 * says what is active and what to restore on failure.
 */
export function activationCommands(type: ProfileType, profilePath: string, storePath: StorePath): Command[] {
  const setProfile: Command = { argv: ['nix-env', '-p', profilePath, '--set', storePath] };
  switch (type) {
    case 'nixos':
      return [setProfile, { argv: [join(storePath, 'bin/switch-to-configuration'), 'switch'] }];
    case 'nix-darwin':
      return [setProfile, { argv: [join(storePath, 'sw/bin/darwin-rebuild'), 'activate'] }];
    case 'home-manager':
      return [setProfile, { argv: [join(storePath, 'activate')] }];
    case 'plain':
      return [setProfile];
  }
}
