// Which CSV column holds which contact field: by header name (common spellings), or by an
// explicit mapping {field: "Header as written"} sent with the upload.
import type { ConsentState } from '../../db/database.js';

export const FIELDS = ['phone', 'email', 'first_name', 'last_name', 'tags', 'consent', 'time_zone'] as const;
export type Field = (typeof FIELDS)[number];
export type ColumnMap = Partial<Record<Field, number>>;

const ALIASES: Record<Field, string[]> = {
  phone: ['phone', 'phonenumber', 'mobile', 'mobilephone', 'mobilenumber', 'cell', 'cellphone', 'telephone', 'tel', 'sms', 'smsnumber', 'msisdn'],
  email: ['email', 'emailaddress', 'mail'],
  first_name: ['firstname', 'first', 'givenname', 'forename'],
  last_name: ['lastname', 'last', 'surname', 'familyname'],
  tags: ['tags', 'tag', 'labels'],
  consent: ['consent', 'smsconsent', 'acceptsmarketing', 'acceptssmsmarketing', 'subscribed', 'optin'],
  time_zone: ['timezone', 'tz'],
};

const squash = (header: string) => header.replace(/^\uFEFF/, '').toLowerCase().replace(/[^a-z0-9]/g, '');

export function resolveColumns(headers: string[], mapping: Partial<Record<Field, string>> = {}): ColumnMap {
  const columns: ColumnMap = {};
  const squashed = headers.map(squash);
  for (const field of FIELDS) {
    const explicit = mapping[field];
    const index = explicit !== undefined ? squashed.indexOf(squash(explicit)) : squashed.findIndex((h) => ALIASES[field].includes(h));
    if (index >= 0) columns[field] = index;
  }
  return columns;
}

export function parseConsentCell(value: string | undefined): ConsentState | null {
  const v = (value ?? '').trim().toLowerCase();
  if (['subscribed', 'yes', 'y', 'true', '1', 'opted_in', 'optedin'].includes(v)) return 'subscribed';
  if (['unsubscribed', 'no', 'n', 'false', '0', 'opted_out', 'optedout'].includes(v)) return 'unsubscribed';
  if (v === 'never') return 'never';
  return null;
}
