/**
 * The agent-only `drover`: the entry of the single-file agent
 * (dist/drover-agent.mjs, built by `npm run bundle`; the drover-agent Nix
 * package is that file plus Node). It answers `drover agent …` only; any other
 * command says this is the agent-only package. Started as
 * `node drover-agent.mjs __drover-runner DIR` it is the detached deployment
 * runner, so the one file is all a machine needs.
 */
import v8 from 'node:v8';
import { fileURLToPath } from 'node:url';

// As bin/drover: V8's lite mode cuts an idle agent's private memory (bench/README.md).
if (process.argv[2] === 'agent') v8.setFlagsFromString('--lite-mode');

const { RUNNER_MODE, useBundledRunner } = await import('@drover/agent');
if (process.argv[2] === RUNNER_MODE) {
  // The runner reads its deployment directory from argv[2], as when started as runner/main.js.
  process.argv.splice(2, 1);
  await import('@drover/agent/runner');
} else {
  useBundledRunner(fileURLToPath(import.meta.url));
  const { runAgentOnly } = await import('./agent-only-program.js');
  await runAgentOnly(process.argv);
}
