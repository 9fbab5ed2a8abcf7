// A fake Stripe: a real HTTP server on 127.0.0.1 that the official `stripe` SDK can be
// pointed at (host/port/protocol), for tests and local runs. It speaks the slice of the v1
// API the billing code uses (customers, Checkout Sessions, payment intents, charges,
// refunds, disputes, events) the way Stripe does: form-encoded bodies in bracket notation, JSON objects with
// real id prefixes, Stripe's error shape, idempotency keys with replays, `expand`. What a
// customer or the card network does (paying, async settlement, refunds, disputes) is driven
// by test controls that return the event they emit and, by default, deliver it to the
// webhook URL signed exactly as Stripe signs (the SDK's own header generator). A tiny hosted
// checkout page lets a developer click "Pay" in a local run. No per-request logging.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import Stripe from 'stripe';

/** The API version the installed SDK pins; events are rendered in it. */
export const FAKE_STRIPE_API_VERSION: string = Stripe.API_VERSION;

export interface FakeStripeOptions {
  /** 0 or absent: any free port. */
  port?: number;
  /** The key every API request must carry as `Authorization: Bearer …` (e.g. sk_test_…). */
  secretKey: string;
  /** The endpoint secret (whsec_…) deliveries are signed with. */
  webhookSecret: string;
  /** Where events are POSTed; without it controls only record their events. */
  webhookUrl?: string;
  latencyMs?: number;
}

export interface ControlOptions {
  /** POST the event to the webhook URL (when one is set) before returning. Default true. */
  deliver?: boolean;
  /** Make the event come from this connected account (the event's `account` field). */
  account?: string;
}

export interface CompleteSessionOptions extends ControlOptions {
  /** A delayed-notification method (bank debit): the payment is `processing`, the session `unpaid`. */
  async?: boolean;
  /** What Stripe says was paid, when a test wants it to differ from the line items. */
  amountTotal?: number;
  currency?: string;
}

export interface DeliverOptions {
  /** Sign with this secret (or these, as Stripe does while a secret is being rolled). */
  secret?: string | string[];
  /** Unix seconds in the signature (a stale or future delivery). */
  timestamp?: number;
  /** Send this header verbatim instead of a computed one. */
  signatureHeader?: string;
}

export interface DeliveryResult {
  /** The endpoint's status; 0 when it could not be reached (`body` then says why). */
  status: number;
  body: string;
}

export interface Delivery extends DeliveryResult {
  eventId: string;
  type: string;
}

export interface FakeStripe {
  /** http://127.0.0.1:<port> (STRIPE_API_URL). */
  url: string;
  port: number;
  secretKey: string;
  webhookSecret: string;
  /** Every event emitted, in order (the API lists them newest first). */
  events: Stripe.Event[];
  /** Every delivery attempt, in order. */
  deliveries: Delivery[];
  customers: Map<string, Stripe.Customer>;
  sessions: Map<string, Stripe.Checkout.Session>;
  paymentIntents: Map<string, Stripe.PaymentIntent>;
  charges: Map<string, Stripe.Charge>;
  refunds: Map<string, Stripe.Refund>;
  disputes: Map<string, Stripe.Dispute>;
  /** Requests that reached the server (API and hosted pages), retries included. */
  readonly requestCount: number;
  /** POSTs per Idempotency-Key, retries and replays included (a retry storm shows here). */
  postsByIdempotencyKey: Map<string, number>;
  /** The customer pays: payment intent + charge, session complete; `checkout.session.completed`. */
  completeSession(sessionId: string, options?: CompleteSessionOptions): Promise<Stripe.Event>;
  /** A delayed payment settles: `checkout.session.async_payment_succeeded`. */
  asyncPaymentSucceeded(sessionId: string, options?: ControlOptions): Promise<Stripe.Event>;
  /** A delayed payment fails: `checkout.session.async_payment_failed`. */
  asyncPaymentFailed(sessionId: string, options?: ControlOptions): Promise<Stripe.Event>;
  /** An open session expires: `checkout.session.expired`. */
  expireSession(sessionId: string, options?: ControlOptions): Promise<Stripe.Event>;
  /** Refunds `amount` (default: what is left) of a payment intent's or charge's charge: `charge.refunded`. */
  refund(paymentIntentOrChargeId: string, amount?: number, options?: ControlOptions): Promise<Stripe.Event>;
  /** The cardholder disputes the charge: `charge.dispute.created`. */
  createDispute(chargeOrPaymentIntentId: string, options?: ControlOptions): Promise<Stripe.Event>;
  /** `charge.dispute.closed` with status won or lost. */
  closeDispute(disputeId: string, outcome: 'won' | 'lost', options?: ControlOptions): Promise<Stripe.Event>;
  /** POSTs the event (pretty-printed, as Stripe sends it) to the webhook URL with a Stripe-Signature. */
  deliver(event: Stripe.Event, options?: DeliverOptions): Promise<DeliveryResult>;
  /** The Stripe-Signature header for a payload, with this fake's secret unless told otherwise. */
  signatureHeader(payload: string, options?: { secret?: string | string[]; timestamp?: number }): string;
  /** Resolves when the deliveries the fake started on its own (API-triggered events, the hosted page) have finished. */
  idle(): Promise<void>;
  /** Every API request answers 500 api_error (the SDK retries those). */
  setOutage(on: boolean): void;
  setLatency(ms: number): void;
  setWebhookUrl(url: string | undefined): void;
  close(): Promise<void>;
}

/**
 * The Stripe-Signature header Stripe would send for `payload`: `t=<seconds>,v1=<hmac>`, one
 * v1 per secret. Made by the SDK's own generator so the fake cannot drift from the verifier.
 */
export function signatureHeader(payload: string, options: { secret: string | string[]; timestamp?: number }): string {
  const secrets = Array.isArray(options.secret) ? options.secret : [options.secret];
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const headers = secrets.map((secret) => Stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp }));
  // Each header is `t=…,v1=…`; Stripe puts one t and every signature in a single header.
  return [`t=${timestamp}`, ...headers.map((h) => h.slice(h.indexOf(',') + 1))].join(',');
}

// ---------------------------------------------------------------------------------------
// Stripe's wire format.

type Params = { [key: string]: unknown };

/**
 * Form body or query string in Stripe's bracket notation → nested objects and arrays
 * (`a[0][b]=1`, `expand[]=x`, `metadata[k]=v`). Nodes have no prototype: a key named
 * `__proto__` must be data, not a way to reach Object.prototype.
 */
export function parseStripeForm(text: string): Params {
  const root: Params = Object.create(null);
  for (const [key, value] of new URLSearchParams(text)) {
    const match = /^([^[\]]+)((?:\[[^[\]]*\])*)$/.exec(key);
    const path = match ? [match[1]!, ...[...match[2]!.matchAll(/\[([^[\]]*)\]/g)].map((m) => m[1]!)] : [key];
    let node = root;
    for (let i = 0; i < path.length; i++) {
      let segment = path[i]!;
      if (segment === '') segment = String(Object.keys(node).length); // `[]` appends
      if (i === path.length - 1) {
        node[segment] = value;
      } else {
        const next = node[segment];
        if (typeof next !== 'object' || next === null) node[segment] = Object.create(null);
        node = node[segment] as Params;
      }
    }
  }
  return arrayify(root) as Params;
}

/** Objects whose keys are all indexes become arrays, in index order. */
function arrayify(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const entries = Object.entries(value as Params).map(([k, v]) => [k, arrayify(v)] as const);
  if (entries.length > 0 && entries.every(([k]) => /^\d+$/.test(k))) {
    return entries.sort((a, b) => Number(a[0]) - Number(b[0])).map(([, v]) => v);
  }
  const out: Params = Object.create(null);
  for (const [k, v] of entries) out[k] = v;
  return out;
}

/** A JSON of the parameters with sorted keys: the same request in another key order matches. */
function fingerprint(method: string, path: string, params: Params): string {
  const canonical = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(canonical);
    if (typeof v === 'object' && v !== null) {
      return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Params)[k])]));
    }
    return v;
  };
  return JSON.stringify([method, path, canonical(params)]);
}

interface StripeErrorBody {
  type: 'invalid_request_error' | 'idempotency_error' | 'api_error';
  message: string;
  code?: string;
  param?: string;
}

/** An error answer. `stored`: whether an idempotency key remembers it (Stripe does not keep validation failures). */
class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly error: StripeErrorBody,
    readonly stored = false,
  ) {
    super(error.message);
  }
}

const invalid = (message: string, param?: string, code?: string) =>
  new ApiError(400, { type: 'invalid_request_error', message, ...(code ? { code } : {}), ...(param ? { param } : {}) });
const missing = (param: string) => invalid(`Missing required param: ${param}.`, param, 'parameter_missing');
const noSuch = (kind: string, id: string, param?: string) =>
  new ApiError(param ? 400 : 404, { type: 'invalid_request_error', code: 'resource_missing', message: `No such ${kind}: '${id}'`, ...(param ? { param } : {}) }, true);

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
function newId(prefix: string, length = 24): string {
  const bytes = randomBytes(length);
  let out = prefix;
  for (const b of bytes) out += BASE62[b % 62];
  return out;
}
const now = () => Math.floor(Date.now() / 1000);
const clone = <T>(value: T): T => structuredClone(value);

/** The smallest charge Stripe accepts, in minor units, for the common currencies. */
const MINIMUM_AMOUNT: Record<string, number> = { usd: 50, eur: 50, gbp: 30, cad: 50, aud: 50, chf: 50, nzd: 50 };

/** Top-level parameters Stripe accepts (from the SDK's params types); anything else is parameter_unknown. */
const SESSION_PARAMS = new Set(
  'adaptive_pricing after_expiration allow_promotion_codes allowed_payment_method_types automatic_tax billing_address_collection branding_settings cancel_url client_reference_id consent_collection currency custom_fields custom_text customer customer_account customer_creation customer_email customer_update discounts excluded_payment_method_types expand expires_at integration_identifier invoice_creation line_items locale managed_payments metadata mode name_collection optional_items origin_context payment_intent_data payment_method_collection payment_method_configuration payment_method_data payment_method_options permissions phone_number_collection redirect_on_completion return_url saved_payment_method_options setup_intent_data shipping_address_collection shipping_options submit_type subscription_data success_url tax_id_collection ui_mode wallet_options'.split(' '),
);
const CUSTOMER_PARAMS = new Set(
  'address balance business_name cash_balance description email expand individual_name invoice_prefix invoice_settings metadata name next_invoice_sequence payment_method phone preferred_locales shipping source tax tax_exempt tax_id_data test_clock validate'.split(' '),
);

function rejectUnknown(params: Params, known: Set<string>) {
  for (const key of Object.keys(params)) {
    if (!known.has(key)) throw invalid(`Received unknown parameter: ${key}`, key, 'parameter_unknown');
  }
}

function optionalString(params: Params, name: string, param = name): string | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalid(`Invalid string: ${JSON.stringify(value)}`, param);
  return value;
}

function requiredString(params: Params, name: string, param = name): string {
  const value = optionalString(params, name, param);
  if (value === undefined || value === '') throw missing(param);
  return value;
}

function optionalInteger(params: Params, name: string, param = name): number | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^-?\d+$/.test(value)) throw invalid(`Invalid integer: ${String(value)}`, param, 'parameter_invalid_integer');
  return Number(value);
}

function object(params: Params, name: string, param = name): Params | undefined {
  const value = params[name];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(`Invalid object`, param);
  return value as Params;
}

/** Stripe's metadata rules: ≤ 50 keys, keys ≤ 40 characters, values ≤ 500; empty values unset. */
function metadataOf(params: Params, name = 'metadata', param = name, base: Record<string, string> = {}): Record<string, string> {
  const raw = object(params, name, param);
  const out = { ...base };
  if (!raw) return params[name] === '' ? {} : out;
  for (const [key, value] of Object.entries(raw)) {
    if (typeof value !== 'string') throw invalid('Invalid metadata value', `${param}[${key}]`);
    if (key.length > 40) throw invalid(`Metadata keys can have up to 40 characters, but you passed in a key that is ${key.length} characters.`, `${param}[${key}]`);
    if (value.length > 500) throw invalid(`Metadata values can have up to 500 characters, but you passed in a value that is ${value.length} characters.`, `${param}[${key}]`);
    if (value === '') delete out[key];
    else out[key] = value;
  }
  if (Object.keys(out).length > 50) throw invalid('You can specify up to 50 keys in metadata.', param);
  return out;
}

function expandParam(params: Params): string[] {
  const value = params.expand;
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  if (!list.every((v): v is string => typeof v === 'string')) throw invalid('Invalid array', 'expand');
  return list;
}

function isUrl(value: string): boolean {
  try {
    const url = new URL(value.replaceAll('{CHECKOUT_SESSION_ID}', 'x'));
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/** The request body (events, not an async iterator: cheaper per request). */
function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

// ---------------------------------------------------------------------------------------

interface LineItem {
  id: string;
  object: 'item';
  amount_discount: number;
  amount_subtotal: number;
  amount_tax: number;
  amount_total: number;
  currency: string;
  description: string;
  quantity: number;
  price: { id: string; object: 'price'; currency: string; unit_amount: number; product: string; type: 'one_time'; active: boolean; livemode: false };
}

interface StoredResponse {
  fingerprint: string;
  status: number;
  text: string;
}

// The stored objects are typed loosely (`any` rows behind typed maps): they are built as
// Stripe renders them, with the fields this fake models, and handed out as the SDK's types.
type Row = Record<string, any>;

export async function startFakeStripe(options: FakeStripeOptions): Promise<FakeStripe> {
  let latency = options.latencyMs ?? 0;
  let outage = false;
  let webhookUrl = options.webhookUrl;
  let requestCount = 0;
  let url = '';
  const events: Stripe.Event[] = [];
  const deliveries: Delivery[] = [];
  const postsByIdempotencyKey = new Map<string, number>();
  const idempotent = new Map<string, StoredResponse>();
  /** Every object by id, for retrieval and `expand`. */
  const objects = new Map<string, Row>();
  const customers = new Map<string, Row>();
  const sessions = new Map<string, Row>();
  const paymentIntents = new Map<string, Row>();
  const charges = new Map<string, Row>();
  const refunds = new Map<string, Row>();
  const disputes = new Map<string, Row>();
  const lineItems = new Map<string, LineItem[]>();
  /** Session → the payment intent_data metadata to give its payment intent when paid. */
  const intentMetadata = new Map<string, Record<string, string>>();
  /** Deliveries the fake starts on its own (API calls, the hosted page): not awaited there, as with Stripe; close() aborts them. */
  const background = new AbortController();
  const inFlight = new Set<Promise<unknown>>();
  const deliverLater = (event: Stripe.Event) => {
    if (!webhookUrl) return;
    const delivery = deliver(event, {}, background.signal).finally(() => inFlight.delete(delivery));
    inFlight.add(delivery);
  };

  const put = (map: Map<string, Row>, row: Row) => {
    map.set(row.id, row);
    objects.set(row.id, row);
    return row;
  };

  // --- events and deliveries -----------------------------------------------------------

  function emit(type: string, object: Row, control: ControlOptions = {}, request: { id: string | null; idempotency_key: string | null } = { id: null, idempotency_key: null }): Stripe.Event {
    const event = {
      id: newId('evt_'),
      object: 'event',
      ...(control.account ? { account: control.account } : {}),
      api_version: FAKE_STRIPE_API_VERSION,
      created: now(),
      data: { object: clone(object) },
      livemode: false,
      pending_webhooks: 1,
      request,
      type,
    } as unknown as Stripe.Event;
    events.push(event);
    return event;
  }

  async function deliver(event: Stripe.Event, deliverOptions: DeliverOptions = {}, signal?: AbortSignal): Promise<DeliveryResult> {
    if (!webhookUrl) throw new Error('fake Stripe: no webhook URL set');
    // Stripe sends pretty-printed JSON: a handler that verifies a re-serialised body fails here as it would in production.
    const payload = JSON.stringify(event, null, 2);
    const header =
      deliverOptions.signatureHeader ??
      signatureHeader(payload, { secret: deliverOptions.secret ?? options.webhookSecret, ...(deliverOptions.timestamp !== undefined ? { timestamp: deliverOptions.timestamp } : {}) });
    let result: DeliveryResult;
    try {
      const response = await fetch(webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8', 'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)', 'stripe-signature': header },
        body: payload,
        signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(10_000)]) : AbortSignal.timeout(10_000),
      });
      result = { status: response.status, body: await response.text() };
    } catch (error) {
      result = { status: 0, body: error instanceof Error ? error.message : String(error) };
    }
    deliveries.push({ eventId: event.id, type: event.type, ...result });
    return result;
  }

  async function finish(event: Stripe.Event, control: ControlOptions = {}): Promise<Stripe.Event> {
    if ((control.deliver ?? true) && webhookUrl) await deliver(event);
    return event;
  }

  // --- objects -------------------------------------------------------------------------

  function sessionOf(id: string): Row {
    const session = sessions.get(id);
    if (!session) throw new Error(`fake Stripe: no session ${id}`);
    return session;
  }

  function expire(session: Row, control: ControlOptions = {}, request?: { id: string; idempotency_key: string | null }): Stripe.Event {
    session.status = 'expired';
    session.url = null;
    return emit('checkout.session.expired', session, control, request);
  }

  function cardDetails(async: boolean): Row {
    return async
      ? { type: 'us_bank_account', us_bank_account: { account_holder_type: 'individual', account_type: 'checking', bank_name: 'STRIPE TEST BANK', fingerprint: newId('', 16), last4: '6789', routing_number: '110000000' } }
      : {
          type: 'card',
          card: { brand: 'visa', checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: 'pass' }, country: 'US', exp_month: 12, exp_year: new Date().getUTCFullYear() + 3, fingerprint: newId('', 16), funding: 'credit', last4: '4242', network: 'visa', three_d_secure: null, wallet: null },
        };
  }

  function completeSession(sessionId: string, control: CompleteSessionOptions = {}): Stripe.Event {
    const session = sessionOf(sessionId);
    if (session.status !== 'open') throw new Error(`fake Stripe: session ${sessionId} is ${session.status}, not open`);
    const async = control.async ?? false;
    const amount: number = control.amountTotal ?? session.amount_total;
    const currency: string = control.currency ?? session.currency;
    const created = now();
    const paymentIntentId = newId('pi_3');
    const chargeId = newId('ch_3');
    const paymentMethodId = newId('pm_1');
    const details = cardDetails(async);
    const email: string | null = session.customer_email ?? (session.customer ? customers.get(session.customer)?.email ?? null : null) ?? 'customer@example.com';
    const charge = put(charges, {
      id: chargeId,
      object: 'charge',
      amount,
      amount_captured: amount,
      amount_refunded: 0,
      application: null,
      application_fee: null,
      application_fee_amount: null,
      balance_transaction: async ? null : newId('txn_3'),
      billing_details: { address: { city: null, country: null, line1: null, line2: null, postal_code: null, state: null }, email, name: null, phone: null, tax_id: null },
      calculated_statement_descriptor: 'PIGEON',
      captured: true,
      created,
      currency,
      customer: session.customer,
      description: null,
      disputed: false,
      failure_balance_transaction: null,
      failure_code: null,
      failure_message: null,
      fraud_details: {},
      livemode: false,
      metadata: {},
      on_behalf_of: null,
      outcome: async ? null : { advice_code: null, network_advice_code: null, network_decline_code: null, network_status: 'approved_by_network', reason: null, risk_level: 'normal', risk_score: 32, seller_message: 'Payment complete.', type: 'authorized' },
      paid: !async,
      payment_intent: paymentIntentId,
      payment_method: paymentMethodId,
      payment_method_details: details,
      receipt_email: null,
      receipt_number: null,
      receipt_url: `${url}/receipts/payment/${chargeId}`,
      refunded: false,
      review: null,
      shipping: null,
      source: null,
      source_transfer: null,
      statement_descriptor: null,
      statement_descriptor_suffix: null,
      status: async ? 'pending' : 'succeeded',
      transfer_data: null,
      transfer_group: null,
    });
    put(paymentIntents, {
      id: paymentIntentId,
      object: 'payment_intent',
      amount,
      amount_capturable: 0,
      amount_details: { tip: {} },
      amount_received: async ? 0 : amount,
      application: null,
      application_fee_amount: null,
      automatic_payment_methods: null,
      canceled_at: null,
      cancellation_reason: null,
      capture_method: 'automatic_async',
      client_secret: `${paymentIntentId}_secret_${newId('', 25)}`,
      confirmation_method: 'automatic',
      created,
      currency,
      customer: session.customer,
      description: null,
      last_payment_error: null,
      latest_charge: charge.id,
      livemode: false,
      metadata: intentMetadata.get(sessionId) ?? {},
      next_action: null,
      on_behalf_of: null,
      payment_method: paymentMethodId,
      payment_method_configuration_details: null,
      payment_method_options: {},
      payment_method_types: [details.type],
      processing: null,
      receipt_email: null,
      review: null,
      setup_future_usage: null,
      shipping: null,
      source: null,
      statement_descriptor: null,
      statement_descriptor_suffix: null,
      status: async ? 'processing' : 'succeeded',
      transfer_data: null,
      transfer_group: null,
    });
    Object.assign(session, {
      status: 'complete',
      payment_status: async ? 'unpaid' : 'paid',
      payment_intent: paymentIntentId,
      amount_subtotal: control.amountTotal ?? session.amount_subtotal,
      amount_total: amount,
      currency,
      url: null,
      customer_details: { address: { city: null, country: 'US', line1: null, line2: null, postal_code: '94103', state: null }, business_name: null, email, individual_name: null, name: 'Jenny Rosen', phone: null, tax_exempt: 'none', tax_ids: [] },
    });
    return emit('checkout.session.completed', session, control);
  }

  function settle(sessionId: string, succeeded: boolean, control: ControlOptions): Stripe.Event {
    const session = sessionOf(sessionId);
    const intent = session.payment_intent ? paymentIntents.get(session.payment_intent) : undefined;
    if (session.status !== 'complete' || !intent || intent.status !== 'processing') {
      throw new Error(`fake Stripe: session ${sessionId} has no processing (async) payment`);
    }
    const charge = charges.get(intent.latest_charge)!;
    if (succeeded) {
      Object.assign(intent, { status: 'succeeded', amount_received: intent.amount });
      Object.assign(charge, { status: 'succeeded', paid: true, balance_transaction: newId('txn_3'), outcome: { network_status: 'approved_by_network', reason: null, risk_level: 'not_assessed', seller_message: 'Payment complete.', type: 'authorized' } });
      session.payment_status = 'paid';
      return emit('checkout.session.async_payment_succeeded', session, control);
    }
    const failure = { code: 'insufficient_funds', message: 'The customer\'s account has insufficient funds to cover this payment.', type: 'invalid_request_error' };
    Object.assign(intent, { status: 'requires_payment_method', last_payment_error: failure });
    Object.assign(charge, { status: 'failed', paid: false, failure_code: failure.code, failure_message: failure.message, outcome: { network_status: 'declined_by_network', reason: 'insufficient_funds', risk_level: 'not_assessed', seller_message: 'The bank returned the decline code `insufficient_funds`.', type: 'issuer_declined' } });
    session.payment_status = 'unpaid';
    return emit('checkout.session.async_payment_failed', session, control);
  }

  function chargeOf(id: string): Row {
    const intent = paymentIntents.get(id);
    const charge = charges.get(intent ? intent.latest_charge : id);
    if (!charge) throw new Error(`fake Stripe: no charge for ${id}`);
    return charge;
  }

  /** Refunds part of a charge: the refund, and `charge.refunded` with the updated charge. */
  function refundCharge(charge: Row, value: number, control: ControlOptions, extra: { reason?: string | null; metadata?: Record<string, string>; request?: { id: string; idempotency_key: string | null } } = {}): { refund: Row; event: Stripe.Event } {
    const refund = put(refunds, {
      id: newId('re_3'),
      object: 'refund',
      amount: value,
      balance_transaction: newId('txn_3'),
      charge: charge.id,
      created: now(),
      currency: charge.currency,
      destination_details: { card: { reference_status: 'pending', reference_type: 'acquirer_reference_number', type: 'refund' }, type: 'card' },
      metadata: extra.metadata ?? {},
      payment_intent: charge.payment_intent,
      reason: extra.reason ?? null,
      receipt_number: null,
      source_transfer_reversal: null,
      status: 'succeeded',
      transfer_reversal: null,
    });
    charge.amount_refunded += value;
    charge.refunded = charge.amount_refunded === charge.amount;
    return { refund, event: emit('charge.refunded', charge, control, extra.request) };
  }

  function refund(id: string, amount: number | undefined, control: ControlOptions): Stripe.Event {
    const charge = chargeOf(id);
    if (charge.status !== 'succeeded') throw new Error(`fake Stripe: charge ${charge.id} is ${charge.status}; only a succeeded charge can be refunded`);
    const left = charge.amount - charge.amount_refunded;
    const value = amount ?? left;
    if (!Number.isInteger(value) || value <= 0 || value > left) throw new Error(`fake Stripe: cannot refund ${value} of charge ${charge.id} (${left} left)`);
    return refundCharge(charge, value, control).event;
  }

  function createDispute(id: string, control: ControlOptions): Stripe.Event {
    const charge = chargeOf(id);
    const created = now();
    const dispute = put(disputes, {
      id: newId('dp_1'),
      object: 'dispute',
      amount: charge.amount,
      balance_transactions: [],
      charge: charge.id,
      created,
      currency: charge.currency,
      enhanced_eligibility_types: [],
      evidence: { customer_email_address: null, customer_name: null, product_description: null, uncategorized_text: null },
      evidence_details: { due_by: created + 7 * 86_400, enhanced_eligibility: {}, has_evidence: false, past_due: false, submission_count: 0 },
      is_charge_refundable: false,
      livemode: false,
      metadata: {},
      payment_intent: charge.payment_intent,
      payment_method_details: { card: { brand: 'visa', case_type: 'chargeback', network_reason_code: '10.4' }, type: 'card' },
      reason: 'fraudulent',
      status: 'needs_response',
    });
    charge.disputed = true;
    return emit('charge.dispute.created', dispute, control);
  }

  function closeDispute(id: string, outcome: 'won' | 'lost', control: ControlOptions): Stripe.Event {
    const dispute = disputes.get(id);
    if (!dispute) throw new Error(`fake Stripe: no dispute ${id}`);
    if (dispute.status === 'won' || dispute.status === 'lost') throw new Error(`fake Stripe: dispute ${id} is already ${dispute.status}`);
    dispute.status = outcome;
    return emit('charge.dispute.closed', dispute, control);
  }

  // --- API -----------------------------------------------------------------------------

  interface Call {
    method: string;
    path: string;
    params: Params;
    account: string | undefined;
    requestId: string;
    idempotencyKey: string | null;
  }

  /** A copy of `row` with the `expand` paths replaced by the objects they name. */
  function render(row: Row, paths: string[]): Row {
    const out = clone(row);
    for (const path of paths) expandInto(out, path.split('.'), path, 0);
    return out;
  }

  function expandInto(target: Row, segments: string[], path: string, depth: number) {
    if (depth >= 4) throw invalid(`You cannot expand more than 4 levels of a property. Property: ${path}`, 'expand');
    const [field, ...rest] = segments as [string, ...string[]];
    let value = target[field];
    if (field === 'line_items' && target.object === 'checkout.session') {
      const items = lineItems.get(target.id) ?? [];
      value = target.line_items = { object: 'list', data: clone(items), has_more: false, url: `/v1/checkout/sessions/${target.id}/line_items` };
    } else if (typeof value === 'string' && objects.has(value)) {
      value = target[field] = clone(objects.get(value)!);
    } else if (value === null && target.object !== undefined && field in target) {
      return; // an expandable field that is empty stays null
    } else if (typeof value !== 'object' || value === null) {
      throw invalid(`This property cannot be expanded (${path}).`, 'expand');
    }
    if (rest.length === 0) return;
    if ((value as Row).object === 'list' && rest[0] === 'data') {
      for (const item of (value as Row).data as Row[]) if (rest.length > 1) expandInto(item, rest.slice(1), path, depth + 1);
      return;
    }
    expandInto(value as Row, rest, path, depth + 1);
  }

  function retrieve(map: Map<string, Row>, kind: string, id: string, call: Call): Row {
    const row = map.get(id);
    if (!row) throw noSuch(kind, id);
    return render(row, expandParam(call.params));
  }

  function createCustomer(call: Call): Row {
    const p = call.params;
    rejectUnknown(p, CUSTOMER_PARAMS);
    const email = optionalString(p, 'email');
    if (email !== undefined && email !== '' && !/^[^\s@]+@[^\s@]+$/.test(email)) throw invalid(`Invalid email address: ${email}`, 'email', 'email_invalid');
    const customer = put(customers, {
      id: newId('cus_', 14),
      object: 'customer',
      address: null,
      balance: 0,
      created: now(),
      currency: null,
      default_source: null,
      delinquent: false,
      description: optionalString(p, 'description') ?? null,
      discount: null,
      email: email || null,
      invoice_prefix: newId('', 8).toUpperCase(),
      invoice_settings: { custom_fields: null, default_payment_method: null, footer: null, rendering_options: null },
      livemode: false,
      metadata: metadataOf(p),
      name: optionalString(p, 'name') || null,
      next_invoice_sequence: 1,
      phone: optionalString(p, 'phone') || null,
      preferred_locales: [],
      shipping: null,
      tax_exempt: 'none',
      test_clock: null,
    });
    return render(customer, expandParam(p));
  }

  function updateCustomer(id: string, call: Call): Row {
    const customer = customers.get(id);
    if (!customer) throw noSuch('customer', id);
    const p = call.params;
    rejectUnknown(p, CUSTOMER_PARAMS);
    for (const field of ['email', 'name', 'phone', 'description'] as const) {
      const value = optionalString(p, field);
      if (value !== undefined) customer[field] = value || null;
    }
    customer.metadata = metadataOf(p, 'metadata', 'metadata', customer.metadata);
    return render(customer, expandParam(p));
  }

  function parseLineItems(p: Params): { items: LineItem[]; currency: string } {
    const raw = p.line_items;
    if (raw === undefined) throw missing('line_items');
    if (!Array.isArray(raw) || raw.length === 0) throw invalid('Invalid array', 'line_items');
    let currency: string | undefined;
    const items = raw.map((entry: unknown, i): LineItem => {
      const at = `line_items[${i}]`;
      if (typeof entry !== 'object' || entry === null) throw invalid('Invalid object', at);
      const item = entry as Params;
      const price = optionalString(item, 'price', `${at}[price]`);
      if (price !== undefined) throw noSuch('price', price, `${at}[price]`); // the fake keeps no Price objects
      const data = object(item, 'price_data', `${at}[price_data]`);
      if (!data) throw invalid('You must specify either `price` or `price_data` for each line item.', `${at}[price_data]`);
      const itemCurrency = requiredString(data, 'currency', `${at}[price_data][currency]`).toLowerCase();
      if (!/^[a-z]{3}$/.test(itemCurrency)) throw invalid(`Invalid currency: ${itemCurrency}`, `${at}[price_data][currency]`);
      if (currency !== undefined && currency !== itemCurrency) throw invalid('All line items must use the same currency.', `${at}[price_data][currency]`);
      currency = itemCurrency;
      const unitAmount = optionalInteger(data, 'unit_amount', `${at}[price_data][unit_amount]`);
      if (unitAmount === undefined) throw missing(`${at}[price_data][unit_amount]`);
      if (unitAmount < 0) throw invalid('This value must be greater than or equal to 0.', `${at}[price_data][unit_amount]`);
      const product = optionalString(data, 'product', `${at}[price_data][product]`);
      if (product !== undefined) throw noSuch('product', product, `${at}[price_data][product]`);
      const productData = object(data, 'product_data', `${at}[price_data][product_data]`);
      if (!productData) throw missing(`${at}[price_data][product_data]`);
      const name = requiredString(productData, 'name', `${at}[price_data][product_data][name]`);
      const quantity = optionalInteger(item, 'quantity', `${at}[quantity]`);
      if (quantity === undefined) throw missing(`${at}[quantity]`);
      if (quantity < 1) throw invalid('This value must be greater than or equal to 1.', `${at}[quantity]`);
      const total = unitAmount * quantity;
      return {
        id: newId('li_1'),
        object: 'item',
        amount_discount: 0,
        amount_subtotal: total,
        amount_tax: 0,
        amount_total: total,
        currency: itemCurrency,
        description: name,
        quantity,
        price: { id: newId('price_1'), object: 'price', active: false, currency: itemCurrency, livemode: false, product: newId('prod_', 14), type: 'one_time', unit_amount: unitAmount },
      };
    });
    return { items, currency: currency! };
  }

  function createSession(call: Call): Row {
    const p = call.params;
    rejectUnknown(p, SESSION_PARAMS);
    const mode = requiredString(p, 'mode');
    if (!['payment', 'setup', 'subscription'].includes(mode)) throw invalid('Invalid mode: must be one of payment, setup, or subscription', 'mode');
    if (mode !== 'payment') throw invalid(`The fake Stripe server supports mode=payment only (got ${mode}).`, 'mode');
    const uiMode = optionalString(p, 'ui_mode');
    if (uiMode !== undefined && uiMode !== 'hosted_page') throw invalid(`The fake Stripe server supports the hosted page only (got ui_mode=${uiMode}).`, 'ui_mode');
    const { items, currency } = parseLineItems(p);
    const amount = items.reduce((sum, item) => sum + item.amount_total, 0);
    const minimum = MINIMUM_AMOUNT[currency];
    if (minimum !== undefined && amount < minimum) {
      throw invalid(`The Checkout Session's total amount due must add up to at least ${minimum} ${currency} (in the smallest currency unit).`, 'line_items', 'amount_too_small');
    }
    if (amount > 99_999_999) throw invalid('The Checkout Session\'s total amount due must be no more than 99999999.', 'line_items', 'amount_too_large');
    for (const name of ['success_url', 'cancel_url'] as const) {
      const value = optionalString(p, name);
      if (value !== undefined && !isUrl(value)) throw invalid('Not a valid URL', name, 'url_invalid');
    }
    const customer = optionalString(p, 'customer');
    const customerEmail = optionalString(p, 'customer_email');
    if (customer !== undefined && customerEmail !== undefined) throw invalid('You may only specify one of these parameters: customer, customer_email.', 'customer', 'parameters_exclusive');
    if (customer !== undefined && !customers.has(customer)) throw noSuch('customer', customer, 'customer');
    const clientReferenceId = optionalString(p, 'client_reference_id');
    if (clientReferenceId !== undefined && clientReferenceId.length > 200) throw invalid('client_reference_id must be at most 200 characters.', 'client_reference_id');
    const created = now();
    const expiresAt = optionalInteger(p, 'expires_at') ?? created + 86_400;
    if (expiresAt < created + 1_800 || expiresAt > created + 86_400) {
      throw invalid('The `expires_at` timestamp must be between 30 minutes and 24 hours from Checkout Session creation.', 'expires_at');
    }
    const intentData = object(p, 'payment_intent_data');
    const id = newId('cs_test_a1', 56);
    lineItems.set(id, items);
    intentMetadata.set(id, intentData ? metadataOf(intentData, 'metadata', 'payment_intent_data[metadata]') : {});
    const session = put(sessions, {
      id,
      object: 'checkout.session',
      adaptive_pricing: null,
      after_expiration: null,
      allow_promotion_codes: null,
      amount_subtotal: amount,
      amount_total: amount,
      automatic_tax: { enabled: false, liability: null, provider: null, status: null },
      billing_address_collection: null,
      cancel_url: optionalString(p, 'cancel_url') ?? null,
      client_reference_id: clientReferenceId ?? null,
      client_secret: null,
      collected_information: null,
      consent: null,
      consent_collection: null,
      created,
      currency,
      currency_conversion: null,
      custom_fields: [],
      custom_text: { after_submit: null, shipping_address: null, submit: null, terms_of_service_acceptance: null },
      customer: customer ?? null,
      customer_creation: customer ? null : 'if_required',
      customer_details: customerEmail ? { address: null, email: customerEmail, name: null, phone: null, tax_exempt: 'none', tax_ids: null } : null,
      customer_email: customerEmail ?? null,
      discounts: [],
      expires_at: expiresAt,
      invoice: null,
      invoice_creation: { enabled: false, invoice_data: { account_tax_ids: null, custom_fields: null, description: null, footer: null, issuer: null, metadata: {}, rendering_options: null } },
      livemode: false,
      locale: optionalString(p, 'locale') ?? null,
      metadata: metadataOf(p),
      mode,
      origin_context: null,
      payment_intent: null,
      payment_link: null,
      payment_method_collection: 'if_required',
      payment_method_configuration_details: null,
      payment_method_options: { card: { request_three_d_secure: 'automatic' } },
      payment_method_types: ['card'],
      payment_status: 'unpaid',
      permissions: null,
      recovered_from: null,
      saved_payment_method_options: null,
      setup_intent: null,
      shipping_address_collection: null,
      shipping_cost: null,
      shipping_options: [],
      status: 'open',
      submit_type: optionalString(p, 'submit_type') ?? null,
      subscription: null,
      success_url: optionalString(p, 'success_url') ?? null,
      total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
      ui_mode: 'hosted_page',
      url: `${url}/c/pay/${id}`,
      wallet_options: null,
    });
    return render(session, expandParam(p));
  }

  const REFUND_PARAMS = new Set(['amount', 'charge', 'currency', 'customer', 'expand', 'instructions_email', 'metadata', 'origin', 'payment_intent', 'reason']);

  /** POST /v1/refunds: the app refunding a payment itself. */
  function createRefund(call: Call): Row {
    const p = call.params;
    rejectUnknown(p, REFUND_PARAMS);
    const chargeId = optionalString(p, 'charge');
    const intentId = optionalString(p, 'payment_intent');
    if (chargeId === undefined && intentId === undefined) throw invalid('One of the following params should be provided for this request: payment_intent or charge.', undefined, 'parameter_missing');
    if (chargeId !== undefined && intentId !== undefined) throw invalid('You cannot specify both payment_intent and charge.', 'charge');
    let charge: Row | undefined;
    if (intentId !== undefined) {
      const intent = paymentIntents.get(intentId);
      if (!intent) throw noSuch('payment_intent', intentId, 'payment_intent');
      charge = charges.get(intent.latest_charge);
      if (!charge || intent.status !== 'succeeded') throw invalid(`This PaymentIntent (${intentId}) does not have a successful charge to refund.`, 'payment_intent', 'charge_not_refundable');
    } else {
      charge = charges.get(chargeId!);
      if (!charge) throw noSuch('charge', chargeId!, 'charge');
    }
    if (charge.status !== 'succeeded') throw invalid(`Charge ${charge.id} has not succeeded and cannot be refunded.`, 'charge', 'charge_not_refundable');
    const left = charge.amount - charge.amount_refunded;
    if (left === 0) throw invalid(`Charge ${charge.id} has already been refunded.`, undefined, 'charge_already_refunded');
    const amount = optionalInteger(p, 'amount') ?? left;
    if (amount <= 0) throw invalid('Invalid positive integer', 'amount', 'parameter_invalid_integer');
    if (amount > left) throw invalid(`Refund amount (${amount}) is greater than unrefunded amount on charge (${left})`, 'amount', 'amount_too_large');
    const reason = optionalString(p, 'reason');
    if (reason !== undefined && !['duplicate', 'fraudulent', 'requested_by_customer'].includes(reason)) throw invalid('Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer', 'reason');
    const { refund, event } = refundCharge(charge, amount, {}, { reason: reason ?? null, metadata: metadataOf(p), request: { id: call.requestId, idempotency_key: call.idempotencyKey } });
    deliverLater(event);
    return render(refund, expandParam(p));
  }

  /** GET /v1/checkout/sessions: newest first, by payment_intent, customer or status. */
  function listSessions(call: Call): Row {
    const p = call.params;
    const limit = optionalInteger(p, 'limit') ?? 10;
    if (limit < 1 || limit > 100) throw invalid('This value must be between 1 and 100.', 'limit');
    const filters = ['payment_intent', 'customer', 'status', 'payment_link'].flatMap((name) => {
      const value = optionalString(p, name);
      return value === undefined ? [] : [[name, value] as const];
    });
    let list = [...sessions.values()].reverse().filter((s) => filters.every(([name, value]) => s[name] === value));
    const after = optionalString(p, 'starting_after');
    if (after !== undefined) {
      const order = [...sessions.keys()];
      const at = order.indexOf(after);
      if (at < 0) throw noSuch('checkout.session', after, 'starting_after');
      list = list.filter((s) => order.indexOf(s.id) < at);
    }
    const paths = expandParam(p).map((path) => path.replace(/^data\./, ''));
    return { object: 'list', data: list.slice(0, limit).map((s) => render(s, paths)), has_more: list.length > limit, url: '/v1/checkout/sessions' };
  }

  function listEvents(call: Call): Row {
    const p = call.params;
    const limit = optionalInteger(p, 'limit') ?? 10;
    if (limit < 1 || limit > 100) throw invalid('This value must be between 1 and 100.', 'limit');
    const type = optionalString(p, 'type');
    const types = p.types === undefined ? undefined : (Array.isArray(p.types) ? p.types : [p.types]).map(String);
    const matches = (t: string, pattern: string) => (pattern.endsWith('*') ? t.startsWith(pattern.slice(0, -1)) : t === pattern);
    // Newest first; another account's events are only seen with its Stripe-Account header.
    let list = events.filter((e) => e.account === call.account).reverse();
    if (type !== undefined) list = list.filter((e) => matches(e.type, type));
    if (types !== undefined) list = list.filter((e) => types.some((pattern) => matches(e.type, pattern)));
    const after = optionalString(p, 'starting_after');
    const before = optionalString(p, 'ending_before');
    let page: Stripe.Event[];
    let hasMore: boolean;
    if (before !== undefined) {
      const at = events.findIndex((e) => e.id === before);
      if (at < 0) throw noSuch('event', before, 'ending_before');
      const newer = list.filter((e) => events.indexOf(e) > at);
      page = newer.slice(-limit);
      hasMore = newer.length > limit;
    } else {
      let start = 0;
      if (after !== undefined) {
        const at = events.findIndex((e) => e.id === after);
        if (at < 0) throw noSuch('event', after, 'starting_after');
        start = list.findIndex((e) => events.indexOf(e) < at);
        if (start < 0) start = list.length;
      }
      page = list.slice(start, start + limit);
      hasMore = list.length > start + limit;
    }
    return { object: 'list', data: page.map((e) => clone(e)), has_more: hasMore, url: '/v1/events' };
  }

  function route(call: Call): Row {
    const { method, path } = call;
    const parts = path.split('/').filter(Boolean); // ['v1', ...]
    if (parts[0] !== 'v1') throw notFound(method, path);
    const [, resource, id, action, extra] = parts;
    if (resource === 'customers') {
      if (method === 'POST' && id === undefined) return createCustomer(call);
      if (method === 'GET' && id !== undefined && action === undefined) return retrieve(customers, 'customer', id, call);
      if (method === 'POST' && id !== undefined && action === undefined) return updateCustomer(id, call);
    }
    if (resource === 'checkout' && id === 'sessions') {
      const sessionId = action;
      if (method === 'POST' && sessionId === undefined) return createSession(call);
      if (method === 'GET' && sessionId === undefined) return listSessions(call);
      if (method === 'GET' && sessionId !== undefined && extra === undefined) return retrieve(sessions, 'checkout.session', sessionId, call);
      if (method === 'GET' && sessionId !== undefined && extra === 'line_items') {
        if (!sessions.has(sessionId)) throw noSuch('checkout.session', sessionId);
        return { object: 'list', data: clone(lineItems.get(sessionId) ?? []), has_more: false, url: `/v1/checkout/sessions/${sessionId}/line_items` };
      }
      if (method === 'POST' && sessionId !== undefined && extra === 'expire') {
        const session = sessions.get(sessionId);
        if (!session) throw noSuch('checkout.session', sessionId);
        if (session.status !== 'open') {
          throw new ApiError(400, { type: 'invalid_request_error', message: `Only Checkout Sessions with a status in ["open"] can be expired. This Checkout Session has a status of "${session.status}".` }, true);
        }
        const event = expire(session, {}, { id: call.requestId, idempotency_key: call.idempotencyKey });
        deliverLater(event);
        return render(session, expandParam(call.params));
      }
    }
    if (method === 'GET' && id !== undefined && action === undefined) {
      if (resource === 'payment_intents') return retrieve(paymentIntents, 'payment_intent', id, call);
      if (resource === 'charges') return retrieve(charges, 'charge', id, call);
      if (resource === 'refunds') return retrieve(refunds, 'refund', id, call);
      if (resource === 'disputes') return retrieve(disputes, 'dispute', id, call);
      if (resource === 'events') {
        const event = events.find((e) => e.id === id && e.account === call.account);
        if (!event) throw noSuch('event', id);
        return clone(event) as unknown as Row;
      }
    }
    if (method === 'GET' && resource === 'events' && id === undefined) return listEvents(call);
    if (method === 'POST' && resource === 'refunds' && id === undefined) return createRefund(call);
    throw notFound(method, path);
  }

  const notFound = (method: string, path: string) =>
    new ApiError(404, { type: 'invalid_request_error', message: `Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.` });

  // --- HTTP ----------------------------------------------------------------------------

  const sendJson = (res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  };
  const errorText = (error: StripeErrorBody, requestId: string) =>
    JSON.stringify({ error: { ...error, request_log_url: `https://dashboard.stripe.com/test/logs/${requestId}` } }, null, 2);

  async function handleApi(req: IncomingMessage, res: ServerResponse, pathname: string, search: string) {
    const method = req.method ?? 'GET';
    const requestId = newId('req_', 14);
    const base: Record<string, string> = { 'request-id': requestId, 'stripe-version': String(req.headers['stripe-version'] ?? FAKE_STRIPE_API_VERSION) };
    const key = typeof req.headers['idempotency-key'] === 'string' ? req.headers['idempotency-key'] : null;
    if (method === 'POST' && key !== null) {
      base['idempotency-key'] = key;
      postsByIdempotencyKey.set(key, (postsByIdempotencyKey.get(key) ?? 0) + 1);
    }
    const fail = (error: ApiError) => sendJson(res, error.status, errorText(error.error, requestId), base);
    const auth = req.headers.authorization;
    if (!auth) {
      return fail(new ApiError(401, { type: 'invalid_request_error', message: "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/." }));
    }
    if (auth !== `Bearer ${options.secretKey}`) {
      const given = auth.replace(/^Bearer /, '');
      return fail(new ApiError(401, { type: 'invalid_request_error', code: 'api_key_invalid', message: `Invalid API Key provided: ${given.slice(0, 8)}${'*'.repeat(Math.max(0, given.length - 12))}${given.slice(-4)}` }));
    }
    if (outage) return fail(new ApiError(500, { type: 'api_error', message: 'An unknown error occurred' }));
    const body = method === 'POST' ? await readBody(req) : '';
    // Everything from here on is synchronous: two requests with one key cannot interleave.
    let params: Params;
    try {
      params = parseStripeForm(method === 'POST' ? body : search);
    } catch {
      return fail(invalid('Invalid request body'));
    }
    let print = '';
    if (method === 'POST' && key !== null) {
      if (key.length > 255) return fail(invalid('Idempotency keys can be at most 255 characters long.', undefined, 'idempotency_key_in_use'));
      print = fingerprint(method, pathname, params);
      const earlier = idempotent.get(key);
      if (earlier) {
        if (earlier.fingerprint !== print) {
          return fail(new ApiError(400, { type: 'idempotency_error', message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.` }));
        }
        return sendJson(res, earlier.status, earlier.text, { ...base, 'idempotent-replayed': 'true' });
      }
    }
    const account = typeof req.headers['stripe-account'] === 'string' ? req.headers['stripe-account'] : undefined;
    let status = 200;
    let text: string;
    let store = true;
    try {
      text = JSON.stringify(route({ method, path: pathname, params, account, requestId, idempotencyKey: key }), null, 2);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      status = error.status;
      text = errorText(error.error, requestId);
      store = error.stored;
    }
    if (method === 'POST' && key !== null && store) idempotent.set(key, { fingerprint: print, status, text });
    return sendJson(res, status, text, base);
  }

  /** The hosted checkout page: what a customer sees at session.url, for local manual runs. */
  async function handlePage(req: IncomingMessage, res: ServerResponse, sessionId: string) {
    const html = (status: number, title: string, inner: string) => {
      const text = `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}button{font-size:1rem;padding:.5rem 1rem;margin:.25rem 0}</style></head><body><p><small>Fake Stripe: test mode</small></p><h1>${escapeHtml(title)}</h1>${inner}</body></html>`;
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    const session = sessions.get(sessionId);
    if (!session) return html(404, 'Session not found', '<p>Something went wrong: this Checkout Session does not exist.</p>');
    const amount = `${(session.amount_total / 100).toFixed(2)} ${String(session.currency).toUpperCase()}`;
    if (req.method === 'POST') {
      const form = new URLSearchParams(await readBody(req));
      if (session.status !== 'open') return html(409, 'This session is no longer open', `<p>Status: ${escapeHtml(session.status)}</p>`);
      const event = completeSession(sessionId, { async: form.get('async') === '1' });
      // Stripe redirects without waiting for the webhook: the success page may load first.
      deliverLater(event);
      if (!session.success_url) return html(200, 'Payment complete', `<p>Paid ${escapeHtml(amount)}.</p>`);
      res.writeHead(303, { location: String(session.success_url).replaceAll('{CHECKOUT_SESSION_ID}', sessionId), 'content-length': 0 });
      res.end();
      return;
    }
    if (session.status !== 'open') return html(410, 'This session is no longer open', `<p>Status: ${escapeHtml(session.status)}</p>`);
    const items = (lineItems.get(sessionId) ?? []).map((i) => `<li>${escapeHtml(i.description)} × ${i.quantity}: ${(i.amount_total / 100).toFixed(2)}</li>`).join('');
    const cancel = session.cancel_url ? `<p><a href="${escapeHtml(session.cancel_url)}">Cancel</a></p>` : '';
    return html(
      200,
      `Pay ${amount}`,
      `<ul>${items}</ul><form method="post"><button type="submit">Pay</button></form>` +
        `<form method="post"><input type="hidden" name="async" value="1"><button type="submit">Pay by bank debit (settles later)</button></form>${cancel}`,
    );
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    requestCount++;
    if (latency > 0) await new Promise((r) => setTimeout(r, latency));
    const [pathname, search = ''] = (req.url ?? '/').split('?', 2) as [string, string?];
    const page = /^\/c\/pay\/([A-Za-z0-9_]+)$/.exec(pathname);
    if (page && (req.method === 'GET' || req.method === 'POST')) return handlePage(req, res, page[1]!);
    const receipt = /^\/receipts\/payment\/([A-Za-z0-9_]+)$/.exec(pathname);
    if (receipt && req.method === 'GET') {
      const charge = charges.get(receipt[1]!);
      const text = charge ? `<!doctype html><title>Receipt</title><p>Receipt for ${(charge.amount / 100).toFixed(2)} ${String(charge.currency).toUpperCase()} (${escapeHtml(charge.id)})</p>` : 'not found';
      res.writeHead(charge ? 200 : 404, { 'content-type': 'text/html; charset=utf-8' }).end(text);
      return;
    }
    return handleApi(req, res, pathname, search);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) sendJson(res, 500, JSON.stringify({ error: { type: 'api_error', message: 'An unknown error occurred' } }));
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  url = `http://127.0.0.1:${port}`;

  return {
    url,
    port,
    secretKey: options.secretKey,
    webhookSecret: options.webhookSecret,
    events,
    deliveries,
    customers: customers as unknown as Map<string, Stripe.Customer>,
    sessions: sessions as unknown as Map<string, Stripe.Checkout.Session>,
    paymentIntents: paymentIntents as unknown as Map<string, Stripe.PaymentIntent>,
    charges: charges as unknown as Map<string, Stripe.Charge>,
    refunds: refunds as unknown as Map<string, Stripe.Refund>,
    disputes: disputes as unknown as Map<string, Stripe.Dispute>,
    get requestCount() {
      return requestCount;
    },
    postsByIdempotencyKey,
    completeSession: async (id, control = {}) => finish(completeSession(id, control), control),
    asyncPaymentSucceeded: async (id, control = {}) => finish(settle(id, true, control), control),
    asyncPaymentFailed: async (id, control = {}) => finish(settle(id, false, control), control),
    expireSession: async (id, control = {}) => {
      const session = sessionOf(id);
      if (session.status !== 'open') throw new Error(`fake Stripe: session ${id} is ${session.status}, not open`);
      return finish(expire(session, control), control);
    },
    refund: async (id, amount, control = {}) => finish(refund(id, amount, control), control),
    createDispute: async (id, control = {}) => finish(createDispute(id, control), control),
    closeDispute: async (id, outcome, control = {}) => finish(closeDispute(id, outcome, control), control),
    deliver: (event, deliverOptions) => deliver(event, deliverOptions),
    signatureHeader: (payload, o = {}) => signatureHeader(payload, { secret: o.secret ?? options.webhookSecret, ...(o.timestamp !== undefined ? { timestamp: o.timestamp } : {}) }),
    idle: async () => {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
    setOutage: (on) => void (outage = on),
    setLatency: (ms) => void (latency = ms),
    setWebhookUrl: (next) => void (webhookUrl = next),
    close: () =>
      new Promise<void>((resolve) => {
        background.abort();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
