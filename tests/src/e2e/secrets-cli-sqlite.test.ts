/** `drover secret` end to end on SQLite (secrets-cli-suite.ts). */
import { defineSecretsCliSuite } from './secrets-cli-suite.js';

await defineSecretsCliSuite('sqlite');
