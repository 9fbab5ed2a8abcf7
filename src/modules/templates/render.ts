// Personalisation tags in message bodies: {{first_name}}, {{last_name}}, {{shop_name}},
// {{discount_code}}, {{unsubscribe}}, each with an optional fallback: {{first_name|there}}.
// A body is compiled once (per campaign) into literal and tag parts, then rendered per
// recipient without re-parsing. Unknown tags are an error at compile time, so a typo is a
// 400 when the campaign is saved, not a "{{frist_name}}" on a customer's phone.

export const TAGS = ['first_name', 'last_name', 'shop_name', 'discount_code', 'unsubscribe'] as const;
export type Tag = (typeof TAGS)[number];
export type RenderValues = Partial<Record<Tag, string | null | undefined>>;

type Part = { literal: string } | { tag: Tag; fallback: string };
export interface CompiledBody {
  parts: Part[];
  tags: Set<Tag>;
}

export class TemplateSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateSyntaxError';
  }
}

const TAG_PATTERN = /\{\{\s*([a-z_]+)\s*(?:\|([^{}]{0,100}))?\}\}/g;
const KNOWN = new Set<string>(TAGS);

export function compileBody(body: string): CompiledBody {
  const parts: Part[] = [];
  const tags = new Set<Tag>();
  let last = 0;
  for (const match of body.matchAll(TAG_PATTERN)) {
    const name = match[1]!;
    if (!KNOWN.has(name)) throw new TemplateSyntaxError(`unknown tag {{${name}}}; known tags: ${TAGS.join(', ')}`);
    if (match.index > last) parts.push({ literal: body.slice(last, match.index) });
    parts.push({ tag: name as Tag, fallback: match[2]?.trim() ?? '' });
    tags.add(name as Tag);
    last = match.index + match[0].length;
  }
  if (last < body.length) parts.push({ literal: body.slice(last) });
  // A stray "{{" is almost always a broken tag: refuse it rather than send it.
  for (const part of parts) if ('literal' in part && /\{\{|\}\}/.test(part.literal)) throw new TemplateSyntaxError('unbalanced {{ or }} in the message body');
  return { parts, tags };
}

export function renderBody(compiled: CompiledBody, values: RenderValues): string {
  let out = '';
  for (const part of compiled.parts) {
    if ('literal' in part) out += part.literal;
    else {
      const value = values[part.tag];
      out += value && value.trim().length > 0 ? value.trim() : part.fallback;
    }
  }
  return out;
}
