/**
 * Reading `switch-to-configuration dry-activate` (dry-activation.ts): the
 * lines NixOS prints, in the wording of the Perl switch-to-configuration
 * (nixos/modules/system/activation/switch-to-configuration.pl) and of
 * switch-to-configuration-ng, become sorted unit lists; lines about units a
 * switch leaves alone and everything else are not counted.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { StorePath } from '@drover/protocol';
import { dryActivationCommand, parseDryActivation } from '../src/index.js';

const PATH = '/nix/store/00000000000000000000000000000000-nixos-system-host' as StorePath;

describe('parseDryActivation', () => {
  test('a full dry activation: stop, restart systemd, reload, restart, start', () => {
    const out = [
      'would stop the following units: old-app.service, socket-activated.socket',
      'would NOT stop the following changed units: display-manager.service',
      'would activate the configuration...',
      'setting up /etc...',
      'would restart systemd',
      'would reload the following units: dbus.service, nginx.service',
      'would restart the following units: sshd.service, systemd-journald.service',
      'would start the following units: new-app.service, old-app.service, socket-activated.socket',
    ];
    assert.deepEqual(parseDryActivation(out), {
      stop: ['old-app.service', 'socket-activated.socket'],
      reload: ['dbus.service', 'nginx.service'],
      restart: ['sshd.service', 'systemd', 'systemd-journald.service'],
      start: ['new-app.service', 'old-app.service', 'socket-activated.socket'],
    });
  });

  test("the activation script's requests (… as well) join the lists, each unit once and sorted", () => {
    const out = [
      'would restart the following units: simple-restart-service.service',
      'would stop the following units as well: simple-service.service, socket-activated.service',
      'would NOT restart the following changed units as well: no-restart-service.service',
      'would restart the following units as well: simple-restart-service.service, a-first.service',
      'would reload the following units as well: simple-reload-service.service',
    ];
    assert.deepEqual(parseDryActivation(out), {
      stop: ['simple-service.service', 'socket-activated.service'],
      reload: ['simple-reload-service.service'],
      restart: ['a-first.service', 'simple-restart-service.service'],
      start: [],
    });
  });

  test('template instances and mount units keep their names; ANSI colours and log prefixes are ignored', () => {
    const out = [
      '\u001b[1mwould reload the following units: -.mount, templated-simple-reload-service@instance.service\u001b[0m',
      '[INFO] would start the following units: getty@tty1.service\r',
    ];
    assert.deepEqual(parseDryActivation(out), {
      stop: [],
      reload: ['-.mount', 'templated-simple-reload-service@instance.service'],
      restart: [],
      start: ['getty@tty1.service'],
    });
  });

  test('nothing to do: empty lists, and unrelated output (or "would NOT stop" alone) names no unit', () => {
    const out = ['would NOT stop the following changed units: display-manager.service', 'would activate the configuration...', 'would stop'];
    assert.deepEqual(parseDryActivation(out), { stop: [], reload: [], restart: [], start: [] });
    assert.deepEqual(parseDryActivation([]), { stop: [], reload: [], restart: [], start: [] });
  });
});

describe('dryActivationCommand', () => {
  test('NixOS runs switch-to-configuration dry-activate; home-manager activate with DRY_RUN=1; darwin and plain have none', () => {
    assert.deepEqual(dryActivationCommand('nixos', PATH), { argv: [`${PATH}/bin/switch-to-configuration`, 'dry-activate'] });
    assert.deepEqual(dryActivationCommand('home-manager', PATH), { argv: [`${PATH}/activate`], env: { DRY_RUN: '1' } });
    assert.equal(dryActivationCommand('nix-darwin', PATH), null);
    assert.equal(dryActivationCommand('plain', PATH), null);
  });
});
