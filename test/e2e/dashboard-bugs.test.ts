// Dashboard defects from issue 22, each reproduced in Debian Chromium: secrets, focus, live regions, wording.
import { join } from 'node:path';
import type { BrowserContext, Page, WebSocketRoute } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { eventually, TEST_ADMIN_KEY } from '../support/gateway.js';
import { requireService } from '../support/services.js';
import {
  type DashboardEnv,
  focused,
  SHOTS,
  signIn,
  startDashboardEnv,
  UI_WAIT,
} from './dashboard-support.js';

const chromium = await requireService('chromium');

const COMPANY = 'bugs-co';
let env: DashboardEnv;
let context: BrowserContext;
let page: Page;

async function createSimulator(name: string, scan?: string): Promise<string> {
  const r = await env.api('POST', '/api/v1/instances', { company_id: COMPANY, provider: 'simulator', name });
  if (scan) await env.api('POST', `/api/v1/instances/${r.instance.id}/simulate/scan`, { phone: scan });
  return r.instance.id as string;
}

async function openInstance(id: string, name: string): Promise<void> {
  await page.goto(`${env.t.url}/#/instances/${id}`);
  await page.getByRole('heading', { name, level: 1 }).waitFor();
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
}, 180_000);

afterAll(async () => {
  await env?.close();
});

beforeEach(async () => {
  context = await env.browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(UI_WAIT);
  page = await context.newPage();
});

afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail')
    await page.screenshot({
      path: join(SHOTS, `dashboard-bugs-failed-${ctx.task.name.slice(0, 40).replace(/\W+/g, '-')}.png`),
      fullPage: true,
    });
  await context?.close();
});

describe.skipIf(!chromium.available)('dashboard defects (issue 22)', () => {
  it('saving a webhook keeps its event filter', async () => {
    const id = await createSimulator('Hooked');
    await env.api('PUT', `/api/v1/instances/${id}/webhooks`, {
      url: 'http://127.0.0.1:9/hook',
      events: ['message'],
    });
    await signIn(page, env.t.url, env.companyKey);
    await page.getByRole('heading', { name: 'Instances', level: 1 }).waitFor();
    await openInstance(id, 'Hooked');
    await page.getByRole('tab', { name: 'Webhooks' }).click();
    await eventually(async () => (await page.getByLabel('Events').inputValue()) === 'message', UI_WAIT);
    await page.getByLabel('Webhook URL').fill('http://127.0.0.1:9/other');
    await page.getByRole('button', { name: 'Save webhook' }).click();
    await page.locator('li.endpoint', { hasText: '/other' }).waitFor();
    const { webhooks } = await env.api('GET', `/api/v1/instances/${id}/webhooks`);
    expect(webhooks[0].url).toBe('http://127.0.0.1:9/other');
    expect(webhooks[0].events).toEqual(['message']);
  });

  it('says the delivery log is loading while it loads, not that there is none', async () => {
    const id = await createSimulator('Slow log');
    await env.api('PUT', `/api/v1/instances/${id}/webhooks`, { url: 'http://127.0.0.1:9/hook' });
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    await page.route('**/deliveries?**', async (route) => {
      await held;
      await route.continue();
    });
    await signIn(page, env.t.url, env.companyKey);
    await page.getByRole('heading', { name: 'Instances', level: 1 }).waitFor();
    await openInstance(id, 'Slow log');
    await page.getByRole('tab', { name: 'Webhooks' }).click();
    await page.locator('li.endpoint').waitFor();
    expect(await page.getByText('No delivery log available.').count()).toBe(0);
    await page.getByText('Loading the delivery log…').waitFor();
    release();
    await page.getByText('No deliveries yet.').waitFor();
  });

  it('switching straight from one instance to another shows only the second timeline', async () => {
    const a = await createSimulator('Alpha', '15550000001');
    const b = await createSimulator('Beta');
    await signIn(page, env.t.url, env.companyKey);
    await page.getByRole('heading', { name: 'Instances', level: 1 }).waitFor();
    await openInstance(a, 'Alpha');
    await page.getByRole('tab', { name: 'Timeline' }).click();
    await page.locator('.timeline li', { hasText: 'Connected as +15550000001' }).first().waitFor();
    await page.evaluate((id) => {
      location.hash = `#/instances/${id}`;
    }, b);
    await page.getByRole('heading', { name: 'Beta', level: 1 }).waitFor();
    await page.getByRole('tab', { name: 'Timeline' }).click();
    await page.locator('.timeline li', { hasText: 'Instance created' }).first().waitFor();
    // Beta's log is complete once its QR status arrived; Alpha's connection must not be in it.
    await page.locator('.timeline li', { hasText: 'waiting for QR scan' }).first().waitFor();
    expect(await page.locator('.timeline li', { hasText: '+15550000001' }).count()).toBe(0);
    expect(await page.locator('.timeline li', { hasText: 'Instance created' }).count()).toBe(1);
  });

  it('does not claim "running / connected" while the gateway is unreachable', async () => {
    const id = await createSimulator('Offline', '15550000002');
    let down = false;
    const sockets: WebSocketRoute[] = [];
    await page.routeWebSocket(/\/api\/v1\/events/, (ws) => {
      if (down) return void ws.close();
      ws.connectToServer();
      sockets.push(ws);
    });
    await signIn(page, env.t.url, env.companyKey);
    await page.getByRole('heading', { name: 'Instances', level: 1 }).waitFor();
    await openInstance(id, 'Offline');
    const status = page.getByTestId('instance-status');
    await eventually(async () => /connected/.test((await status.textContent()) ?? ''), UI_WAIT);
    await page.getByTestId('stream').getByText('● live').waitFor();
    down = true;
    for (const ws of sockets) await ws.close();
    await page.getByTestId('stream').getByText('offline').waitFor();
    const text = (await status.textContent()) ?? '';
    expect(text).not.toMatch(/running|connected|client ready/);
    expect(text).toContain('unknown');
    expect(await page.getByTestId('login-state').textContent()).toMatch(/unknown/);
    down = false;
    await page.getByTestId('stream').getByText('● live').waitFor({ timeout: 20_000 });
    await eventually(async () => /connected/.test((await status.textContent()) ?? ''), UI_WAIT);
  });

  it('navigation offers Pool and Connect only to keys that can use them', async () => {
    const links = async () =>
      (await page.getByRole('navigation', { name: 'Main' }).getByRole('link').allTextContents()).sort();
    await signIn(page, env.t.url, TEST_ADMIN_KEY);
    await page.getByRole('heading', { name: 'Instances', level: 1 }).waitFor();
    expect(await links()).toEqual(['Instances', 'Pool']);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn(page, env.t.url, env.companyKey);
    await page.getByRole('heading', { name: 'Instances', level: 1 }).waitFor();
    expect(await links()).toEqual(['Connect WhatsApp', 'Instances']);
    const inst = await env.api('POST', '/api/v1/instances', { company_id: COMPANY, provider: 'simulator' });
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn(page, env.t.url, inst.api_key);
    await page.getByRole('heading', { name: 'Instances', level: 1 }).waitFor();
    expect(await links()).toEqual(['Instances']);
  });

  it('asks before disabling a webhook or MCP and before a replay; deletes a webhook and rotates its secret', async () => {
    const id = await createSimulator('Guarded', '15550000009');
    await env.api('PATCH', `/api/v1/instances/${id}`, { type_instance: ['api', 'mcp'] });
    await env.api('PUT', `/api/v1/instances/${id}/webhooks`, { url: 'http://127.0.0.1:9/hook' });
    await env.api('POST', `/api/v1/instances/${id}/simulate/inbound`, { from: '+4915100000001', text: 'x' });
    await signIn(page, env.t.url, env.companyKey);
    await page.getByRole('heading', { name: 'Instances', level: 1 }).waitFor();
    await openInstance(id, 'Guarded');
    await page.getByRole('tab', { name: 'Webhooks' }).click();
    const hook = page.locator('li.endpoint');
    await hook.waitFor();

    await hook.getByRole('button', { name: 'Disable' }).click();
    expect((await env.api('GET', `/api/v1/instances/${id}/webhooks`)).webhooks[0].enabled).toBe(true);
    await hook.getByRole('button', { name: 'Yes, disable' }).click();
    await hook.getByText('disabled', { exact: true }).waitFor();
    expect((await env.api('GET', `/api/v1/instances/${id}/webhooks`)).webhooks[0].enabled).toBe(false);

    // Replay: one click only asks.
    const replay = page.getByRole('button', { name: 'Replay' }).first();
    await eventually(async () => {
      await page.getByRole('tab', { name: 'Keys' }).click();
      await page.getByRole('tab', { name: 'Webhooks' }).click();
      await replay.or(page.getByText('No deliveries yet.')).first().waitFor();
      return (await replay.count()) > 0;
    }, UI_WAIT);
    await replay.click();
    await page.getByRole('button', { name: 'Yes, replay' }).waitFor();
    await page.keyboard.press('Escape');
    await page.getByRole('button', { name: 'Yes, replay' }).waitFor({ state: 'detached' });

    // Rotate the signing secret: a new secret, shown once.
    await hook.getByRole('button', { name: 'Rotate secret' }).click();
    await hook.getByRole('button', { name: 'Yes, rotate' }).click();
    await page.getByTestId('secret-value').waitFor();
    expect(await page.getByTestId('secret-value').textContent()).toMatch(/^whsec_/);
    await page.getByRole('button', { name: 'I have saved it' }).click();

    // Delete the webhook.
    await hook.getByRole('button', { name: 'Delete webhook' }).click();
    await hook.getByRole('button', { name: 'Yes, delete' }).click();
    await hook.waitFor({ state: 'detached' });
    expect((await env.api('GET', `/api/v1/instances/${id}/webhooks`)).webhooks).toEqual([]);

    // MCP: one click on Disable only asks.
    await page.getByRole('tab', { name: 'MCP' }).click();
    await page.getByRole('button', { name: 'Disable MCP' }).click();
    expect((await env.api('GET', `/api/v1/instances/${id}`)).instance.type_instance).toContain('mcp');
    await page.getByRole('button', { name: 'Yes, disable' }).click();
    await page.getByRole('button', { name: 'Enable MCP' }).waitFor();
    expect((await env.api('GET', `/api/v1/instances/${id}`)).instance.type_instance).not.toContain('mcp');
  });

  it('keeps a rotated instance key and a new instance key until the user says they saved them', async () => {
    const id = await createSimulator('Keyed');
    await signIn(page, env.t.url, env.companyKey);
    await page.getByRole('heading', { name: 'Instances', level: 1 }).waitFor();

    // New instance: Close does not lose the key.
    await page.getByRole('button', { name: 'New instance' }).click();
    await page.getByLabel('Name', { exact: true }).fill('Fresh');
    await page.getByRole('button', { name: 'Create instance' }).click();
    const secret = page.getByTestId('secret-value');
    await secret.waitFor();
    const key = await secret.textContent();
    expect(key).toMatch(/^sb_inst_/);
    // The key is not read aloud: no live region around it; focus is on its heading.
    expect(
      await secret.evaluate(
        (el) => !!el.closest('[role=status],[role=alert],[role=log],[aria-live]:not([aria-live=off])'),
      ),
    ).toBe(false);
    // Focus moves in an effect after the render that showed the key, and after the one that removed it: wait for it.
    await eventually(async () => (await focused(page)).text.includes('API key of Fresh'), UI_WAIT);
    await page.getByRole('button', { name: 'Close' }).click();
    expect(await secret.textContent()).toBe(key);

    // Copy where the browser refuses: the page says why instead of failing silently.
    await page.evaluate(() => {
      Object.defineProperty(navigator, 'clipboard', { value: undefined, configurable: true });
      document.execCommand = () => false;
    });
    await page.getByRole('button', { name: 'Copy' }).click();
    await page.getByText(/does not allow copying here/).waitFor();
    await page.getByRole('button', { name: 'I have saved it' }).click();
    await secret.waitFor({ state: 'detached' });
    await eventually(async () => (await focused(page)).id === 'new-instance', UI_WAIT);

    // A rotated instance key survives switching tabs.
    await openInstance(id, 'Keyed');
    await page.getByRole('tab', { name: 'Keys' }).click();
    await page.getByRole('button', { name: 'Rotate key' }).click();
    await page.getByRole('button', { name: 'Yes, rotate' }).click();
    await secret.waitFor();
    const rotated = await secret.textContent();
    await page.getByRole('tab', { name: 'Chats' }).click();
    await page.getByRole('tab', { name: 'Keys' }).click();
    expect(await secret.textContent()).toBe(rotated);
    await page.getByRole('button', { name: 'I have saved it' }).click();
    await secret.waitFor({ state: 'detached' });
    await eventually(async () => (await focused(page)).id === 'rotate-key', UI_WAIT);
  });

  it('the company field stays the same field while the company list loads', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    await page.route('**/api/v1/companies', async (route) => {
      await held;
      await route.continue();
    });
    await signIn(page, env.t.url, env.companyKey);
    await page.getByRole('heading', { name: 'Instances', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'New instance' }).click();
    const field = page.getByLabel('Company', { exact: true });
    await field.click();
    await page.keyboard.type('bugs');
    release();
    await page.waitForResponse('**/api/v1/companies');
    await page.keyboard.type('-co');
    expect(await field.inputValue()).toBe('bugs-co');
    expect((await focused(page)).id).toBe('ci-company');
  });

  it('live regions exist from the first render; the thread log announces only new messages with their sender', async () => {
    const id = await createSimulator('Live');
    await signIn(page, env.t.url, env.companyKey);
    await page.getByRole('heading', { name: 'Instances', level: 1 }).waitFor();
    await openInstance(id, 'Live');
    const state = page.getByTestId('login-state');
    await eventually(async () => /Waiting for the QR scan/.test((await state.textContent()) ?? ''), UI_WAIT);
    expect(await state.getAttribute('role')).toBe('status');
    await state.evaluate((el) => {
      (el as unknown as { __same: boolean }).__same = true;
    });
    await env.api('POST', `/api/v1/instances/${id}/simulate/scan`, { phone: '15550000003' });
    await eventually(
      async () => /Connected as \+15550000003/.test((await state.textContent()) ?? ''),
      UI_WAIT,
    );
    // The same element changed its text (a newly inserted status is often not announced).
    expect(await state.evaluate((el) => (el as unknown as { __same?: boolean }).__same)).toBe(true);
    expect(await page.locator('[data-testid=stream]').getAttribute('role')).toBe('status');
    expect(await page.getByTestId('instance-status').getAttribute('role')).toBe('status');
    // The SVG icon, not an emoji that needs a font.
    expect(await page.locator('body').textContent()).not.toContain('✅');
    expect(await state.locator('svg').count()).toBe(1);

    await env.api('POST', `/api/v1/instances/${id}/simulate/inbound`, {
      from: '+4915100000002',
      text: 'First',
      name: 'Ada',
    });
    const log = page.getByRole('log');
    expect(await log.count()).toBe(1);
    await eventually(async () => ((await log.textContent()) ?? '').includes('Ada: First'), UI_WAIT);
    await page.getByRole('button', { name: /Ada/ }).click();
    const thread = page.locator('ol.messages');
    await thread.locator('.msg.in', { hasText: 'First' }).waitFor();
    expect(await thread.getAttribute('aria-live')).toBeNull();
    // Opening the chat loads its thread, and that is not announced again.
    expect(((await log.textContent()) ?? '').match(/First/g)?.length).toBe(1);
    expect(await thread.locator('.msg.in', { hasText: 'First' }).textContent()).toContain('Ada');
  });

  it('uses words, not raw values: pool counters, phone numbers, the pool company', async () => {
    await signIn(page, env.t.url, TEST_ADMIN_KEY);
    await page.getByRole('heading', { name: 'Instances', level: 1 }).waitFor();
    await page.locator('tr[data-instance]').first().waitFor();
    expect(await page.locator('table.instances').textContent()).not.toContain('__pool__');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Pool' }).click();
    await page.getByRole('heading', { name: 'Warm pool' }).waitFor();
    await page.locator('.tile', { hasText: 'Refilling now' }).waitFor();
    const tiles = (await page.locator('.tiles').textContent()) ?? '';
    expect(tiles).not.toMatch(/true|false|min free/);

    // Connect as a user: the phone number, not "…@c.us".
    await page.getByRole('button', { name: 'Sign out' }).click();
    await env.api(
      'POST',
      `/api/v1/companies/${COMPANY}/users`,
      {
        email: 'ana@bugs.test',
        password: 'correct horse battery',
      },
      TEST_ADMIN_KEY,
    );
    await page.getByRole('tab', { name: 'Email and password' }).click();
    await page.getByLabel('Email', { exact: true }).fill('ana@bugs.test');
    await page.getByLabel('Password', { exact: true }).fill('correct horse battery');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Connect WhatsApp' }).click();
    await page.getByRole('img', { name: /WhatsApp QR code/ }).waitFor();
    const { instances } = await env.api('GET', '/api/v1/instances?limit=200', undefined, TEST_ADMIN_KEY);
    const mine = instances.find((i: any) => i.is_pooled && i.assigned_to === COMPANY);
    await env.api(
      'POST',
      `/api/v1/instances/${mine.id}/simulate/scan`,
      { phone: '15550003333' },
      TEST_ADMIN_KEY,
    );
    const state = page.getByTestId('connect-state');
    await eventually(
      async () => /Connected as \+15550003333/.test((await state.textContent()) ?? ''),
      UI_WAIT,
    );
    expect(await page.locator('main').textContent()).not.toContain('@c.us');
    // The connected transition put focus on the new state, not on <body>.
    expect((await focused(page)).tag).not.toBe('body');
  });
  it('an open confirm keeps focus where the keyboard moved it while the list around it re-renders', async () => {
    const id = await createSimulator('Confirm focus');
    await signIn(page, env.t.url, env.companyKey);
    await page.getByRole('heading', { name: 'Instances', level: 1 }).waitFor();
    const row = page.locator(`tr[data-instance="${id}"]`);
    await row.getByRole('button', { name: 'Restart' }).focus();
    await page.keyboard.press('Enter');
    await eventually(async () => (await focused(page)).text === 'Yes, restart', UI_WAIT);
    await page.keyboard.press('Tab');
    expect((await focused(page)).text).toBe('Cancel');
    // Another instance appears through the live stream: the list re-renders with the confirm still open.
    await createSimulator('Newcomer');
    await page.locator('tr', { hasText: 'Newcomer' }).waitFor();
    // The re-render that shows it is committed (refs run in the same commit); two frames more for good measure.
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    expect((await focused(page)).text).toBe('Cancel');
    // Enter on Cancel cancels (it must never confirm the restart) and focus returns to the trigger.
    await page.keyboard.press('Enter');
    await eventually(async () => (await focused(page)).text === 'Restart', UI_WAIT);
    expect(await row.getByRole('button', { name: 'Yes, restart' }).count()).toBe(0);
  });
});
