// Creates an embedded database directory (PGlite's initdb) in a short-lived process of its own: initdb leaves
// hundreds of MB of buffers behind that a long-running gateway would otherwise keep resident until a major GC.
// Run: node [loader flags] pglite-init.(ts|js) <dataDir>
import { PGlite } from '@electric-sql/pglite';

const dataDir = process.argv[2];
if (!dataDir) {
  process.stderr.write('usage: pglite-init <dataDir>\n');
  process.exit(2);
}
const db = new PGlite({ dataDir });
await db.waitReady;
await db.close();
