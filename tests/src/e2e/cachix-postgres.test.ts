/** The Cachix Deploy protocol end to end on PostgreSQL. */
import { defineCachixSuite } from './cachix-suite.js';

defineCachixSuite('postgres');
