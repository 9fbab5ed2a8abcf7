// The template catalogue's shapes, as routes and operations both use them.
import { Type, type Static } from '@sinclair/typebox';

export const Template = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    name: Type.String(),
    category: Type.String(),
    body: Type.String({ description: 'With personalisation tags: {{first_name}}, {{last_name}}, {{shop_name}}, {{discount_code}}, {{unsubscribe}}; {{tag|fallback}} for a default.' }),
    uses: Type.Integer({ description: "This shop's campaigns created from it" }),
    lastUsedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  },
  { additionalProperties: false },
);
export type Template = Static<typeof Template>;

export const TemplateParams = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false });
export const TemplateListQuery = Type.Object({}, { additionalProperties: false });
// A small, curated catalogue: one page.
export const TemplateList = Type.Object({ items: Type.Array(Template), nextCursor: Type.Null() }, { additionalProperties: false });
export type TemplateList = Static<typeof TemplateList>;
