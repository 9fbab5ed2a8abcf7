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

// The GSM 03.38 basic character set (one septet each), without the escape to the extension table.
const GSM7_BASIC = new Set(
  Array.from('@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà').map((c) => c.charCodeAt(0)),
);

export function smsParts(text: string): SmsParts {
  if (text.length === 0) return { encoding: 'GSM-7', segments: 0, characters: 0 };
  // Fast path, exact: only basic GSM-7 characters, one septet each, no character that a
  // segment boundary could split. The calculator costs ~0.3 ms a message; a campaign
  // renders one per recipient. Anything else goes to the calculator.
  let basic = true;
  for (let i = 0; i < text.length; i++) {
    if (!GSM7_BASIC.has(text.charCodeAt(i))) {
      basic = false;
      break;
    }
  }
  if (basic) return { encoding: 'GSM-7', segments: text.length <= 160 ? 1 : Math.ceil(text.length / 153), characters: text.length };
  const message = new SegmentedMessage(text, 'auto');
  return { encoding: message.encodingName === 'UCS-2' ? 'UCS-2' : 'GSM-7', segments: message.segmentsCount, characters: message.numberOfCharacters };
}
