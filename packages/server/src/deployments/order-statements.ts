/**
 * The read of the Pending deployments an agent is sent (repository.ts:
 * after a hello, an outcome, a 'deploy' event), as SQL text built once per
 * filter and list length (db/many-values.ts) instead of by Kysely's query
 * builder at every hello and for every chunk of an activation's agents.
 */
import { CompiledQuery, type Kysely } from 'kysely';
import { manyValuesOf, sqlText } from '../db/many-values.js';
import type { Database, DeploymentRow } from '../db/schema.js';

/** A Pending deployment with what its order needs of the agent (`system`) and of its closure diff (whether there is one). */
export type OrderRow = Pick<
  DeploymentRow,
  | 'id'
  | 'agent_id'
  | 'workspace_id'
  | 'index_no'
  | 'store_path'
  | 'rollback_script'
  | 'rollback_scripts'
  | 'activation_timeout_ms'
  | 'confirm_timeout_ms'
  | 'dry'
  | 'secrets_only'
> & { readonly diff_pair: string | null; readonly system: string | null };

const SELECTED = [
  `"deployment_diffs"."pair" as "diff_pair"`,
  ...[
    'id',
    'agent_id',
    'workspace_id',
    'index_no',
    'store_path',
    'rollback_script',
    'rollback_scripts',
    'activation_timeout_ms',
    'confirm_timeout_ms',
    'dry',
    'secrets_only',
  ].map((c) => `"deployments"."${c}"`),
  `"agents"."system"`,
].join(', ');

const FROM =
  `select ${SELECTED} from "deployments"` +
  ` inner join "agents" on "agents"."id" = "deployments"."agent_id"` +
  ` left join "deployment_diffs" on "deployment_diffs"."deployment_id" = "deployments"."id"` +
  ` where "deployments"."status" = 'Pending'`;

/** Which Pending deployments: of these agents, these ones, one activation's, or one activation's of these agents. */
export type OrderFilter =
  { readonly agentIds: readonly string[] } | { readonly ids: readonly string[] } | { readonly activationId: string; readonly agentIds?: readonly string[] };

/** The Pending deployments `filter` names, with what their orders need. */
export async function selectOrders(db: Kysely<Database>, filter: OrderFilter): Promise<OrderRow[]> {
  const many = manyValuesOf(db);
  let shape: string;
  let where: () => string;
  let parameters: unknown[];
  if ('activationId' in filter) {
    const agents = filter.agentIds;
    if (agents?.length === 0) return [];
    if (agents === undefined) {
      shape = 'activation';
      where = () => ` and "deployments"."activation_id" = ${many.one(1)}`;
      parameters = [filter.activationId];
    } else {
      // The activation as a filter, not an index look-up (repository.ts pendingOrdersOfActivation says why).
      shape = `activation-agents:${agents.length}`;
      where = () => ` and "deployments"."activation_id" || '' = ${many.one(1)} and ${many.inList('"deployments"."agent_id"', 2, agents.length)}`;
      parameters = [filter.activationId, ...many.listParameters(agents)];
    }
  } else {
    const [column, values] = 'ids' in filter ? (['id', filter.ids] as const) : (['agent_id', filter.agentIds] as const);
    if (values.length === 0) return [];
    shape = `${column}:${values.length}`;
    where = () => ` and ${many.inList(`"deployments"."${column}"`, 1, values.length)}`;
    parameters = many.listParameters(values);
  }
  const query = sqlText(many, `orders.${shape}`, () => FROM + where());
  return (await db.executeQuery<OrderRow>(CompiledQuery.raw(query, parameters))).rows;
}
