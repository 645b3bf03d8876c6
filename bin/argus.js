#!/usr/bin/env node
// The `argus` command: runs the compiled program (built by `npm run build`, which `npm ci` runs via `prepare`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/cmd/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write('argus: dist/ is missing; run `npm run build` first\n');
  process.exit(2);
}
await import(main.href);
