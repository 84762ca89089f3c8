/** The built-in binary cache end to end on SQLite with local storage. */
import { defineCacheSuite } from './cache-suite.js';

defineCacheSuite('sqlite');
