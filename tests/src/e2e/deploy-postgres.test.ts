/** The core deploy loop end to end on PostgreSQL. */
import { defineDeploySuite } from './deploy-suite.js';

defineDeploySuite('postgres');
