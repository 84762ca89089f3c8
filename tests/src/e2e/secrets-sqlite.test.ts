/** Secrets end to end on the embedded SQLite backend. */
import { defineSecretsSuite } from './secrets-suite.js';

defineSecretsSuite('sqlite');
