/** `drover secret` end to end on PostgreSQL (secrets-cli-suite.ts). */
import { defineSecretsCliSuite } from './secrets-cli-suite.js';

await defineSecretsCliSuite('postgres');
