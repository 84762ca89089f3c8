/**
 * What `activate --dry` prints (activate-dry.ts): the query it sends, and
 * each agent's summary line — the units a switch would change, the reason
 * when the profile type has no dry activation, a failed dry run, and the
 * usual line (null here) for real deployments and unfinished dry runs.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Deployment } from '@drover/protocol';
import { drySummaryLine, withDryQuery } from '../src/commands/activate-dry.js';

const base: Deployment = {
  id: '0b7e1c52-7d0e-4a43-9f6a-1f2f3a4b5c6d',
  workspace: 'default',
  agent: 'web-1',
  index: 7,
  storePath: '/nix/store/0123456789abcdfghijklmnpqrsvwxyz-system',
  rollbackScript: null,
  status: 'Succeeded',
  reason: null,
  activationId: '1b7e1c52-7d0e-4a43-9f6a-1f2f3a4b5c6d',
  createdAt: '2026-01-01T00:00:00.000Z',
  startedAt: '2026-01-01T00:00:01.000Z',
  finishedAt: '2026-01-01T00:00:04.000Z',
  closureSize: null,
  createdBy: null,
  url: 'http://127.0.0.1:7700/w/default/deployments/0b7e1c52',
  diff: null,
  wave: null,
  secretsOnly: false,
  dry: true,
  wouldRestart: null,
};

describe('activate --dry', () => {
  test('the query gains dry=true only with --dry', () => {
    assert.equal(withDryQuery('/activate', {}), '/activate');
    assert.equal(withDryQuery('/activate', { dry: true }), '/activate?dry=true');
    assert.equal(withDryQuery('/activate?cacheCheck=false', { dry: true }), '/activate?cacheCheck=false&dry=true');
  });

  test('summary lines of dry runs', () => {
    const units = { restart: ['sshd.service', 'systemd'], start: ['new.service'], stop: ['old.service'], reload: [] };
    assert.equal(
      drySummaryLine({ ...base, wouldRestart: units }),
      'Dry run completed (#7 in 3.0s), nothing switched: would stop old.service; restart sshd.service, systemd; start new.service',
    );
    assert.equal(
      drySummaryLine({ ...base, wouldRestart: { restart: [], start: [], stop: [], reload: [] } }),
      'Dry run completed (#7 in 3.0s), nothing switched: no unit would be stopped, reloaded, restarted or started',
    );
    const plain = 'dry run, nothing was switched: a plain profile has no dry activation; only the closure diff tells what would change';
    assert.equal(
      drySummaryLine({ ...base, reason: plain }),
      'Dry run completed (#7 in 3.0s), nothing switched: a plain profile has no dry activation; only the closure diff tells what would change',
    );
    assert.equal(drySummaryLine({ ...base, status: 'Failed', reason: 'dry run failed: exit 1' }), 'Dry run failed (#7 in 3.0s): exit 1');
    assert.equal(drySummaryLine({ ...base, status: 'Pending', startedAt: null, finishedAt: null }), null);
    assert.equal(drySummaryLine({ ...base, dry: false }), null);
    assert.equal(drySummaryLine(undefined), null);
  });
});
