/**
 * `deploy` frames for many agents at once, each the same text
 * `encodeMessage` would give. The orders of one activation differ per agent
 * only in their id and index (and a few fields: whether the server has the
 * diff, the rollbackScript of the agent's system); everything else — the
 * store path, deadlines, the workspace's cache — is encoded once per distinct
 * combination, as a template the id and index are spliced into. An order
 * carrying secrets (each agent's own set) is encoded whole.
 */
import { encodeMessage, type CacheConfig, type DeploymentOrder, type ServerMessage } from '@drover/protocol';

/** Stand-ins for the id and index while a template is encoded: a NUL never occurs in any other field's JSON unescaped, nor `\u0000` escaped. */
const ID_MARK = '\u0000id\u0000';
const INDEX_MARK = '\u0000index\u0000';
const QUOTED_ID_MARK = JSON.stringify(ID_MARK);
const QUOTED_INDEX_MARK = JSON.stringify(INDEX_MARK);

/** The text before the id, between id and index, after the index. */
type Template = readonly [string, string, string];

export type OrderWithoutCache = Omit<DeploymentOrder, 'cache' | 'secrets'>;

/** The whole message of an order, as sent. */
export function deployMessage(order: OrderWithoutCache, cache: CacheConfig | null, secrets: DeploymentOrder['secrets']): ServerMessage {
  return { type: 'deploy', deployment: { ...order, cache, ...(secrets === undefined ? {} : { secrets }) } };
}

/** Encodes the `deploy` frames of one batch of orders; keep one per batch (it holds the templates and the caches it saw). */
export class DeployFrames {
  private readonly templates = new Map<string, Template | null>();
  private readonly cacheIds = new Map<CacheConfig, number>();

  /** The frame's text: what `encodeMessage(deployMessage(order, cache, secrets))` returns. */
  encode(order: OrderWithoutCache, cache: CacheConfig | null, secrets: DeploymentOrder['secrets']): string {
    const key = secrets !== undefined && secrets.length > 0 ? null : this.keyOf(order, cache, secrets !== undefined);
    if (key === null) return encodeMessage(deployMessage(order, cache, secrets));
    let template = this.templates.get(key);
    if (template === undefined) {
      template = this.templateOf(order, cache, secrets);
      this.templates.set(key, template);
    }
    if (template === null) return encodeMessage(deployMessage(order, cache, secrets));
    return template[0] + JSON.stringify(order.id) + template[1] + JSON.stringify(order.index) + template[2];
  }

  /** What the frame holds besides the id and index, in key order (null: a field a template cannot share). */
  private keyOf(order: OrderWithoutCache, cache: CacheConfig | null, withSecrets: boolean): string | null {
    let key = cache === null ? 'c-' : `c${this.cacheId(cache)}`;
    if (withSecrets) key += 's';
    const fields: Readonly<Record<string, unknown>> = order;
    for (const name in fields) {
      if (name === 'id' || name === 'index') continue;
      const value = fields[name];
      if (value !== null && typeof value === 'object') return null;
      key += `\u0000${name}\u0000${typeof value}\u0000${String(value)}`;
    }
    return key;
  }

  private cacheId(cache: CacheConfig): number {
    let id = this.cacheIds.get(cache);
    if (id === undefined) this.cacheIds.set(cache, (id = this.cacheIds.size));
    return id;
  }

  private templateOf(order: OrderWithoutCache, cache: CacheConfig | null, secrets: DeploymentOrder['secrets']): Template | null {
    const marked = encodeMessage(deployMessage({ ...order, id: ID_MARK, index: INDEX_MARK as unknown as number }, cache, secrets));
    const [head, middle, ...rest] = marked.split(QUOTED_ID_MARK);
    if (head === undefined || middle === undefined || rest.length > 0) return null;
    const [between, tail, ...more] = middle.split(QUOTED_INDEX_MARK);
    if (between === undefined || tail === undefined || more.length > 0) return null;
    return [head, between, tail];
  }
}
