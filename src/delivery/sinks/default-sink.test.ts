// The deployment-wide event sink (EVENT_SINK_DEFAULT) on the real RabbitMQ: every company's events, kept in step at start.
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RabbitScope, rabbitScope } from '../../../test/support/brokers.js';
import {
  createCompany,
  createConnectedInstance,
  eventually,
  startTestGateway,
  type TestGateway,
} from '../../../test/support/gateway.js';
import { requireService } from '../../../test/support/services.js';
import { loadConfig } from '../../config/index.js';
import { DEPLOYMENT_COMPANY } from '../../domain/model.js';
import { prepareGateway } from '../../gateway.js';

const rabbit = await requireService('rabbitmq');
const EXCHANGE = 'sb-all';

let t: TestGateway;
let rb: RabbitScope;
const logs: string[] = [];

beforeAll(async () => {
  rb = await rabbitScope();
  t = await startTestGateway({
    env: {
      LOG_LEVEL: 'debug',
      OUTBOUND_ALLOW_PRIVATE: 'true',
      WEBHOOK_RETRY_SCHEDULE: '0,100ms,200ms',
      WEBHOOK_WORKER_INTERVAL_MS: '50',
      EVENT_SINK_DEFAULT: JSON.stringify({
        kind: 'rabbitmq',
        url: rb.url,
        exchange: EXCHANGE,
        events: ['message'],
      }),
    },
    logs: { write: (line: string) => void logs.push(line) },
  });
  await prepareGateway(t.gw);
});

afterAll(async () => {
  await t?.close();
  await rb?.dispose();
});

const deploymentSinks = () =>
  t.app.inject({ method: 'GET', url: `/api/v1/sinks?company_id=${DEPLOYMENT_COMPANY}`, headers: t.admin });

describe.skipIf(!rabbit.available)('the deployment-wide default sink', () => {
  it("receives every company's events, each under its own company in the routing key", async () => {
    const conn = await amqp.connect(rb.url);
    const ch = await conn.createChannel();
    await ch.assertExchange(EXCHANGE, 'topic', { durable: true });
    await ch.assertQueue('q-all', { durable: true });
    await ch.bindQueue('q-all', EXCHANGE, 'switchboard.#');
    const got: amqp.ConsumeMessage[] = [];
    await ch.consume('q-all', (m) => {
      if (m) got.push(m);
    });
    try {
      const acme = await createCompany(t, 'acme');
      const beta = await createCompany(t, 'beta');
      const a = await createConnectedInstance(t, acme, 'acme', '15550003333');
      const b = await createConnectedInstance(t, beta, 'beta', '15550004444');
      for (const [inst, headers, text] of [
        [a, acme, 'to acme'],
        [b, beta, 'to beta'],
      ] as const) {
        const res = await t.app.inject({
          method: 'POST',
          url: `/api/v1/instances/${inst.id}/simulate/inbound`,
          headers,
          payload: { from: '14155550199', text },
        });
        expect(res.statusCode, res.body).toBe(200);
      }
      await eventually(() => got.length >= 2, 20_000);
      const byKey = Object.fromEntries(
        got.map((m) => [m.fields.routingKey, JSON.parse(m.content.toString()).data.message.body]),
      );
      expect(byKey).toEqual({
        [`switchboard.acme.${a.id}.message`]: 'to acme',
        [`switchboard.beta.${b.id}.message`]: 'to beta',
      });
    } finally {
      await conn.close();
    }
  });

  it('is visible to the admin only, with its password redacted', async () => {
    const res = await deploymentSinks();
    expect(res.statusCode, res.body).toBe(200);
    const [sink] = res.json().sinks;
    expect(sink.rabbitmq.url).toBe(`amqp://${rb.user}:***@127.0.0.1:5672/${rb.vhost}`);
    expect(res.body).not.toContain(rb.pass);
    expect(logs.join('\n')).not.toContain(rb.pass);
    const acme = await createCompany(t, 'gamma');
    const foreign = await t.app.inject({
      method: 'GET',
      url: `/api/v1/sinks?company_id=${DEPLOYMENT_COMPANY}`,
      headers: acme,
    });
    expect(foreign.statusCode).toBe(404);
  });

  it('follows the configuration at each start: changed in place, disabled when removed', async () => {
    const before = (await deploymentSinks()).json().sinks[0];
    const sinks = t.gw.delivery!.sinks;
    const changed = await sinks.syncDeploymentDefault({
      kind: 'rabbitmq',
      url: rb.url,
      exchange: 'sb-other',
    });
    expect(changed!.id).toBe(before.id);
    expect((await deploymentSinks()).json().sinks).toEqual([
      expect.objectContaining({
        id: before.id,
        enabled: true,
        rabbitmq: expect.objectContaining({ exchange: 'sb-other' }),
      }),
    ]);
    expect(await sinks.syncDeploymentDefault(null)).toBeNull();
    expect((await deploymentSinks()).json().sinks).toEqual([
      expect.objectContaining({ id: before.id, enabled: false }),
    ]);
  });

  it('refuses a setting it cannot use, naming the setting and each problem', async () => {
    await expect(
      t.gw.delivery!.sinks.syncDeploymentDefault({ kind: 'rabbitmq', url: 'http://x', company_id: 'acme' }),
    ).rejects.toMatchObject({
      code: 'SB_ERR_VALIDATION',
      message: expect.stringMatching(/^EVENT_SINK_DEFAULT: .*url.*company_id: not allowed/),
    });
    expect(() => loadConfig({ EVENT_SINK_DEFAULT: '{not json' })).toThrow(/EVENT_SINK_DEFAULT/);
  });
});
