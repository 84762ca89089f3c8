/** The Cachix Deploy protocol end to end on the embedded SQLite backend. */
import { defineCachixSuite } from './cachix-suite.js';

defineCachixSuite('sqlite');
