// Chats of an instance: the chat list, one chat's message thread (live) and a send box.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, type Chat, type Instance, type Message, messageOf, newIdempotencyKey } from '../api.js';
import { isEvent, useEvents } from '../events.js';
import { Ago, ErrorBanner, phoneOf, useAction, useReloader } from '../ui.js';

/** Who sent a message, in words. */
function senderOf(m: Message): string {
  if (m.is_from_me) return 'You';
  return m.contact_name ?? phoneOf(m.from) ?? phoneOf(m.chat_id) ?? 'Contact';
}

/** How many announcements the screen-reader log keeps. */
const LOG_KEEP = 5;

const ORDER: Record<string, number> = { failed: -1, pending: 0, received: 0, sent: 1, delivered: 2, read: 3 };

const TICKS: Record<string, string> = {
  pending: 'sending',
  sent: '✓',
  delivered: '✓✓',
  read: '✓✓ read',
  failed: 'failed',
  received: '',
};

export function ChatsPanel({ instance }: { instance: Instance }) {
  const [chats, setChats] = useState<Chat[] | null>(null);
  const [chatId, setChatId] = useState<string | null>(null);
  const [thread, setThread] = useState<Message[]>([]);
  const [to, setTo] = useState('');
  const [text, setText] = useState('');
  const [error, setError] = useState<string | null>(null);
  // New messages only, each with its sender: the live log screen readers announce (the thread itself is not live).
  const [announced, setAnnounced] = useState<{ id: string; text: string }[]>([]);
  const announce = (m: Message) =>
    setAnnounced((cur) =>
      cur.some((a) => a.id === m.id)
        ? cur
        : [...cur, { id: m.id, text: `${senderOf(m)}: ${m.body ?? `[${m.type}]`}` }].slice(-LOG_KEEP),
    );
  const [reloadChats, reloadChatList] = useReloader();
  const [reloadThread, setReloadThread] = useState(0);
  const send = useAction();
  const bottom = useRef<HTMLLIElement>(null);
  const autoPicked = useRef(false);
  // The first read of the chat list: a message typed and sent before it arrives goes to the chat it picks, not to
  // "New message" (on a slow link the user types faster than the list loads).
  const firstList = useRef<Promise<void> | null>(null);
  const chosen = useRef<string | null>(null);
  chosen.current = chatId;
  // Acks can overtake the read that shows the message: remember them and apply them whenever it appears.
  const acks = useRef(new Map<string, Message['status']>());
  const withAcks = (list: Message[]): Message[] =>
    list.map((m) => {
      const a = acks.current.get(m.id);
      return a && (ORDER[a] ?? 0) > (ORDER[m.status] ?? 0) ? { ...m, status: a } : m;
    });

  useEffect(() => {
    const read = api<{ chats: Chat[] }>(`/api/v1/instances/${instance.id}/chats?limit=100`)
      .then((r) => {
        setChats(r.chats);
        // Opening the panel shows the most recent conversation.
        if (!autoPicked.current && r.chats[0]) {
          setChatId(r.chats[0].chat_id);
          chosen.current = r.chats[0].chat_id;
        }
        autoPicked.current = true;
      })
      .catch((err) => setError(messageOf(err)));
    firstList.current ??= read;
  }, [instance.id, reloadChats]);

  useEffect(() => {
    if (!chatId) {
      setThread([]);
      return;
    }
    let gone = false;
    api<{ messages: Message[] }>(
      `/api/v1/instances/${instance.id}/messages?chat_id=${encodeURIComponent(chatId)}&limit=100`,
    )
      .then((r) => !gone && setThread(withAcks(r.messages.slice().reverse())))
      .catch((err) => !gone && setError(messageOf(err)));
    return () => {
      gone = true;
    };
  }, [instance.id, chatId, reloadThread]);

  useEffect(() => {
    bottom.current?.scrollIntoView?.({ block: 'nearest' });
  }, [thread.length]);

  const stream = useEvents({ instance_id: instance.id, types: ['message', 'message.ack'] }, (e) => {
    if (isEvent(e, 'message')) {
      const m: Message | undefined = e.data.message;
      if (!m) return;
      if (!m.is_from_me) announce(m);
      if (m.chat_id === chatId)
        setThread((cur) => (cur.some((x) => x.id === m.id) ? cur : withAcks([...cur, m])));
      reloadChatList();
    } else if (isEvent(e, 'message.ack')) {
      const { id, status } = e.data;
      const known = acks.current.get(id);
      if (!known || (ORDER[status] ?? 0) > (ORDER[known] ?? 0)) acks.current.set(id, status);
      setThread((cur) => withAcks(cur));
    }
  });

  // Whatever happened before the stream was live (or while it was down) comes from a fresh read.
  useEffect(() => {
    if (stream !== 'live') return;
    reloadChatList();
    setReloadThread((n) => n + 1);
  }, [stream]);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!autoPicked.current) await firstList.current;
    const chatId = chosen.current;
    const target = (chatId ?? to).trim();
    if (!target) return send.setError('Choose a chat or enter a recipient.');
    if (!text.trim()) return send.setError('Write a message first.');
    const r = await send.run(() =>
      api<{ message: Message }>(`/api/v1/instances/${instance.id}/messages`, {
        body: { to: target, text },
        headers: { 'idempotency-key': newIdempotencyKey() },
      }),
    );
    if (!r) return;
    announce({ ...r.message, body: `sent ${r.message.body ?? text}` });
    setText('');
    if (!chatId) {
      setTo('');
      setChatId(r.message.chat_id);
    } else setThread((cur) => (cur.some((x) => x.id === r.message.id) ? cur : withAcks([...cur, r.message])));
    reloadChatList();
  };

  const current = chats?.find((c) => c.chat_id === chatId);

  return (
    <div class="chats">
      <h2 class="sr-only">Chats</h2>
      <div class="sr-only" role="log" aria-label="New messages" data-testid="message-log">
        {announced.map((a) => (
          <p key={a.id}>{a.text}</p>
        ))}
      </div>
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      <div class="chat-layout">
        <nav class="chat-list" aria-label="Chats">
          <button
            type="button"
            class={chatId === null ? 'chat active' : 'chat'}
            aria-pressed={chatId === null}
            onClick={() => setChatId(null)}
          >
            + New message
          </button>
          {chats === null && <p class="muted">Loading chats…</p>}
          {chats?.length === 0 && <p class="muted">No chats yet.</p>}
          {chats?.map((c) => (
            <button
              key={c.chat_id}
              type="button"
              class={c.chat_id === chatId ? 'chat active' : 'chat'}
              aria-pressed={c.chat_id === chatId}
              onClick={() => setChatId(c.chat_id)}
            >
              <span class="chat-name">{c.name ?? phoneOf(c.chat_id)}</span>
              <span class="chat-preview muted">{c.last_message_preview ?? ''}</span>
            </button>
          ))}
        </nav>
        <section
          class="thread"
          aria-label={current ? `Messages with ${current.name ?? phoneOf(current.chat_id)}` : 'New message'}
        >
          {chatId ? (
            <ol
              class="messages"
              // biome-ignore lint/a11y/noNoninteractiveTabindex: the thread scrolls, so keyboard users must reach it.
              tabIndex={0}
              aria-label={`Messages with ${current?.name ?? phoneOf(chatId)}`}
            >
              {thread.length === 0 && <li class="muted">No messages.</li>}
              {thread.map((m) => (
                <li key={m.id} class={m.is_from_me ? 'msg out' : 'msg in'} data-status={m.status}>
                  {m.is_from_me ? (
                    <span class="sr-only">You: </span>
                  ) : (
                    <span class="msg-from">{senderOf(m)}</span>
                  )}
                  <span class="msg-body">{m.body ?? `[${m.type}]`}</span>
                  <span class="msg-meta">
                    <Ago at={m.timestamp} /> {m.is_from_me ? (TICKS[m.status] ?? m.status) : ''}
                  </span>
                </li>
              ))}
              <li ref={bottom} class="sentinel" aria-hidden="true" />
            </ol>
          ) : (
            <div class="new-message">
              <label for="send-to">To (phone number, JID or chat id)</label>
              <input
                id="send-to"
                value={to}
                placeholder="+4915123456789"
                onInput={(e) => setTo(e.currentTarget.value)}
              />
            </div>
          )}
          <form class="send-box" onSubmit={submit}>
            <label for="send-text" class="sr-only">
              Message
            </label>
            <textarea
              id="send-text"
              rows={2}
              maxLength={4096}
              placeholder="Write a message"
              value={text}
              onInput={(e) => setText(e.currentTarget.value)}
              onKeyDown={(e) => {
                if (e.key === 'Enter' && !e.shiftKey) {
                  e.preventDefault();
                  (e.currentTarget.form as HTMLFormElement | null)?.requestSubmit();
                }
              }}
            />
            <button type="submit" class="primary" disabled={send.busy}>
              Send
            </button>
          </form>
          <ErrorBanner error={send.error} onDismiss={() => send.setError(null)} />
        </section>
      </div>
    </div>
  );
}
