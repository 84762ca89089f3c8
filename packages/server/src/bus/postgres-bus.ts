/**
 * The bus over PostgreSQL LISTEN/NOTIFY, for replicas sharing one database.
 *
 * One dedicated connection LISTENs on a channel named after the schema (so
 * test schemas in one database do not hear each other). If that connection
 * drops it reconnects with backoff and emits `resync`, because notifications
 * sent meanwhile are lost.
 */
import pg from 'pg';
import { sql, type Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../db/schema.js';
import { decodeBusEvent, Listeners, splitEvent, type Bus, type BusEvent, type BusListener } from './bus.js';

/** UUIDs per notification; keeps payloads well under PostgreSQL's 8000-byte limit. */
const IDS_PER_NOTIFY = 150;

export class PostgresBus implements Bus {
  private readonly listeners = new Listeners();
  private client: pg.Client | null = null;
  private closed = false;
  private retryMs = 250;

  private constructor(
    private readonly db: Kysely<Database>,
    private readonly config: pg.ClientConfig,
    private readonly channel: string,
    private readonly log: Logger,
  ) {}

  static async start(db: Kysely<Database>, config: pg.ClientConfig, schema: string, log: Logger): Promise<PostgresBus> {
    const bus = new PostgresBus(db, config, `drover_events_${schema}`, log);
    await bus.connect();
    return bus;
  }

  private async connect(): Promise<void> {
    const client = new pg.Client(this.config);
    client.on('notification', (msg) => {
      if (msg.channel !== this.channel || !msg.payload) return;
      let event: BusEvent | null;
      try {
        event = decodeBusEvent(JSON.parse(msg.payload));
      } catch (err) {
        this.log.warn({ err }, 'ignoring a bus notification that is not JSON');
        return;
      }
      if (event) this.listeners.emit(event);
      else this.log.warn({ payload: msg.payload.slice(0, 200) }, 'ignoring a bus notification that is no bus event');
    });
    client.on('error', (err) => {
      this.log.warn({ err: err.message }, 'bus connection failed; reconnecting');
      this.reconnectSoon(client);
    });
    client.on('end', () => this.reconnectSoon(client));
    await client.connect();
    await client.query(`LISTEN ${this.channel}`);
    this.client = client;
    this.retryMs = 250;
  }

  private reconnectSoon(failed: pg.Client): void {
    if (this.closed || this.client !== failed) return;
    this.client = null;
    failed.end().catch(() => {});
    const delay = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, 10_000);
    setTimeout(() => {
      if (this.closed) return;
      this.connect()
        .then(() => this.listeners.emit({ kind: 'resync' }))
        .catch((err: unknown) => {
          this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'bus reconnect failed');
          this.client = failed; // let reconnectSoon run again
          this.reconnectSoon(failed);
        });
    }, delay).unref();
  }

  /**
   * One statement for all parts of a big event: each NOTIFY commit takes a lock shared by the whole database, so a
   * 10,000-deployment event sent as 134 statements waited for 134 commits in a row. Parts arrive in order.
   */
  async publish(event: BusEvent): Promise<void> {
    const parts = splitEvent(event, IDS_PER_NOTIFY).map((part) => JSON.stringify(part));
    if (parts.length === 1) await sql`select pg_notify(${this.channel}, ${parts[0]})`.execute(this.db);
    else await sql`select pg_notify(${this.channel}, part) from unnest(${parts}::text[]) with ordinality as parts(part, n) order by n`.execute(this.db);
  }

  subscribe(listener: BusListener): () => void {
    return this.listeners.add(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => {});
  }
}
