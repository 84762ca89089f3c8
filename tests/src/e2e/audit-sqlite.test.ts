/** The audit log end to end on SQLite. */
import { defineAuditSuite } from './audit-suite.js';

defineAuditSuite('sqlite');
