// What a recipient receives: the campaign body with its tags rendered and, unless the body
// already tells people how to opt out, the shop's opt-out instruction appended. Segments
// are counted on the rendered text, because one name can switch the encoding.
import { smsParts, type SmsParts } from '../../lib/sms-encoding.js';
import { compileBody, renderBody, type CompiledBody } from '../templates/render.js';

export const MAX_SEGMENTS_PER_MESSAGE = 10;

export interface CampaignMessage {
  compiled: CompiledBody;
  shopName: string;
  discountCode: string | null;
  optOutText: string;
}

/** Compiles the body and appends the opt-out instruction where the body has none. */
export function prepareMessage(body: string, opts: { shopName: string; discountCode: string | null; optOutText: string }): CampaignMessage {
  const hasInstruction = /\{\{\s*unsubscribe/.test(body) || /\bSTOP\b/i.test(body);
  const compiled = compileBody(hasInstruction ? body : `${body}\n{{unsubscribe}}`);
  return { compiled, ...opts };
}

export function renderFor(message: CampaignMessage, contact: { first_name: string | null; last_name: string | null }): { text: string; parts: SmsParts } {
  const text = renderBody(message.compiled, {
    first_name: contact.first_name,
    last_name: contact.last_name,
    shop_name: message.shopName,
    discount_code: message.discountCode,
    unsubscribe: message.optOutText,
  });
  return { text, parts: smsParts(text) };
}
