// The production build: what tsc compiles (no tests, no vitest), and which program the launcher runs — the compiled
// server with no TypeScript loader when dist/ is current, the sources through tsx (with a warning) otherwise.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildState } from '../../bin/entry.js';
import { ROOT } from '../support/process.js';

// Inside the project (gitignored .tmp/) so that the copied launcher resolves tsx from the project's node_modules.
mkdirSync(join(ROOT, '.tmp'), { recursive: true });
const tmp = mkdtempSync(join(ROOT, '.tmp', 'build-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A fake project: the real bin/, a dist/ entry and (optionally) a src/ entry that print who ran them. */
function fakeRoot(name: string, opts: { dist?: boolean; src?: boolean; srcNewer?: boolean }): string {
  const root = join(tmp, name);
  cpSync(join(ROOT, 'bin'), join(root, 'bin'), { recursive: true });
  const probe = (who: string) =>
    `process.stdout.write(JSON.stringify({ who: ${JSON.stringify(who)}, execArgv: process.execArgv, argv: process.argv.slice(2) }));\n`;
  if (opts.dist) {
    mkdirSync(join(root, 'dist', 'src'), { recursive: true });
    writeFileSync(join(root, 'dist', 'src', 'main.js'), probe('dist'));
    writeFileSync(join(root, 'dist', '.build-stamp'), 'now\n');
  }
  if (opts.src) {
    mkdirSync(join(root, 'src'), { recursive: true });
    writeFileSync(
      join(root, 'src', 'main.ts'),
      `const who: string = 'tsx';\n${probe('tsx').replace('"tsx"', 'who')}`,
    );
    writeFileSync(join(root, 'src', 'main.test.ts'), '// tests do not make a build stale\n');
    const old = new Date(Date.now() - 3_600_000);
    const fresh = new Date(Date.now() + 3_600_000);
    utimesSync(join(root, 'src', 'main.ts'), opts.srcNewer ? fresh : old, opts.srcNewer ? fresh : old);
    utimesSync(join(root, 'src', 'main.test.ts'), fresh, fresh);
  }
  return root;
}

function launch(root: string) {
  const r = spawnSync(process.execPath, [join(root, 'bin', 'switchboard.js'), 'serve', '--x'], {
    cwd: tmp,
    encoding: 'utf8',
  });
  return { status: r.status, stderr: r.stderr, out: JSON.parse(r.stdout || '{}') };
}

describe('production build', () => {
  it('the launcher runs dist/src/main.js with node alone when the build is current', () => {
    const root = fakeRoot('current', { dist: true, src: true });
    expect(buildState(root)).toBe('current');
    const r = launch(root);
    expect(r.status).toBe(0);
    expect(r.out).toEqual({ who: 'dist', execArgv: [], argv: ['serve', '--x'] });
    expect(r.stderr).toBe('');
  });

  it('a tree with dist/ and no src/ (the Docker image) is current', () => {
    const root = fakeRoot('image', { dist: true });
    expect(buildState(root)).toBe('current');
    expect(launch(root).out.who).toBe('dist');
  });

  it('falls back to the sources through tsx, saying why, when dist/ is missing or older than src/', () => {
    const missing = launch(fakeRoot('missing', { src: true }));
    expect(missing.out.who).toBe('tsx');
    expect(missing.out.argv).toEqual(['serve', '--x']);
    expect(missing.stderr).toContain('dist/ is not built');

    const staleRoot = fakeRoot('stale', { dist: true, src: true, srcNewer: true });
    expect(buildState(staleRoot)).toBe('stale');
    const stale = launch(staleRoot);
    expect(stale.out.who).toBe('tsx');
    expect(stale.stderr).toContain('dist/ is older than src/');
  });

  it('compiles the server only: no test file, no test helper, nothing that imports vitest', () => {
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--listFilesOnly'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    const ours = r.stdout
      .split('\n')
      .filter((f) => f && !f.includes('node_modules'))
      .map((f) => relative(ROOT, f));
    expect(ours).toContain('src/main.ts');
    expect(ours.every((f) => f.startsWith('src/'))).toBe(true);
    expect(ours.filter((f) => f.endsWith('.test.ts'))).toEqual([]);
    expect(ours).not.toContain('src/providers/contract.ts');
    const importsVitest = ours.filter((f) => /from ['"]vitest['"]/.test(readFileSync(join(ROOT, f), 'utf8')));
    expect(importsVitest).toEqual([]);
  });

  it('npm scripts start the launcher; prepare builds; the lockfile agrees with package.json', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.scripts.start).toBe('node bin/switchboard.js serve');
    expect(pkg.scripts.prepare).toMatch(/scripts\/build\.mjs/);
    expect(pkg.scripts.dev).toMatch(/watch/);
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));
    const top = lock.packages[''];
    // What `npm install` rewrites when package.json and the lockfile disagree.
    expect(top.name).toBe(pkg.name);
    expect(top.version).toBe(pkg.version);
    expect(top.engines).toEqual(pkg.engines);
    expect(top.bin).toEqual(pkg.bin);
    expect(top.dependencies).toEqual(pkg.dependencies);
    expect(top.devDependencies).toEqual(pkg.devDependencies);
    const installScript = ['preinstall', 'install', 'postinstall'].some((s) => s in pkg.scripts);
    expect(Boolean(top.hasInstallScript)).toBe(installScript);
  });

  it('the Docker image builds dist/ in a build stage and runs it with node alone', () => {
    const docker = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    expect(docker).toMatch(/^RUN node scripts\/build\.mjs$/m);
    expect(docker).toMatch(/^COPY --from=build .*\/app\/dist \.\/dist$/m);
    expect(docker).toMatch(/^ENTRYPOINT \["node", "dist\/src\/main\.js"\]$/m);
    const runtime = docker.slice(docker.indexOf(' AS runtime'));
    expect(runtime).not.toMatch(/^COPY .*\bsrc\b/m);
    expect(docker).not.toMatch(/--import.*tsx/);
  });
});
