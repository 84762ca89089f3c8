/** The Nix system double of this machine (`x86_64-linux`, `aarch64-darwin`, …). */

const archNames: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64', ia32: 'i686', arm: 'armv7l', riscv64: 'riscv64' };

export function currentSystem(): string {
  const arch = archNames[process.arch] ?? process.arch;
  const os = process.platform === 'darwin' ? 'darwin' : process.platform;
  return `${arch}-${os}`;
}
