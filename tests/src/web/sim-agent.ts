/**
 * Simulated agents for the browser tests: each is one real websocket to the
 * server that says `hello` like `drover agent` does and answers `deploy`
 * orders without Nix — started at once with a log line, then finished as
 * the test's `outcome` says (Succeeded, Failed) or held InProgress until the
 * test calls `finish`. Every order received is kept, in arrival order.
 */
import WebSocket from 'ws';
import { AGENT_WS_PATH, encodeMessage, PROTOCOL_VERSION, type AgentMessage, type DeploymentOrder } from '@drover/protocol';
import { waitFor, wsText } from '@drover/test-support';

export type Outcome = 'Succeeded' | 'Failed' | 'hold';

export class SimAgent {
  readonly orders: DeploymentOrder[] = [];
  /** What the next orders end as; 'hold' leaves them InProgress until finish(). */
  outcome: Outcome = 'Succeeded';

  private constructor(
    readonly name: string,
    private readonly socket: WebSocket,
  ) {}

  /** Connects as `name` with its agent token and waits for `registered`; `hello` adds fields to its hello (an age recipient, labels). */
  static connect(server: string, name: string, token: string, hello: { recipient?: string; labels?: Record<string, string> } = {}): Promise<SimAgent> {
    const socket = new WebSocket(server.replace(/^http/, 'ws') + AGENT_WS_PATH, { headers: { authorization: `Bearer ${token}` } });
    const agent = new SimAgent(name, socket);
    return new Promise((resolve, reject) => {
      socket.on('open', () =>
        agent.send({
          type: 'hello',
          protocol: PROTOCOL_VERSION,
          agent: name,
          version: 'sim',
          system: 'x86_64-linux',
          profile: '/nix/var/nix/profiles/system',
          hostname: name,
          ...hello,
        }),
      );
      socket.on('error', reject);
      socket.on('close', (code, reason) => reject(new Error(`${name}: closed ${code} ${reason.toString()}`)));
      socket.on('message', (data) => {
        const frame = JSON.parse(wsText(data)) as { type: string; deployment?: DeploymentOrder };
        if (frame.type === 'registered') resolve(agent);
        else if (frame.type === 'deploy' && frame.deployment) agent.deploy(frame.deployment);
      });
    });
  }

  /** Waits until `count` orders arrived in all. */
  async waitForOrders(count: number, timeoutMs = 20_000): Promise<DeploymentOrder[]> {
    await waitFor(`${this.name} to receive ${count} deploy order(s)`, () => this.orders.length >= count, timeoutMs);
    return this.orders;
  }

  /** Reports the end of deployment `id` (its store path becomes the active one when it Succeeded). */
  finish(id: string, status: 'Succeeded' | 'Failed'): void {
    const order = this.orders.find((o) => o.id === id);
    this.send({
      type: 'deployment.finished',
      id,
      time: new Date().toISOString(),
      status,
      reason: status === 'Failed' ? 'simulated failure' : null,
      activePath: status === 'Succeeded' ? (order?.storePath ?? null) : null,
    });
  }

  close(): void {
    this.socket.removeAllListeners('close');
    this.socket.close();
  }

  private deploy(order: DeploymentOrder): void {
    if (this.orders.some((o) => o.id === order.id)) return; // a re-sent order
    this.orders.push(order);
    const time = new Date().toISOString();
    this.send({ type: 'deployment.started', id: order.id, time });
    this.send({ type: 'deployment.log', id: order.id, lines: [{ seq: 0, time, stream: 'agent', text: `simulated deployment of ${order.storePath}` }] });
    if (this.outcome !== 'hold') this.finish(order.id, this.outcome);
  }

  private send(message: AgentMessage): void {
    this.socket.send(encodeMessage(message));
  }
}
