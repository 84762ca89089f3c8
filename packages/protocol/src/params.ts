/**
 * Path parameter schemas shared by the server's routes and the OpenAPI
 * document: the workspace a URL names, ids, agent and cache names.
 */
import { Type } from '@sinclair/typebox';
import { CacheNameSchema } from './cache.js';
import { PlainText, WorkspaceNameSchema } from './schemas.js';

/** `:workspace` of /api/v1/workspaces/:workspace/…. */
export const WorkspaceParamsSchema = Type.Object({ workspace: WorkspaceNameSchema });
/** `:id` of a deployment, activation or token; unknown or malformed ids are answered 404, not 400 (control characters: 400). */
export const IdParamsSchema = Type.Object({ id: PlainText({ maxLength: 64 }) });
/** `:name` of an agent; a name that cannot exist is answered 404 (control characters: 400). */
export const AgentNameParamsSchema = Type.Object({ name: PlainText({ maxLength: 64 }) });
/** `:name` of a binary cache. */
export const CacheNameParamsSchema = Type.Object({ name: CacheNameSchema });
/** `:name/:file` of a file in a binary cache. */
export const CacheFileParamsSchema = Type.Object({ name: CacheNameSchema, file: Type.String({ maxLength: 100 }) });
