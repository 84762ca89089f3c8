/** @drover/agent — the agent that keeps one machine's profile deployed. */
export { Agent, AGENT_VERSION, RUNNER_MODE, useBundledRunner, type AgentOptions } from './agent.js';
export { defaultStateDir } from './state.js';
export { websocketUrl } from './connection.js';
export { Backoff, retryAfterMs } from './backoff.js';
export { checkStateDir, EXIT_SETUP } from './self-check.js';
export { RUNNER_SCOPE_MODES } from './runner-launch.js';
export { defaultIdentityFile, loadIdentity } from './secrets/identity.js';
export { readDeclaredSecrets } from './secrets/declared.js';
