/** The web UI in a real browser against a server on PostgreSQL. */
import { defineUiSuite } from './ui-suite.js';

defineUiSuite('postgres');
