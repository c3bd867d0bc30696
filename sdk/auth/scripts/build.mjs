// Copies the SDK that vouch serves at /sdk/vouch-auth.js (one file, no dependencies,
// embedded in the server from crates/server/assets/) into dist/, with its types, so
// that the npm package and the served script are the same bytes.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const source = path.resolve(root, '../../crates/server/assets/vouch-auth.js');
const types = path.resolve(root, 'vouch-auth.d.ts');
const dist = path.resolve(root, 'dist');

if (!fs.existsSync(source)) {
  console.error(`build: ${source} not found (run from a vouch checkout)`);
  process.exit(1);
}
fs.rmSync(dist, { recursive: true, force: true });
fs.mkdirSync(dist, { recursive: true });
fs.copyFileSync(source, path.join(dist, 'vouch-auth.js'));
fs.copyFileSync(types, path.join(dist, 'vouch-auth.d.ts'));
const size = fs.statSync(path.join(dist, 'vouch-auth.js')).size;
console.log(`build: dist/vouch-auth.js (${size} bytes) and dist/vouch-auth.d.ts`);
