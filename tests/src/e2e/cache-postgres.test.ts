/** The built-in binary cache end to end on PostgreSQL with local storage. */
import { defineCacheSuite } from './cache-suite.js';

defineCacheSuite('postgres');
