/** Secrets end to end on PostgreSQL. */
import { defineSecretsSuite } from './secrets-suite.js';

defineSecretsSuite('postgres');
