/**
 * Secrets on the wire: what names, paths, owners and modes look like, and an
 * agent's age recipient. A secret is encrypted on the client with age
 * (X25519) to the chosen agents' recipients; the server only ever holds its
 * ciphertext and these fields, and hands each agent the complete set meant
 * for it with every deployment (see `DeploymentOrder.secrets`).
 */

/** 1-64 letters, digits, ".", "_" or "-", not starting with "." (it becomes a file name). */
export const SECRET_NAME_PATTERN = '^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$';
/** An age X25519 recipient: `age1` and 58 bech32 characters. */
export const AGE_RECIPIENT_PATTERN = '^age1[023456789acdefghjklmnpqrstuvwxyz]{58}$';
/** An absolute path without `..` or `.` segments, NUL or newlines. */
export const SECRET_PATH_PATTERN = '^/(?!.*(?:^|/)\\.{1,2}(?:/|$))[^\\x00\\n\\r]{1,4094}$';
/** A user or group: a name or a numeric id. */
export const SECRET_OWNER_PATTERN = '^(?:[a-z_][a-z0-9_-]{0,31}\\$?|[0-9]{1,10})$';
/** Where a secret goes when no path is given: `${SECRETS_DIR}/NAME`. */
export const SECRETS_DIR = '/run/drover/secrets';
/** The default file mode (octal 0400: read by its owner only). */
export const DEFAULT_SECRET_MODE = 0o400;
/** Largest plaintext accepted (the ciphertext adds about 200 bytes per recipient). */
export const MAX_SECRET_BYTES = 64 * 1024;
/** Most secrets one agent receives. */
export const MAX_SECRETS_PER_AGENT = 64;
/**
 * Most bytes an agent's whole secret set may take in its deploy frame
 * (ciphertext, path and name of each, plus a little per entry): the frame
 * must stay under MAX_FRAME_BYTES (1 MiB) with the rest of the order.
 */
export const MAX_AGENT_SECRETS_BYTES = 896 * 1024;
/** Longest base64 ciphertext of one secret (what `SecretOrderSchema` accepts). */
export const MAX_SECRET_CIPHERTEXT_CHARS = 4 * MAX_SECRET_BYTES;
/** The first line of every age file in its binary format. */
export const AGE_HEADER_LINE = 'age-encryption.org/v1';
