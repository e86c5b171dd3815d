// `switchboard migrate`: apply pending migrations and report them.
import type { Config } from '../config/index.js';
import { openDriver } from '../storage/index.js';
import { migrate } from '../storage/migrate.js';

export async function runMigrate(config: Readonly<Config>, out: (line: string) => void): Promise<void> {
  const driver = await openDriver(config.database, 'migrate');
  try {
    const applied = await migrate(driver, config.database.schema);
    out(applied.length ? `applied: ${applied.join(', ')}` : 'up to date');
  } finally {
    await driver.close();
  }
}
