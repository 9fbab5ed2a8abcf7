// How many SMS segments a text costs. GSM-7 fits 160 characters in one segment and 153 per
// segment once split (the concatenation header takes 7); anything outside the GSM-7
// alphabet switches the whole message to UCS-2: 70, then 67. GSM-7 extension characters
// (€ [ ] { } ~ ^ | \) take two septets. Twilio's calculator (sms-segments-calculator) does
// the counting: it is the reference the providers' own billing follows.
import { SegmentedMessage } from 'sms-segments-calculator';

export type SmsEncoding = 'GSM-7' | 'UCS-2';

export interface SmsParts {
  encoding: SmsEncoding;
  segments: number;
  /** Characters as the handset counts them (an extension character counts once). */
  characters: number;
}

export function smsParts(text: string): SmsParts {
  if (text.length === 0) return { encoding: 'GSM-7', segments: 0, characters: 0 };
  const message = new SegmentedMessage(text, 'auto');
  return { encoding: message.encodingName === 'UCS-2' ? 'UCS-2' : 'GSM-7', segments: message.segmentsCount, characters: message.numberOfCharacters };
}
