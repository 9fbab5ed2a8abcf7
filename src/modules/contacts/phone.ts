// Phone numbers: parsed with libphonenumber-js into E.164, with the shop's default region
// for numbers written without a country code. Time zones: libphonenumber gives the country,
// not the zone; a country maps to its most populous zone here (an approximation for
// countries that span several: a contact's own time_zone, when given, always wins, and the
// shop's zone is the fallback for countries not listed).
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';

export interface ParsedPhone {
  e164: string;
  country: string | null;
}

/** E.164 and country, or null when the input is not a valid number. */
export function parsePhone(input: string, defaultRegion: string): ParsedPhone | null {
  if (typeof input !== 'string' || input.length === 0 || input.length > 40) return null;
  const parsed = parsePhoneNumberFromString(input, defaultRegion as CountryCode);
  if (!parsed || !parsed.isValid()) return null;
  return { e164: parsed.number, country: parsed.country ?? null };
}

const ZONES: Record<string, string> = {
  US: 'America/New_York', CA: 'America/Toronto', MX: 'America/Mexico_City', BR: 'America/Sao_Paulo', AR: 'America/Argentina/Buenos_Aires',
  CL: 'America/Santiago', CO: 'America/Bogota', PE: 'America/Lima', GB: 'Europe/London', IE: 'Europe/Dublin', FR: 'Europe/Paris',
  DE: 'Europe/Berlin', ES: 'Europe/Madrid', PT: 'Europe/Lisbon', IT: 'Europe/Rome', NL: 'Europe/Amsterdam', BE: 'Europe/Brussels',
  CH: 'Europe/Zurich', AT: 'Europe/Vienna', SE: 'Europe/Stockholm', NO: 'Europe/Oslo', DK: 'Europe/Copenhagen', FI: 'Europe/Helsinki',
  PL: 'Europe/Warsaw', CZ: 'Europe/Prague', GR: 'Europe/Athens', RO: 'Europe/Bucharest', UA: 'Europe/Kyiv', TR: 'Europe/Istanbul',
  RU: 'Europe/Moscow', IL: 'Asia/Jerusalem', AE: 'Asia/Dubai', SA: 'Asia/Riyadh', IN: 'Asia/Kolkata', PK: 'Asia/Karachi',
  CN: 'Asia/Shanghai', HK: 'Asia/Hong_Kong', JP: 'Asia/Tokyo', KR: 'Asia/Seoul', SG: 'Asia/Singapore', MY: 'Asia/Kuala_Lumpur',
  TH: 'Asia/Bangkok', VN: 'Asia/Ho_Chi_Minh', PH: 'Asia/Manila', ID: 'Asia/Jakarta', AU: 'Australia/Sydney', NZ: 'Pacific/Auckland',
  ZA: 'Africa/Johannesburg', NG: 'Africa/Lagos', EG: 'Africa/Cairo', KE: 'Africa/Nairobi', MA: 'Africa/Casablanca',
};

export function timeZoneForCountry(country: string | null): string | null {
  return country ? (ZONES[country] ?? null) : null;
}
