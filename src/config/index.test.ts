// Config parsing: defaults, aliases, and every problem reported together.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './index.js';

describe('loadConfig', () => {
  it('applies defaults', () => {
    const c = loadConfig({});
    expect(c.port).toBe(3000);
    expect(c.database.schema).toBe('public');
    expect(c.database.url).toBeUndefined();
    expect(c.database.dataDir).toBe('./data');
    expect(c.simulator.enabled).toBe(true);
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.database)).toBe(true);
  });

  it('accepts INSTANCE_MANAGER_PORT as an alias of PORT, PORT winning', () => {
    expect(loadConfig({ INSTANCE_MANAGER_PORT: '4100' }).port).toBe(4100);
    expect(loadConfig({ INSTANCE_MANAGER_PORT: '4100', PORT: '4200' }).port).toBe(4200);
  });

  it('parses switches', () => {
    expect(loadConfig({ SIMULATOR: 'off' }).simulator.enabled).toBe(false);
    expect(loadConfig({ DATABASE_SSL: 'true' }).database.ssl).toBe(true);
  });

  it('lists every problem in one error', () => {
    let err: unknown;
    try {
      loadConfig({
        PORT: 'abc',
        DATABASE_URL: 'mysql://x',
        DATABASE_SCHEMA: 'Bad-Name',
        SIMULATOR: 'maybe',
        ADMIN_API_KEY: 'short',
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems.join('\n');
    for (const v of ['PORT', 'DATABASE_URL', 'DATABASE_SCHEMA', 'SIMULATOR', 'ADMIN_API_KEY'])
      expect(problems).toContain(v);
  });
});
