// The telegram provider passes the provider contract against the Bot API fake (long polling).
import { FakeBotApi } from '../../../test/emulators/telegram/fake-bot-api.js';
import { runProviderContract } from '../contract.js';
import { createTelegramProvider } from './index.js';

const TOKEN = '555666777:AAcontractTOKENcontractTOKENcontract';

runProviderContract({
  name: 'telegram',
  create: async () => {
    const fake = new FakeBotApi();
    fake.addBot(TOKEN, { id: 555666777, username: 'contract_bot' });
    await fake.start();
    let nextId = 1000;
    return {
      factory: createTelegramProvider({ apiRoot: fake.url, pollTimeoutSec: 1 }),
      settings: { token: TOKEN },
      recipient: '4242',
      inbound: async (_s, _id, text) => {
        const messageId = nextId++;
        fake.pushUpdate(TOKEN, {
          message: {
            message_id: messageId,
            date: Math.floor(Date.now() / 1000),
            chat: { id: 4242, type: 'private', first_name: 'Con' },
            from: { id: 4242, is_bot: false, first_name: 'Con' },
            text,
          },
        });
        return `4242:${messageId}`;
      },
      delivered: (_id, text) => fake.callsOf('sendMessage').some((c) => c.fields.text === text),
      close: () => fake.stop(),
    };
  },
});
