/** The audit log end to end on PostgreSQL. */
import { defineAuditSuite } from './audit-suite.js';

defineAuditSuite('postgres');
