/** The ready-to-paste command lines the UI offers next to a new token. */

export function agentCommand(token: string, agent: string, serverUrl: string): string {
  return `DROVER_AGENT_TOKEN=${token} drover agent ${agent} --server ${serverUrl}`;
}

export function activateCommand(token: string, serverUrl: string): string {
  return `DROVER_ACTIVATE_TOKEN=${token} drover activate deploy.json --server ${serverUrl}`;
}

export function pushCommand(token: string, serverUrl: string): string {
  return `DROVER_PUSH_TOKEN=${token} drover push CACHE ./result --server ${serverUrl}`;
}
