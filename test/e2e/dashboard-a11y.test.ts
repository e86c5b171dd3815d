// Dashboard accessibility in Debian Chromium: axe-core on every page (light, dark, 390 px and 320 px phones),
// border contrast, no sideways scrolling, and a keyboard-only walk that checks where focus lands.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, TEST_ADMIN_KEY } from '../support/gateway.js';
import { requireService } from '../support/services.js';
import {
  axeSerious,
  type DashboardEnv,
  focused,
  SHOTS,
  scrollsSideways,
  signIn,
  startDashboardEnv,
  UI_WAIT,
  weakBorders,
} from './dashboard-support.js';

const chromium = await requireService('chromium');

const COMPANY = 'a11y-co';
let env: DashboardEnv;
let instanceId: string;

const VARIANTS = [
  { name: 'light', scheme: 'light', width: 1280, height: 900 },
  { name: 'dark', scheme: 'dark', width: 1280, height: 900 },
  { name: 'phone-390', scheme: 'light', width: 390, height: 844 },
  { name: 'phone-320', scheme: 'dark', width: 320, height: 640 },
] as const;

/** Everything audit() found so far, also written to test-results/ (the axe record of a run). */
const found: string[] = [];

/** Every variant of the page as it stands: axe, borders (wide), no sideways scrolling (phones). */
async function audit(page: Page, label: string): Promise<string[]> {
  const problems: string[] = [];
  for (const v of VARIANTS) {
    await page.emulateMedia({ colorScheme: v.scheme });
    await page.setViewportSize({ width: v.width, height: v.height });
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r(null))));
    for (const f of await axeSerious(page))
      problems.push(`${label} [${v.name}] ${f.impact} ${f.id}: ${f.help} — ${f.targets.join(' | ')}`);
    if (v.width > 720)
      for (const b of await weakBorders(page)) problems.push(`${label} [${v.name}] border below 3:1: ${b}`);
    else if (await scrollsSideways(page)) problems.push(`${label} [${v.name}] scrolls sideways`);
    found.push(...problems.filter((p) => !found.includes(p)));
    writeFileSync(join(SHOTS, 'dashboard-a11y-findings.json'), JSON.stringify(found, null, 2));
    if (label === 'instance-chats')
      await page.screenshot({ path: join(SHOTS, `dashboard-a11y-${label}-${v.name}.png`), fullPage: true });
  }
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 1280, height: 900 });
  return problems;
}

async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await env.browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(UI_WAIT);
  return { context, page: await context.newPage() };
}

beforeAll(async () => {
  env = await startDashboardEnv(COMPANY, {
    POOL_ENABLED: 'true',
    POOL_PROVIDER: 'simulator',
    POOL_SIZE: '1',
    POOL_MIN_FREE: '0',
    POOL_REFILL: '1',
    WEBHOOK_ALLOW_PRIVATE: 'true',
  });
  await env.t.gw.pool.fill();
  const r = await env.api('POST', '/api/v1/instances', {
    company_id: COMPANY,
    provider: 'simulator',
    name: 'Front desk',
    type_instance: ['api', 'mcp'],
  });
  instanceId = r.instance.id;
  // A long account number: the page must still fit a 320 px screen.
  await env.api('POST', `/api/v1/instances/${instanceId}/simulate/scan`, { phone: '491512345678901' });
  await env.api('PUT', `/api/v1/instances/${instanceId}/webhooks`, { url: 'http://127.0.0.1:9/hook' });
  await env.api('POST', `/api/v1/instances/${instanceId}/simulate/inbound`, {
    from: '+4915123456789',
    text: 'Hi! Is the shop open on Saturday?',
    name: 'Ada',
  });
}, 180_000);

afterAll(async () => {
  await env?.close();
});

describe.skipIf(!chromium.available)('dashboard accessibility', () => {
  it('axe finds no serious or critical violation on any page, in light, dark and on phones', async () => {
    const { context, page } = await newPage();
    const problems: string[] = [];
    try {
      await page.goto(env.t.url);
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      problems.push(...(await audit(page, 'sign-in')));

      await signIn(page, env.t.url, env.companyKey);
      await page.getByRole('heading', { name: 'Instances', level: 1 }).waitFor();
      await page.locator(`tr[data-instance="${instanceId}"]`).waitFor();
      await page.getByText('● live').waitFor();
      problems.push(...(await audit(page, 'instances')));
      await page.getByRole('button', { name: 'New instance' }).click();
      await page.getByRole('heading', { name: 'New instance' }).waitFor();
      problems.push(...(await audit(page, 'new-instance')));

      await page.goto(`${env.t.url}/#/instances/${instanceId}`);
      await page.getByRole('heading', { name: 'Front desk', level: 1 }).waitFor();
      await page.locator('.msg.in', { hasText: 'Saturday' }).waitFor();
      await page.getByLabel('Message', { exact: true }).fill('Yes, 9 to 14.');
      await page.getByRole('button', { name: 'Send' }).click();
      await page.locator('.msg.out', { hasText: '9 to 14' }).waitFor();
      problems.push(...(await audit(page, 'instance-chats')));
      await page.getByRole('tab', { name: 'Timeline' }).click();
      await page.locator('.timeline li').first().waitFor();
      problems.push(...(await audit(page, 'instance-timeline')));
      await page.getByRole('tab', { name: 'Webhooks' }).click();
      await page.getByText('http://127.0.0.1:9/hook', { exact: true }).waitFor();
      await page.getByRole('heading', { name: 'Delivery log' }).waitFor();
      await page.getByText('Loading the delivery log…').waitFor({ state: 'detached' });
      problems.push(...(await audit(page, 'instance-webhooks')));
      await page.getByRole('tab', { name: 'MCP' }).click();
      await page.getByRole('heading', { name: 'Audit log' }).waitFor();
      problems.push(...(await audit(page, 'instance-mcp')));
      await page.getByRole('tab', { name: 'Keys' }).click();
      await page.getByRole('button', { name: 'Rotate key' }).click();
      // A danger confirm too (its filled red button must keep its contrast in dark mode).
      await page.getByRole('button', { name: 'Delete', exact: true }).click();
      await page.getByRole('button', { name: 'Yes, delete' }).waitFor();
      problems.push(...(await audit(page, 'instance-keys-confirm')));

      await page
        .getByRole('navigation', { name: 'Main' })
        .getByRole('link', { name: 'Connect WhatsApp' })
        .click();
      await page.getByRole('button', { name: 'Connect WhatsApp' }).waitFor();
      problems.push(...(await audit(page, 'connect')));

      await page.getByRole('button', { name: 'Sign out' }).click();
      await signIn(page, env.t.url, TEST_ADMIN_KEY);
      await page.getByRole('heading', { name: 'Instances', level: 1 }).waitFor();
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Pool' }).click();
      await page.locator('.tile').first().waitFor();
      await page.locator('table').waitFor();
      problems.push(...(await audit(page, 'pool')));
    } finally {
      await context.close();
    }
    expect(problems).toEqual([]);
  }, 240_000);

  it('keyboard only: sign in → open the instance → send → sign out, with focus where it belongs', async () => {
    const { context, page } = await newPage();
    try {
      const tabTo = async (match: (f: Awaited<ReturnType<typeof focused>>) => boolean, back = false) => {
        for (let i = 0; i < 60; i++) {
          await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
          if (match(await focused(page))) return;
        }
        throw new Error(`focus never reached the target; it is on ${JSON.stringify(await focused(page))}`);
      };
      /** Waits until focus lands on the element with `text` (focus moves when a re-render commits). */
      const focusLandsOn = (text: string) =>
        eventually(async () => {
          const f = await focused(page);
          if (f.text !== text) throw new Error(`focus is on ${JSON.stringify(f)}, not "${text}"`);
          return true;
        });
      // The chat list answers slowly, as on a loaded machine: a keyboard user who types before it arrives must not
      // lose the message (CI once sent before the list came and the text went nowhere).
      await page.route(/\/chats\?/, async (route) => {
        await new Promise((r) => setTimeout(r, 1_500));
        await route.continue();
      });
      await page.goto(env.t.url);
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();

      // The skip link is the first tab stop and leads to the page's heading.
      await page.keyboard.press('Tab');
      expect((await focused(page)).text).toBe('Skip to main content');
      await page.keyboard.press('Enter');
      expect(await focused(page)).toMatchObject({ tag: 'h1', text: 'Sign in' });

      // Sign-in method tabs follow the ARIA pattern: one tab stop, arrow keys switch.
      await page.keyboard.press('Tab');
      expect(await focused(page)).toMatchObject({ role: 'tab', text: 'API key' });
      await page.keyboard.press('ArrowRight');
      expect(await focused(page)).toMatchObject({ role: 'tab', text: 'Email and password' });
      await page.getByLabel('Email', { exact: true }).waitFor();
      await page.keyboard.press('ArrowLeft');
      expect(await focused(page)).toMatchObject({ role: 'tab', text: 'API key' });
      await page.keyboard.press('Tab');
      expect((await focused(page)).id).toBe('api-key');
      await page.keyboard.type(env.companyKey);
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'Instances', level: 1 }).waitFor();
      await eventually(
        async () => (await focused(page)).text === 'Instances' && (await focused(page)).tag === 'h1',
      );

      // A confirm: Enter opens it with focus on the confirming button; Escape cancels and returns focus.
      const row = page.locator(`tr[data-instance="${instanceId}"]`);
      await row.waitFor();
      await tabTo((f) => f.text === 'Restart');
      // Focus moves when the re-render commits (asynchronously after the key press), so each step waits for it.
      await page.keyboard.press('Enter');
      await focusLandsOn('Yes, restart');
      await page.keyboard.press('Escape');
      await focusLandsOn('Restart');
      await page.keyboard.press('Enter');
      await focusLandsOn('Yes, restart');
      await page.keyboard.press('Tab');
      expect((await focused(page)).text).toBe('Cancel');
      await page.keyboard.press('Enter');
      await focusLandsOn('Restart');

      // Open the instance: focus on its heading.
      await tabTo((f) => f.text === 'Front desk', true);
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'Front desk', level: 1 }).waitFor();
      await focusLandsOn('Front desk');

      // The instance tabs: arrow keys move and select.
      await tabTo((f) => f.role === 'tab');
      expect((await focused(page)).text).toBe('Chats');
      await page.keyboard.press('ArrowRight');
      expect((await focused(page)).text).toBe('Timeline');
      expect(await page.getByRole('tab', { name: 'Timeline' }).getAttribute('aria-selected')).toBe('true');
      await page.keyboard.press('Home');
      expect((await focused(page)).text).toBe('Chats');

      // Send: the message box keeps focus, the message appears in the thread.
      await tabTo((f) => f.id === 'send-text');
      await page.keyboard.type('Sent by keyboard');
      await page.keyboard.press('Enter');
      await page.locator('.msg.out', { hasText: 'Sent by keyboard' }).waitFor();
      expect((await focused(page)).id).toBe('send-text');

      // Sign out: focus on the sign-in heading.
      await tabTo((f) => f.text === 'Sign out', true);
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      await eventually(
        async () => (await focused(page)).text === 'Sign in' && (await focused(page)).tag === 'h1',
      );
    } finally {
      await context.close();
    }
  }, 120_000);
});
