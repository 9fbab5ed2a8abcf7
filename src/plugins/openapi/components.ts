// The named schemas of the OpenAPI document, in one table. The route files keep their inline
// TypeBox schemas; the document's transform (./transform.ts) finds every body or response
// (sub)schema identical to one listed here and refers to #/components/schemas/<name> instead.
// Two sources: the schemas a module exports from its schemas.ts, and, for the ones a route
// file keeps to itself, the place in one operation where the schema is (taken from there).
import type { TSchema } from '@sinclair/typebox';
import * as campaigns from '../../modules/campaigns/schemas.js';
import * as contacts from '../../modules/contacts/schemas.js';
import * as members from '../../modules/members/schemas.js';
import * as segments from '../../modules/segments/schemas.js';
import * as senderNumbers from '../../modules/sender-numbers/schemas.js';
import * as settings from '../../modules/settings/schemas.js';
import * as templates from '../../modules/templates/schemas.js';
import * as wallet from '../../modules/wallet/schemas.js';

/** Exported schemas, by the component name they get. */
export const EXPORTED_COMPONENTS: Record<string, TSchema> = {
  Campaign: campaigns.Campaign,
  CampaignInput: campaigns.CampaignInput,
  CampaignPatch: campaigns.CampaignPatch,
  CampaignList: campaigns.CampaignList,
  Estimate: campaigns.Estimate,
  EnqueuedCampaign: campaigns.EnqueuedCampaign,
  Recipient: campaigns.Recipient,
  RecipientList: campaigns.RecipientList,
  CampaignMetrics: campaigns.CampaignMetrics,
  Contact: contacts.Contact,
  ContactInput: contacts.ContactInput,
  ContactPatch: contacts.ContactPatch,
  ContactList: contacts.ContactList,
  ConsentEvent: contacts.ConsentEvent,
  ConsentHistory: contacts.ConsentHistory,
  ConsentChangeInput: contacts.ConsentChangeInput,
  ConsentVerification: contacts.ConsentVerification,
  Member: members.Member,
  MemberList: members.MemberList,
  RoleChange: members.RoleChange,
  RoleChanged: members.RoleChanged,
  Invitation: members.Invitation,
  InvitationList: members.InvitationList,
  InvitationInput: members.InvitationInput,
  InvitationAcceptance: members.InvitationAcceptance,
  AcceptedInvitation: members.AcceptedInvitation,
  Segment: segments.Segment,
  SegmentInput: segments.SegmentInput,
  SegmentPatch: segments.SegmentPatch,
  SegmentList: segments.SegmentList,
  SegmentCount: segments.SegmentCount,
  SenderNumberList: senderNumbers.SenderNumberList,
  Settings: settings.Settings,
  SettingsPatch: settings.SettingsPatch,
  Template: templates.Template,
  TemplateList: templates.TemplateList,
  Wallet: wallet.Wallet,
  WalletEntry: wallet.WalletEntry,
  WalletEntryList: wallet.WalletEntryList,
};

/**
 * Schemas a route file keeps to itself: [operationId, path in its Fastify schema]. Schemas
 * that carry their own $id (SegmentRule, SenderNumber, SecurityEvent) are named by that $id.
 */
export const ROUTE_COMPONENTS: Record<string, [string, string[]]> = {
  SignupInput: ['signup', ['body']],
  LoginInput: ['login', ['body']],
  Session: ['listSessions', ['response', '200', 'properties', 'items', 'items']],
  User: ['signup', ['response', '201', 'properties', 'user']],
  Shop: ['signup', ['response', '201', 'properties', 'shop']],
  Me: ['getMe', ['response', '200']],
  CurrentUser: ['getMe', ['response', '200', 'properties', 'user']],
  AccessToken: ['refreshSession', ['response', '200']],
  Import: ['getImport', ['response', '200']],
  ImportAccepted: ['createImport', ['response', '202']],
  AuditEvent: ['listAuditEvents', ['response', '200', 'properties', 'items', 'items']],
  WebhookAck: ['receiveSmsStatus', ['response', '200']],
};
