/** The web UI in a real browser against a server on SQLite. */
import { defineUiSuite } from './ui-suite.js';

defineUiSuite('sqlite');
