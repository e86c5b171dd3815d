// `npm run client:generate`: builds the app in-process (throwaway embedded database), takes its OpenAPI document
// (app.swagger(), what /docs/json serves) and writes client/schema.d.ts and the Postman collection beside it.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestGateway } from '../test/support/gateway.js';
import { renderPostman, renderSchema } from './render.js';

const here = import.meta.dirname;
const t = await startTestGateway();
try {
  const doc = t.app.swagger() as Record<string, unknown>;
  writeFileSync(join(here, 'schema.d.ts'), await renderSchema(doc));
  writeFileSync(join(here, 'switchboard.postman_collection.json'), renderPostman(doc));
  process.stderr.write('client: wrote client/schema.d.ts and client/switchboard.postman_collection.json\n');
} finally {
  await t.close();
}
