// What the benchmark reads from the database, as the superuser (it sees every shop, and it
// is not a part of the system under test). Its connections die with every Postgres
// restart, so each read retries until the server is back rather than failing the run.
import pg from 'pg';

export class Observer {
  private readonly pool: pg.Pool;

  constructor(superuserUrl: string) {
    this.pool = new pg.Pool({ connectionString: superuserUrl, max: 2, application_name: 'bench-fault-observer' });
    // A restart kills idle clients; the pool drops them, and the next query reconnects.
    this.pool.on('error', () => {});
  }

  async query<T extends pg.QueryResultRow>(text: string, params: unknown[] = [], patienceMs = 120_000): Promise<T[]> {
    const deadline = Date.now() + patienceMs;
    for (;;) {
      try {
        return (await this.pool.query<T>(text, params)).rows;
      } catch (error) {
        if (Date.now() > deadline || !isConnectionError(error)) throw error;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  async campaign(id: string) {
    const rows = await this.query<{ status: string; finished_at: Date | null; queued_at: Date | null; started_at: Date | null }>(
      `select status, finished_at, queued_at, started_at from app.campaigns where id = $1`,
      [id],
    );
    return rows[0]!;
  }

  /** Messages the provider accepted for the campaign (rows written by the send batches). */
  async messagesSent(campaignId: string): Promise<number> {
    const rows = await this.query<{ n: number }>(`select count(*)::int as n from app.messages where campaign_id = $1`, [campaignId]);
    return rows[0]!.n;
  }

  /** Everything the report says about a campaign once it is over (or its deadline passed). */
  async outcome(shopId: string, campaignId: string) {
    const [recipients] = await this.query<{ by_status: Record<string, number>; last_update: Date | null; total: number }>(
      `select coalesce(jsonb_object_agg(status, n), '{}') as by_status, max(last_update) as last_update, coalesce(sum(n), 0)::int as total
         from (select status::text, count(*)::int as n, max(updated_at) as last_update from app.campaign_recipients where campaign_id = $1 group by status) s`,
      [campaignId],
    );
    const [messages] = await this.query<{ n: number; last_sent: Date | null }>(`select count(*)::int as n, max(sent_at) as last_sent from app.messages where campaign_id = $1`, [campaignId]);
    const [debits] = await this.query<{ n: number; per_recipient_max: number | null }>(
      `select count(*)::int as n, max(c)::int as per_recipient_max from (
         select reference_id, count(*) as c from app.credit_ledger where shop_id = $1 and kind = 'debit' and reference_id like $2 group by reference_id) d`,
      [shopId, `${campaignId}:%`],
    );
    // README, "Reconcile a wallet against its ledger": the two pairs are equal by construction.
    const [wallet] = await this.query<{ balance: string; reserved: string; ledger_balance: string; ledger_reserved: string }>(
      `select w.balance, w.reserved,
              (select coalesce(sum(credits) filter (where kind in ('purchase','refund','adjustment','debit')), 0) from app.credit_ledger l where l.shop_id = w.shop_id) as ledger_balance,
              (select coalesce(sum(case kind when 'reserve' then credits when 'release' then -credits when 'debit' then credits else 0 end), 0) from app.credit_ledger l where l.shop_id = w.shop_id) as ledger_reserved
         from app.wallets w where w.shop_id = $1`,
      [shopId],
    );
    // Its dispatch and batch jobs are keyed "<shop>:campaign:<id>:…" (app_private.add_job).
    const [jobs] = await this.query<{ locked: number; failed: number; queued: number; errors: string[] | null }>(
      `select count(*) filter (where locked_at is not null)::int as locked,
              count(*) filter (where attempts >= max_attempts)::int as failed,
              count(*)::int as queued,
              (array_agg(distinct left(last_error, 160)) filter (where last_error is not null))[1:3] as errors
         from graphile_worker.jobs where key like $1`,
      [`%campaign:${campaignId}:%`],
    );
    return {
      recipients: { total: recipients!.total, byStatus: recipients!.by_status, lastUpdate: recipients!.last_update },
      messages: { count: messages!.n, lastSentAt: messages!.last_sent },
      debits: { count: debits!.n, maxPerRecipient: debits!.per_recipient_max ?? 0 },
      wallet: {
        balance: Number(wallet!.balance),
        reserved: Number(wallet!.reserved),
        ledgerBalance: Number(wallet!.ledger_balance),
        ledgerReserved: Number(wallet!.ledger_reserved),
        equal: wallet!.balance === wallet!.ledger_balance && wallet!.reserved === wallet!.ledger_reserved,
      },
      jobsLeft: { locked: jobs!.locked, failed: jobs!.failed, queued: jobs!.queued, lastErrors: jobs!.errors ?? [] },
    };
  }

  end(): Promise<void> {
    return this.pool.end();
  }
}

function isConnectionError(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  // 57P01..57P03: admin shutdown, crash shutdown, cannot connect now (starting / recovering).
  return (
    ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', '57P01', '57P02', '57P03', '08006', '08003', '08001'].includes(e.code ?? '') ||
    /Connection terminated|connection ended|not queryable|the database system is/i.test(e.message ?? '')
  );
}
