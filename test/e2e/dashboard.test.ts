// Dashboard in a real browser (Debian Chromium via playwright-core) against a listening test gateway.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createCompany,
  eventually,
  startTestGateway,
  TEST_ADMIN_KEY,
  type TestGateway,
} from '../support/gateway.js';
import { requireService } from '../support/services.js';
import { ensureBuilt, launchChromium } from './dashboard-support.js';

const chromiumService = await requireService('chromium');

const ROOT = resolve(import.meta.dirname, '..', '..');
const SHOTS = join(ROOT, 'test-results');
const COMPANY = 'dash-co';
/** Waits for UI conditions (never a timing assertion: the bound only turns a hang into a failure). */
const UI_WAIT = 10_000;
/**
 * Acks come this long after a send. The core drops an ack that overtakes the commit of its message (a 10 ms ack
 * loses that race on a busy PostgreSQL), so the test leaves the message time to be stored first.
 */
const ACK_DELAY_MS = 1000;

let t: TestGateway;
let browser: Browser;
let companyKey: string;
let context: BrowserContext;
let page: Page;

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `dashboard-${name}.png`), fullPage: true });
}

async function signIn(key: string): Promise<void> {
  await page.goto(t.url);
  await page.getByLabel('Admin, company or instance API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

async function api<T = any>(method: string, url: string, payload?: unknown): Promise<T> {
  const res = await t.app.inject({
    method: method as 'GET',
    url,
    headers: { authorization: `Bearer ${companyKey}` },
    payload: payload as Record<string, unknown>,
  });
  if (res.statusCode >= 400) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`);
  return res.json() as T;
}

async function createSimulator(name: string): Promise<string> {
  const r = await api('POST', '/api/v1/instances', { company_id: COMPANY, provider: 'simulator', name });
  return r.instance.id as string;
}

beforeAll(async () => {
  ensureBuilt();
  mkdirSync(SHOTS, { recursive: true });
  // The browser starts while the gateway migrates its database.
  const launching = launchChromium(chromiumService.target);
  t = await startTestGateway({
    listen: true,
    env: {
      SIMULATOR_ACK_DELAY_MS: String(ACK_DELAY_MS),
      // A tiny warm pool for the "Connect WhatsApp" flow, filled by that test only.
      POOL_ENABLED: 'true',
      POOL_PROVIDER: 'simulator',
      POOL_SIZE: '1',
      POOL_MIN_FREE: '0',
      POOL_REFILL: '1',
      // Webhooks to a local closed port: deliveries fail and stay in the log.
      WEBHOOK_ALLOW_PRIVATE: 'true',
    },
  });
  browser = await launching;
  companyKey = (await createCompany(t, COMPANY)).authorization.replace(/^Bearer /, '');
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await t?.close();
});

beforeEach(async () => {
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(UI_WAIT);
  page = await context.newPage();
});

afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail')
    await shot(`failed-${ctx.task.name.slice(0, 40).replace(/\W+/g, '-')}`);
  await context?.close();
});

describe.skipIf(!chromiumService.available)('dashboard', () => {
  it('serves the UI at / with a strict content security policy, and keeps API 404s as JSON', async () => {
    const home = await fetch(`${t.url}/`);
    expect(home.status).toBe(200);
    expect(home.headers.get('content-type')).toContain('text/html');
    expect(home.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await home.text();
    const asset = html.match(/src="(\/assets\/[^"]+\.js)"/)?.[1];
    expect(asset).toBeTruthy();
    const js = await fetch(`${t.url}${asset}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('cache-control')).toContain('immutable');
    expect((await js.text()).length).toBeGreaterThan(1000);
    const missing = await fetch(`${t.url}/assets/nope.js`);
    expect(missing.status).toBe(404);
    expect((await missing.json()).error.code).toBe('SB_ERR_NOT_FOUND');
    const api404 = await fetch(`${t.url}/api/v1/nope`, {
      headers: { authorization: `Bearer ${companyKey}` },
    });
    expect((await api404.json()).error.code).toBe('SB_ERR_NOT_FOUND');
    await page.goto(t.url);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await shot('sign-in');
  });

  it('a bad key shows a readable error, not JSON', async () => {
    await signIn('sb_co_this-key-does-not-exist-000000');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    const text = (await alert.textContent()) ?? '';
    expect(text).toContain('Invalid or revoked API key');
    expect(text).not.toMatch(/[{}]|SB_ERR_/);
    await expect(page.getByRole('heading', { name: 'Sign in' }).isVisible()).resolves.toBe(true);
    await shot('bad-key');

    // The admin key works, and sees the warm pool's counters.
    await page.getByLabel('Admin, company or instance API key').fill(TEST_ADMIN_KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Instances' }).waitFor();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Pool' }).click();
    await page.getByRole('heading', { name: 'Warm pool' }).waitFor();
    const tile = page.locator('.tile', { hasText: 'in use' });
    await tile.waitFor();
    expect(await tile.textContent()).toMatch(/In use\s*0/);
    await shot('pool');
  });

  it('signs in, creates a simulator instance, shows its QR and turns connected live after the scan', async () => {
    await signIn(companyKey);
    await page.getByRole('heading', { name: 'Instances' }).waitFor();
    await page.getByRole('button', { name: 'New instance' }).click();
    await page.getByLabel('Provider', { exact: true }).selectOption('simulator');
    await page.getByLabel('Name', { exact: true }).fill('Front desk');
    await page.getByRole('button', { name: 'Create instance' }).click();
    // The instance key is shown once.
    await page.getByTestId('secret-value').waitFor();
    expect(await page.getByTestId('secret-value').textContent()).toMatch(/^sb_inst_/);
    await page.getByRole('button', { name: 'I have saved it' }).click();
    await page.locator('tr', { hasText: 'Front desk' }).getByRole('link', { name: 'Front desk' }).click();

    const qr = page.getByRole('img', { name: /Login QR code/ });
    await qr.waitFor();
    expect(await qr.getAttribute('src')).toMatch(/^data:image\/png;base64,/);
    await shot('qr');

    // Mark the document: if the page reloaded, the mark would be gone.
    await page.evaluate(() => {
      (window as unknown as { __mark: number }).__mark = 42;
    });
    await page.getByLabel('Phone number for the simulated scan').fill('15550001234');
    await page.getByRole('button', { name: 'Simulate QR scan' }).click();
    await page.getByText('Connected as +15550001234').waitFor();
    await qr.waitFor({ state: 'detached' });
    expect(await page.evaluate(() => (window as unknown as { __mark?: number }).__mark)).toBe(42);
    expect(await page.getByTestId('instance-status').textContent()).toContain('connected');
    const list = await api('GET', '/api/v1/instances');
    const created = list.instances.find((i: { name: string }) => i.name === 'Front desk');
    expect(created.auth_status).toBe('client_ready');
    await shot('connected');
  });

  it('sends a message, sees it in the thread, and an inbound message appears live', async () => {
    const id = await createSimulator('Support');
    await api('POST', `/api/v1/instances/${id}/simulate/scan`, { phone: '15550002222' });
    await signIn(companyKey);
    await page.getByRole('heading', { name: 'Instances' }).waitFor();
    await page.goto(`${t.url}/#/instances/${id}`);
    await page.getByText('Connected as +15550002222').waitFor();

    await page.getByLabel('To (phone number, JID or chat id)').fill('+4915123456789');
    await page.getByLabel('Message', { exact: true }).fill('Hello from the dashboard');
    await page.getByRole('button', { name: 'Send' }).click();
    const out = page.locator('.msg.out', { hasText: 'Hello from the dashboard' });
    await out.waitFor();
    // The simulator acknowledges (after ACK_DELAY_MS): the tick follows without a reload.
    await eventually(
      async () => ['delivered', 'read'].includes((await out.getAttribute('data-status')) ?? ''),
      UI_WAIT,
    );
    const stored = await api('GET', `/api/v1/instances/${id}/messages`);
    expect(stored.messages.some((m: { body: string }) => m.body === 'Hello from the dashboard')).toBe(true);

    await api('POST', `/api/v1/instances/${id}/simulate/inbound`, {
      from: '+4915123456789',
      text: 'Hi! Got your message.',
      name: 'Ada',
    });
    const inbound = page.locator('.msg.in', { hasText: 'Hi! Got your message.' });
    await inbound.waitFor();
    expect(await inbound.textContent()).toContain('Ada');

    await page.getByRole('tab', { name: 'Timeline' }).click();
    await page.locator('.timeline li', { hasText: 'Connected as' }).first().waitFor();
    await page.getByRole('tab', { name: 'Chats' }).click();
    await inbound.waitFor();
    await shot('instance-page');

    // Webhooks: save an endpoint, its secret is shown once, and its delivery log lists the next event.
    await page.getByRole('tab', { name: 'Webhooks' }).click();
    await page.getByLabel('Webhook URL').fill('http://127.0.0.1:9/hook');
    await page.getByRole('button', { name: 'Save webhook' }).click();
    await page.getByTestId('secret-value').waitFor();
    expect(await page.getByTestId('secret-value').textContent()).toMatch(/^whsec_/);
    await page.getByRole('button', { name: 'I have saved it' }).click();
    await page.locator('li.endpoint', { hasText: 'http://127.0.0.1:9/hook' }).waitFor();
    await api('POST', `/api/v1/instances/${id}/simulate/inbound`, { from: '+4915123456789', text: 'again' });
    await eventually(async () => {
      await page.getByRole('tab', { name: 'Keys' }).click();
      await page.getByRole('tab', { name: 'Webhooks' }).click();
      // Let the panel finish loading its delivery log before looking (a server database answers slower).
      const replay = page.getByRole('button', { name: 'Replay' });
      await replay.or(page.getByText('No deliveries yet.')).first().waitFor();
      return (await replay.count()) > 0;
    }, UI_WAIT);
    await page.getByRole('button', { name: 'Replay' }).first().click();
    await page.getByRole('button', { name: 'Yes, replay' }).click();
    await page.getByRole('heading', { name: 'Delivery log' }).waitFor();
    expect(await page.getByRole('alert').count()).toBe(0);
    await shot('webhooks');

    // MCP: switch it on; the endpoint and an empty audit log appear.
    await page.getByRole('tab', { name: 'MCP' }).click();
    await page.getByRole('button', { name: 'Enable MCP' }).click();
    await page.getByText(`/mcp/${id}`).waitFor();
    await page.getByText('No tool calls yet.').waitFor();
    await shot('mcp');
  });

  it('the instance table updates live, API errors read as sentences, and it fits a phone', async () => {
    await signIn(companyKey);
    await page.getByRole('heading', { name: 'Instances' }).waitFor();
    await page.getByText('● live').waitFor();
    const id = await createSimulator('Live row');
    const row = page.locator(`tr[data-instance="${id}"]`);
    await row.waitFor();
    await eventually(async () =>
      ((await row.locator('.auth-status').textContent()) ?? '').includes('waiting for QR scan'),
    );
    await api('POST', `/api/v1/instances/${id}/simulate/scan`, {});
    await eventually(async () =>
      ((await row.locator('.auth-status').textContent()) ?? '').includes('connected'),
    );

    // A provider this gateway does not run: the API's error becomes a readable sentence.
    await page.getByRole('button', { name: 'New instance' }).click();
    await page.getByLabel('Provider', { exact: true }).selectOption('waha');
    await page.getByRole('button', { name: 'Create instance' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    const text = (await alert.textContent()) ?? '';
    expect(text).toMatch(/Unknown or disabled provider "waha"/);
    expect(text).not.toMatch(/[{}]|SB_ERR_/);

    // A bad Telegram bot token: the provider's refusal, as a sentence.
    await page.getByLabel('Provider', { exact: true }).selectOption('telegram');
    await page.getByLabel('Bot token').fill('not-a-token');
    await page.getByRole('button', { name: 'Create instance' }).click();
    await eventually(async () => /Telegram/.test((await alert.textContent()) ?? ''), UI_WAIT);
    const tokenText = (await alert.textContent()) ?? '';
    expect(tokenText).toMatch(/not a Telegram bot token|Unknown or disabled provider "telegram"/);
    expect(tokenText).not.toMatch(/[{}]|SB_ERR_/);
    await shot('bad-token');

    // Delete asks first, then the row goes away.
    await row.getByRole('button', { name: 'Delete' }).click();
    await row.getByRole('button', { name: 'Yes, delete' }).click();
    await row.waitFor({ state: 'detached' });
    expect((await api('GET', '/api/v1/instances')).instances.some((i: { id: string }) => i.id === id)).toBe(
      false,
    );
    await shot('instances');

    // Phone-sized: the table turns into cards and nothing scrolls sideways.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.locator('tr[data-instance]').first().waitFor();
    expect(await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1)).toBe(
      false,
    );
    await shot('phone');
  });

  it('a user signs in with email and password, connects WhatsApp from the pool, and disconnects', async () => {
    const admin = async (method: string, url: string, payload?: unknown) => {
      const res = await t.app.inject({
        method: method as 'GET',
        url,
        headers: t.admin,
        payload: payload as Record<string, unknown>,
      });
      if (res.statusCode >= 400) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`);
      return res.json();
    };
    await admin('POST', `/api/v1/companies/${COMPANY}/users`, {
      email: 'ana@dash.test',
      password: 'correct horse battery',
    });
    await t.gw.pool.fill();
    await eventually(async () => {
      const { instances } = await admin('GET', '/api/v1/instances?limit=200');
      return instances.some((i: any) => i.is_pooled && !i.assigned_to && i.auth_status === 'qr_ready');
    }, UI_WAIT);

    await page.goto(t.url);
    await page.getByRole('tab', { name: 'Email and password' }).click();
    await page.getByLabel('Email', { exact: true }).fill('ana@dash.test');
    await page.getByLabel('Password', { exact: true }).fill('wrong password!');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).not.toMatch(/[{}]/);
    await page.getByLabel('Password', { exact: true }).fill('correct horse battery');
    await page.getByRole('button', { name: 'Sign in' }).click();

    await page.getByRole('button', { name: 'Connect WhatsApp' }).click();
    const qr = page.getByRole('img', { name: /WhatsApp QR code/ });
    await qr.waitFor();
    const { instances } = await admin('GET', '/api/v1/instances?limit=200');
    const mine = instances.find((i: any) => i.is_pooled && i.assigned_to === COMPANY);
    expect(mine).toBeTruthy();
    await shot('connect-qr');
    await admin('POST', `/api/v1/instances/${mine.id}/simulate/scan`, { phone: '15550003333' });
    await page.getByText('Connected as +15550003333').waitFor();
    await qr.waitFor({ state: 'detached' });
    await shot('connect-connected');

    await page.getByRole('button', { name: 'Disconnect' }).click();
    await page.getByRole('button', { name: 'Yes, disconnect' }).click();
    await page.getByRole('button', { name: 'Connect WhatsApp' }).waitFor();
    const after = await admin('GET', `/api/v1/instances/${mine.id}`);
    expect(after.instance.assigned_to).toBeNull();

    // A user has no Pool link (the counters are for the admin key).
    expect(
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Pool' }).count(),
    ).toBe(0);
    // The user's login token also opens the live event stream.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Instances' }).click();
    await page.getByText('● live').waitFor();
  });
});
