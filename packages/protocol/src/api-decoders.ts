/**
 * Run-time decoders (TypeBox-free, see decode.ts) for the API payloads that
 * clients must check rather than trust: what arrives on the event streams
 * and the answer of POST /activate. Each decodes exactly the type of its
 * TypeBox schema in api.ts (checked by test/light.test.ts).
 */
import { array, boolean, integer, nullable, object, oneOf, record, string, type Decoder } from './decode.js';
import { DEPLOYMENT_STATUSES, LOG_STREAMS } from './deployments.js';
import { decodeWouldRestart } from './dry-run.js';

const timestamp = string;
const nullableTimestamp = nullable(timestamp);

export const decodeActor = object({ kind: oneOf(['user', 'token']), id: string, label: string });

const decodePackage = object({ name: string, version: string });

export const decodeClosureDiff = object({
  from: nullable(string),
  to: string,
  source: oneOf(['server', 'agent']),
  added: array(decodePackage),
  removed: array(decodePackage),
  changed: array(object({ name: string, from: array(string), to: array(string) })),
  sizeDelta: nullable(integer),
  sizeFrom: nullable(integer),
  sizeTo: nullable(integer),
});

export const decodeDeployment = object(
  {
    id: string,
    workspace: string,
    agent: string,
    index: integer,
    storePath: string,
    rollbackScript: nullable(string),
    status: oneOf(DEPLOYMENT_STATUSES),
    reason: nullable(string),
    activationId: string,
    createdAt: timestamp,
    startedAt: nullableTimestamp,
    finishedAt: nullableTimestamp,
    closureSize: nullable(integer),
    createdBy: nullable(decodeActor),
    url: string,
    diff: nullable(decodeClosureDiff),
    dry: boolean,
    wouldRestart: nullable(decodeWouldRestart),
    wave: nullable(integer),
    secretsOnly: boolean,
  },
  { endedBy: nullable(object({ actor: decodeActor, reason: string, at: timestamp })) },
);

export const decodeLastDeployment = object({
  id: string,
  index: integer,
  status: oneOf(DEPLOYMENT_STATUSES),
  storePath: string,
  createdAt: timestamp,
  startedAt: nullableTimestamp,
  finishedAt: nullableTimestamp,
});

export const decodeAgent = object({
  id: string,
  name: string,
  workspace: string,
  online: boolean,
  lastSeenAt: nullableTimestamp,
  connectedAt: nullableTimestamp,
  version: nullable(string),
  system: nullable(string),
  profile: nullable(string),
  hostname: nullable(string),
  problems: array(string),
  conflict: nullable(object({ at: timestamp, hostnames: array(string) })),
  currentStorePath: nullable(string),
  lastDeployment: nullable(decodeLastDeployment),
  createdAt: timestamp,
  labels: record(string),
  agentLabels: record(string),
  adminLabels: record(nullable(string)),
  recipient: nullable(string),
});

export const decodeLogLine = object({ seq: integer, time: timestamp, stream: oneOf(LOG_STREAMS), text: string });

/** One page of a deployment's JSON log (GET …/deployments/ID/log). */
export const decodeDeploymentLog = object({ deployment: decodeDeployment, lines: array(decodeLogLine), next: nullable(integer), previous: nullable(integer) });

export const decodeActivateResponse = object({
  activationId: string,
  agents: record(
    object({ id: string, index: integer, url: string, storePath: string, online: boolean, lastSeenAt: nullableTimestamp, wave: nullable(integer) }),
  ),
  unchanged: array(string),
  url: string,
});

export const decodeDeploymentList = object({ deployments: array(decodeDeployment) }, { total: integer });

/** How many deployments are in each status: every status present. */
const decodeStatusCounts = object({
  Queued: integer,
  Pending: integer,
  InProgress: integer,
  Succeeded: integer,
  Failed: integer,
  Cancelled: integer,
  Superseded: integer,
  Held: integer,
});

/** maxFailures as given: a count or a percentage such as "5%". */
const decodeBudget: Decoder<number | string> = (value, path) => (typeof value === 'number' ? integer(value, path) : string(value, path));

/** GET …/activations/:id and the rollout actions (the activation page reads it). */
export const decodeActivationView = object({
  deployments: array(decodeDeployment),
  activation: object({
    id: string,
    createdAt: timestamp,
    createdBy: nullable(decodeActor),
    selector: nullable(string),
    counts: decodeStatusCounts,
    unchanged: array(string),
    url: string,
    rollout: nullable(
      object({
        state: oneOf(['running', 'paused', 'completed', 'stopped', 'aborted']),
        waves: array(
          object({
            index: integer,
            label: string,
            agents: integer,
            counts: decodeStatusCounts,
            state: oneOf(['waiting', 'running', 'pausing', 'succeeded', 'failed', 'held']),
          }),
        ),
        currentWave: integer,
        maxParallel: nullable(integer),
        maxFailures: decodeBudget,
        failures: integer,
        pause: integer,
        onFailure: oneOf(['stop', 'rollback']),
        reason: nullable(string),
        pauseUntil: nullableTimestamp,
        rollbackActivationId: nullable(string),
      }),
    ),
  }),
});
