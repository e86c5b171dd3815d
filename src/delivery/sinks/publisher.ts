// The publisher contract shared by the broker clients: publish resolves only once the broker confirmed the message.

/** One message to a broker: the event id (dedupe key), routing key / subject, body and headers. */
export interface SinkMessage {
  id: string;
  subject: string;
  body: Buffer;
  headers: Record<string, string>;
}

/** A live connection to one sink's broker. */
export interface SinkPublisher {
  /**
   * Publishes and resolves after the broker's confirmation (AMQP publisher confirm, JetStream PubAck, MQTT PUBACK)
   * with a short note for the delivery log (e.g. `stream S seq 12`); rejects on a nack, an unroutable message, a lost
   * connection or the time limit.
   */
  publish(m: SinkMessage): Promise<string>;
  /** False once the connection is gone for good (the dispatcher then opens a new one). */
  readonly usable: boolean;
  close(): Promise<void>;
}

/** Rejects with `message` after `ms` unless `p` settles first. */
export function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
      timer.unref();
    }),
  ]).finally(() => clearTimeout(timer));
}
