/** The core deploy loop end to end on the embedded SQLite backend. */
import { defineDeploySuite } from './deploy-suite.js';

defineDeploySuite('sqlite');
