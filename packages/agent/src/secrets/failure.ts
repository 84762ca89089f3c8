/**
 * A secret the agent cannot materialise (it does not decrypt, its owner
 * does not exist, its file cannot be written): the deployment fails with
 * this message, prefixed by DROVER_ERR_AGENT_SECRET, before the profile changes.
 */
export class SecretFailure extends Error {
  override readonly name = 'SecretFailure';
}

/** The reason a deployment fails with because of `failure`. */
export function secretFailureReason(failure: SecretFailure): string {
  return `DROVER_ERR_AGENT_SECRET: ${failure.message}; the profile was not changed`;
}
