/** Entry point: mounts the UI into #app. */
import { render } from 'preact';
import { DroverError } from './api/protocol.js';
import { App } from './app.js';
import './styles.css';

const root = document.getElementById('app');
if (!root) throw new DroverError('DROVER_ERR_INTERNAL', 'index.html has no #app element to mount the UI into');
render(<App />, root);
