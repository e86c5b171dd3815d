// House rules checked mechanically: dependencies point inward, and every error code is documented.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from './domain/errors.js';

const SRC = import.meta.dirname;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return files(p);
    return p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : [];
  });
}

/** Every import specifier of a file, relative ones resolved to a path under src/. */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [
    ...text.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g),
  ].map((m) => m[1] ?? m[2]);
  return specs.map((s) => (s.startsWith('.') ? relative(SRC, resolve(dirname(file), s)) : s));
}

/** The session supervisor's files (issue 19: registry and lifecycle, ingestion, status writes, forwarding). */
const SUPERVISOR_FILES = [
  'core/supervisor.ts',
  'core/supervisor-api.ts',
  'core/session-events.ts',
  'core/session-status.ts',
  'core/session-forwarding.ts',
];

/** Lines of `rel` (a path under src/) matching `pattern`, as "file:line: text". */
function mentions(rel: string, pattern: RegExp): string[] {
  return readFileSync(join(SRC, rel), 'utf8')
    .split('\n')
    .map((line, i) => ({ line, at: `${rel}:${i + 1}` }))
    .filter(({ line }) => pattern.test(line))
    .map(({ at, line }) => `${at}: ${line.trim()}`);
}

/** layer → what it may not import (package names, or folders under src/). */
const FORBIDDEN: Record<string, RegExp> = {
  // zod only for the event payload schemas (domain/events.ts: one source for emitters, OpenAPI and the dashboard).
  domain: /^(?!domain\/|zod$)(?!node:)|^node:(?!crypto)/,
  ports: /^(?!domain\/|ports\/)/,
  core: /^(fastify|@fastify|fastify-type-provider-zod|pg|@electric-sql|baileys|grammy|ioredis|telegram-test-api|providers\/|storage\/|http\/|delivery\/|runtime\/|mcp\/|cli\/|app|gateway|main)/,
  providers:
    /^(fastify|@fastify|pg|@electric-sql|storage\/|http\/|delivery\/|runtime\/|mcp\/|cli\/|app|gateway|main)/,
};

describe('architecture', () => {
  for (const [layer, forbidden] of Object.entries(FORBIDDEN)) {
    it(`${layer} imports only what its layer allows`, () => {
      const bad: string[] = [];
      for (const f of files(join(SRC, layer))) {
        for (const spec of imports(f)) {
          if (layer === 'providers' && spec.startsWith('providers/')) continue;
          if (forbidden.test(spec)) bad.push(`${relative(SRC, f)} imports ${spec}`);
        }
      }
      expect(bad).toEqual([]);
    });
  }

  it('only the registry imports provider folders', () => {
    const bad: string[] = [];
    for (const f of files(SRC)) {
      const rel = relative(SRC, f);
      if (rel.startsWith('providers/')) continue;
      for (const spec of imports(f)) {
        if (
          /^providers\/(?!registry|contract)[^/]+\//.test(spec) &&
          !/^providers\/simulator\/network/.test(spec)
        ) {
          bad.push(`${rel} imports ${spec}`);
        }
      }
    }
    expect(bad).toEqual([]);
  });

  it('no error is swallowed silently: no `.catch(() => {})` or `.catch(() => undefined)` in src/', () => {
    // A rejection is handled for a named case, logged with context, or waited for with core/settled.ts where its
    // own caller already got it (issue 19).
    const bad = files(SRC).flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .map((line, i) => ({ line, at: `${relative(SRC, f)}:${i + 1}` }))
        .filter(({ line }) => /\.catch\(\s*\(\s*\)\s*=>\s*(\{\s*\}|undefined)\s*\)/.test(line))
        .map(({ at }) => at),
    );
    expect(bad).toEqual([]);
  });

  it('only the composition root imports gateway.ts (routes and services get what they use as options)', () => {
    const root = /^(gateway|app|main)\.ts$|^cli\//;
    const bad: string[] = [];
    for (const f of files(SRC)) {
      const rel = relative(SRC, f);
      if (root.test(rel)) continue;
      for (const spec of imports(f)) if (spec === 'gateway.js') bad.push(`${rel} imports ${spec}`);
    }
    expect(bad).toEqual([]);
  });

  it('route plugins never take the gateway, nor a Gateway-typed parameter', () => {
    const bad = files(join(SRC, 'http'))
      .filter((f) => /\bGateway\b/.test(readFileSync(f, 'utf8')))
      .map((f) => relative(SRC, f));
    expect(bad).toEqual([]);
  });

  it('the supervisor does not know the warm pool: no import of it and no reference to it (issue 19)', () => {
    // The pool follows sessions through the events the supervisor publishes on the bus (core/pool.ts).
    const bad: string[] = [];
    for (const rel of SUPERVISOR_FILES) {
      const file = join(SRC, rel);
      for (const spec of imports(file))
        if (/^core\/pool(-[^/]*)?\.js$/.test(spec)) bad.push(`${rel} imports ${spec}`);
      // Any "pool" that is not part of "spool" (the inbound spool): PoolService, POOL_COMPANY, is_pooled, "warm pool".
      bad.push(...mentions(rel, /(?<!s)pool/i));
    }
    expect(bad).toEqual([]);
  });

  it('in core, only the forwarding decorator knows that commands can run on another replica (issue 19)', () => {
    // The local supervisor runs every command here; core/session-forwarding.ts wraps it (wired in gateway.ts).
    const bad = files(join(SRC, 'core'))
      .map((f) => relative(SRC, f))
      .filter((rel) => rel !== 'core/session-forwarding.ts')
      .flatMap((rel) => mentions(rel, /\b(CommandForwarder|ClusterCommand|forwarder)\b|\.forward\(/));
    const local = join(SRC, 'core/supervisor.ts');
    bad.push(...imports(local).filter((spec) => spec === 'core/session-forwarding.js'));
    expect(bad).toEqual([]);
  });

  it('provider-event ingestion does not manage sessions: no registry, lock, lease or provider session (issue 19)', () => {
    // core/session-events.ts turns what a session reports into writes; opening and closing it is the supervisor's
    // (a session that ended itself is handed back through `endItself`).
    const rel = 'core/session-events.ts';
    const bad = imports(join(SRC, rel)).filter((spec) => /^core\/supervisor|^ports\/leases\.js$/.test(spec));
    bad.push(
      ...mentions(
        rel,
        /\b(ProviderSession|ProviderRegistry|SessionLeases|createSession|withLock)\b|\.(stop|logout)\(/,
      ),
    );
    expect(bad).toEqual([]);
  });

  it('storage owns all SQL: the ports expose none, and no module outside storage runs a statement (issue 16)', () => {
    // What outside storage may import of it: opening the store (the composition root and the CLI), migrations (CLI)
    // and the driver error mapping (HTTP errors). Everything else goes through the repositories of the ports.
    const allowed = /^storage\/(index|migrate|sql)\.js$/;
    const bad: string[] = [];
    for (const f of files(SRC)) {
      const rel = relative(SRC, f);
      if (rel.startsWith('storage/')) continue;
      for (const spec of imports(f))
        if (spec.startsWith('storage/') && !allowed.test(spec)) bad.push(`${rel} imports ${spec}`);
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(/\b(sql\.query|qschema|SqlRunner|\.transaction\()/g))
        bad.push(`${rel}: ${m[0]}`);
    }
    expect(bad).toEqual([]);
  });

  it('no module reads process.env except the config loader and the CLI entry', () => {
    const bad = files(SRC)
      .filter((f) => !/config\/index\.ts$|main\.ts$/.test(f))
      .filter((f) => /process\.env/.test(readFileSync(f, 'utf8')))
      .map((f) => relative(SRC, f));
    expect(bad).toEqual([]);
  });

  it('no console.log in product code', () => {
    const bad = files(SRC)
      .filter((f) => /console\.(log|info|debug)\(/.test(readFileSync(f, 'utf8')))
      .map((f) => relative(SRC, f));
    expect(bad).toEqual([]);
  });

  it('documents every error code in docs/errors.md', () => {
    const doc = readFileSync(join(SRC, '..', 'docs', 'errors.md'), 'utf8');
    const missing = Object.keys(ERROR_CODES).filter((c) => !doc.includes(`\`${c}\``));
    expect(missing).toEqual([]);
  });

  it('documents every environment variable in docs/configuration.md', () => {
    const source = readFileSync(join(SRC, 'config', 'index.ts'), 'utf8');
    const schema = source.slice(source.indexOf('const envSchema'), source.indexOf('export interface Config'));
    const vars = [...schema.matchAll(/^ {2}([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]);
    expect(vars.length).toBeGreaterThan(30);
    const doc = readFileSync(join(SRC, '..', 'docs', 'configuration.md'), 'utf8');
    expect(vars.filter((v) => !doc.includes(`\`${v}\``))).toEqual([]);
  });
});
