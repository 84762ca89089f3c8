/** The secrets tables as Kysely sees them (migration 0014, secrets/migration.ts). */

export interface SecretsTable {
  id: string;
  workspace_id: string;
  name: string;
  /** Absolute path the agent writes the file to. */
  path: string;
  /** User and group (names or ids); null: the agent's own. */
  owner: string | null;
  group_name: string | null;
  mode: number;
  /** 1 on creation, +1 on every change. */
  version: number;
  /** The age file (binary format) as base64: encrypted on the client, never plaintext. */
  ciphertext: string;
  created_at: string;
  /** `user:NAME` or `token:ID`, and its label then. */
  created_by: string | null;
  created_by_label: string | null;
  updated_at: string;
  updated_by: string | null;
  updated_by_label: string | null;
}

/** One agent a secret is for, and the recipient its ciphertext was encrypted to. */
export interface SecretTargetsTable {
  secret_id: string;
  agent_id: string;
  recipient: string;
}
