/**
 * Run-time decoders (TypeBox-free, see decode.ts) for the API payloads that
 * clients must check rather than trust: what arrives on the event streams
 * and the answer of POST /activate. Each decodes exactly the type of its
 * TypeBox schema in api.ts (checked by test/light.test.ts).
 */
import { array, boolean, integer, nullable, object, oneOf, record, string } from './decode.js';
import { DEPLOYMENT_STATUSES, LOG_STREAMS } from './deployments.js';

const timestamp = string;
const nullableTimestamp = nullable(timestamp);

export const decodeActor = object({ kind: oneOf(['user', 'token']), id: string, label: string });

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
    wave: nullable(integer),
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
});

export const decodeLogLine = object({ seq: integer, time: timestamp, stream: oneOf(LOG_STREAMS), text: string });

/** One page of a deployment's JSON log (GET …/deployments/ID/log). */
export const decodeDeploymentLog = object({ deployment: decodeDeployment, lines: array(decodeLogLine), next: nullable(integer), previous: nullable(integer) });

export const decodeActivateResponse = object({
  activationId: string,
  agents: record(object({ id: string, index: integer, url: string, storePath: string, online: boolean, lastSeenAt: nullableTimestamp, wave: nullable(integer) })),
  unchanged: array(string),
  url: string,
});

export const decodeDeploymentList = object({ deployments: array(decodeDeployment) }, { total: integer });
