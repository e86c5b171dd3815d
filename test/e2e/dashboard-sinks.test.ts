// Dashboard "Sinks" tab in Debian Chromium: add a RabbitMQ and an MQTT sink (secret once, password never shown), delete.
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireService } from '../support/services.js';
import { axeSerious, type DashboardEnv, signIn, startDashboardEnv, UI_WAIT } from './dashboard-support.js';

const COMPANY = 'sinks-co';
let env: DashboardEnv;
let context: BrowserContext;
let page: Page;

const chromium = await requireService('chromium');

beforeAll(async () => {
  env = await startDashboardEnv(COMPANY, { OUTBOUND_ALLOW_PRIVATE: 'true' });
  context = await env.browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(UI_WAIT);
  page = await context.newPage();
}, 180_000);

afterAll(async () => {
  await context?.close();
  await env?.close();
});

describe.skipIf(!chromium.available)('dashboard: event sinks', () => {
  it('adds a RabbitMQ and an MQTT sink with the secret shown once and the password never shown, then deletes them', async () => {
    const r = await env.api('POST', '/api/v1/instances', {
      company_id: COMPANY,
      provider: 'simulator',
      name: 'Sunk',
    });
    const id = r.instance.id as string;
    await signIn(page, env.t.url, env.companyKey);
    await page.getByRole('heading', { name: 'Instances', level: 1 }).waitFor();
    await page.goto(`${env.t.url}/#/instances/${id}`);
    await page.getByRole('heading', { name: 'Sunk', level: 1 }).waitFor();
    await page.getByRole('tab', { name: 'Sinks' }).click();
    await page.getByText('No event sinks.').waitFor();
    expect(await axeSerious(page)).toEqual([]);

    // A closed local port: the sink is stored (deliveries would retry), nothing leaves the machine.
    await page.getByLabel('AMQP URL').fill('amqp://app:pa55-word@127.0.0.1:9/prod');
    await page.getByLabel('Exchange').fill('switchboard');
    await page.getByRole('button', { name: 'Add sink' }).click();
    const secret = await page.getByTestId('secret-value').textContent();
    expect(secret).toMatch(/^whsec_/);
    const item = page.locator('li.endpoint', { hasText: 'switchboard' });
    await item.waitFor();
    expect(await item.textContent()).toContain('amqp://app:***@127.0.0.1:9/prod');
    expect(await page.content()).not.toContain('pa55-word');
    await page.getByRole('button', { name: 'I have saved it' }).click();
    expect(await axeSerious(page)).toEqual([]);

    await item.getByRole('button', { name: 'Delete sink' }).click();
    await page.getByRole('button', { name: 'Yes, delete' }).click();
    await page.getByText('No event sinks.').waitFor();
    const { sinks } = await env.api('GET', `/api/v1/sinks?instance_id=${id}`);
    expect(sinks).toEqual([]);

    // MQTT: the form offers it, with a URL and a topic template; the password never comes back.
    await page.getByLabel('Broker').selectOption('mqtt');
    await page.getByLabel('MQTT URL').fill('mqtt://app:mq77-word@127.0.0.1:9');
    await page.getByLabel('Topic').fill('sb/{company_id}/{type}');
    await page.getByRole('button', { name: 'Add sink' }).click();
    expect(await page.getByTestId('secret-value').textContent()).toMatch(/^whsec_/);
    const mqttItem = page.locator('li.endpoint', { hasText: 'MQTT' });
    await mqttItem.waitFor();
    expect(await mqttItem.textContent()).toContain('mqtt://app:***@127.0.0.1:9');
    expect(await mqttItem.textContent()).toContain('topic sb/{company_id}/{type}');
    expect(await page.content()).not.toContain('mq77-word');
    await page.getByRole('button', { name: 'I have saved it' }).click();
    expect(await axeSerious(page)).toEqual([]);
    await mqttItem.getByRole('button', { name: 'Delete sink' }).click();
    await page.getByRole('button', { name: 'Yes, delete' }).click();
    await page.getByText('No event sinks.').waitFor();
  });
});
