// Vite build of the dashboard: Preact + TypeScript into web/dist, served by the gateway at `/`.
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  plugins: [preact()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 300,
  },
  server: {
    // `npx vite web` during development: the API runs on the gateway (npm start, port 3000).
    proxy: { '/api': { target: 'http://127.0.0.1:3000', ws: true } },
  },
});
