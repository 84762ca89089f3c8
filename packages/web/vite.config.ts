/**
 * Vite build of the web UI: Preact through Vite's own JSX transform (no
 * Babel), one hashed bundle under dist/assets/ that drover server serves.
 */
import { defineConfig } from 'vite';

export default defineConfig({
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: true,
  },
  server: {
    // `npm run dev` against a local `drover server` on its default port.
    proxy: { '/api': { target: process.env['DROVER_SERVER'] ?? 'http://127.0.0.1:7700', changeOrigin: false } },
  },
});
