// Shared set-up of the dashboard's browser tests: the built UI, one Chromium, a listening gateway, axe-core.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { createCompany, startTestGateway, type TestGateway } from '../support/gateway.js';
import { serviceTarget } from '../support/service-specs.js';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const SHOTS = join(ROOT, 'test-results');
/** Waits for UI conditions (never a timing assertion: the bound only turns a hang into a failure). */
export const UI_WAIT = 10_000;

function newestMtime(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, name.name);
    newest = Math.max(newest, name.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** Builds the web assets when they are missing or older than the sources (a fresh checkout, an edit). */
export function ensureBuilt(): void {
  const index = join(ROOT, 'web', 'dist', 'index.html');
  if (existsSync(index) && statSync(index).mtimeMs >= newestMtime(join(ROOT, 'web', 'src'))) return;
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', 'web'], {
    cwd: ROOT,
    stdio: 'ignore',
  });
}

/** Launches Debian's Chromium at `executablePath` (the `chromium` service's target: CHROMIUM_PATH or /usr/bin/chromium). */
export function launchChromium(executablePath = serviceTarget('chromium', process.env)): Promise<Browser> {
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export interface DashboardEnv {
  t: TestGateway;
  browser: Browser;
  companyKey: string;
  /** JSON call with the company key (or `key`), throwing on an error status. */
  api<T = any>(method: string, url: string, payload?: unknown, key?: string): Promise<T>;
  close(): Promise<void>;
}

export async function startDashboardEnv(
  company: string,
  env: Record<string, string> = {},
): Promise<DashboardEnv> {
  ensureBuilt();
  mkdirSync(SHOTS, { recursive: true });
  const launching = launchChromium();
  const t = await startTestGateway({ listen: true, env });
  const browser = await launching;
  const companyKey = (await createCompany(t, company)).authorization.replace(/^Bearer /, '');
  const api = async (method: string, url: string, payload?: unknown, key = companyKey) => {
    const res = await t.app.inject({
      method: method as 'GET',
      url,
      headers: { authorization: `Bearer ${key}` },
      payload: payload as Record<string, unknown>,
    });
    if (res.statusCode >= 400) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`);
    return res.json();
  };
  return {
    t,
    browser,
    companyKey,
    api,
    async close() {
      await browser.close();
      await t.close();
    },
  };
}

export async function signIn(page: Page, url: string, key: string): Promise<void> {
  await page.goto(url);
  await page.getByLabel('Admin, company or instance API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Where keyboard focus is: tag, id, role and text of document.activeElement. */
export function focused(page: Page): Promise<{ tag: string; id: string; text: string; role: string | null }> {
  return page.evaluate(() => {
    const a = document.activeElement as HTMLElement | null;
    return {
      tag: a?.tagName.toLowerCase() ?? '',
      id: a?.id ?? '',
      text: (a?.textContent ?? '').trim(),
      role: a?.getAttribute('role') ?? null,
    };
  });
}

const AXE = readFileSync(join(ROOT, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');

export interface AxeFinding {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

/** Runs axe-core (WCAG 2.x A/AA and best practices) in the page; returns the serious and critical violations. */
export async function axeSerious(page: Page): Promise<AxeFinding[]> {
  // Evaluated through the DevTools protocol: the page's CSP (script-src 'self') stays in force for the app.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE);
  return page.evaluate(async () => {
    const axe = (window as any).axe;
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations
      .filter((v: any) => v.impact === 'serious' || v.impact === 'critical')
      .map((v: any) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        targets: v.nodes.slice(0, 5).map((n: any) => `${n.target.join(' ')} ${n.failureSummary ?? ''}`),
      }));
  });
}

/**
 * Non-text contrast (WCAG 1.4.11): the border of every visible input, select, textarea and outlined button
 * against the background behind it. Returns the controls below 3:1.
 */
export function weakBorders(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const parse = (c: string): [number, number, number, number] => {
      const m = c.match(/rgba?\(([^)]+)\)/);
      if (!m) return [0, 0, 0, 0];
      const p = m[1]
        .split(/[ ,/]+/)
        .filter(Boolean)
        .map(Number);
      return [p[0], p[1], p[2], p[3] ?? 1];
    };
    const lum = ([r, g, b]: number[]) => {
      const f = (v: number) => {
        const s = v / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const behind = (el: Element): number[] => {
      for (let p = el.parentElement; p; p = p.parentElement) {
        const c = parse(getComputedStyle(p).backgroundColor);
        if (c[3] > 0.5) return c;
      }
      return parse(getComputedStyle(document.documentElement).backgroundColor);
    };
    const bad: string[] = [];
    for (const el of Array.from(document.querySelectorAll('input, select, textarea, button'))) {
      const s = getComputedStyle(el);
      const box = (el as HTMLElement).getBoundingClientRect();
      if (box.width === 0 || s.visibility === 'hidden' || parseFloat(s.borderTopWidth) === 0) continue;
      if (el.closest('.sr-only')) continue;
      const border = parse(s.borderTopColor);
      if (border[3] === 0) continue;
      const own = parse(s.backgroundColor);
      const back = behind(el);
      // A filled control (a primary button) is bounded by its fill; check that instead of the border.
      const edge = own[3] > 0.5 && lum(own) !== lum(back) && border.join() === own.join() ? own : border;
      const [a, b] = [lum(edge), lum(back)].sort((x, y) => y - x);
      const ratio = (a + 0.05) / (b + 0.05);
      if (ratio < 3)
        bad.push(
          `${el.tagName.toLowerCase()}#${el.id || (el.textContent ?? '').trim().slice(0, 20)}: ${ratio.toFixed(2)}`,
        );
    }
    return bad;
  });
}

/** True when the page scrolls sideways. */
export function scrollsSideways(page: Page): Promise<boolean> {
  return page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
}
