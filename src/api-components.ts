// The named schemas of the OpenAPI document that modules declare in their schemas.ts. The
// app composes modules and plugins, so it hands this table to the OpenAPI plugin.
import type { TSchema } from '@sinclair/typebox';
import * as billing from './modules/billing/schemas.js';
import * as campaigns from './modules/campaigns/schemas.js';
import * as privacy from './modules/privacy/schemas.js';
import * as contacts from './modules/contacts/schemas.js';
import * as members from './modules/members/schemas.js';
import * as segments from './modules/segments/schemas.js';
import * as senderNumbers from './modules/sender-numbers/schemas.js';
import * as settings from './modules/settings/schemas.js';
import * as shopify from './modules/shopify/schemas.js';
import * as templates from './modules/templates/schemas.js';
import * as wallet from './modules/wallet/schemas.js';

/** The modules' exported schemas, by the component name they get in the OpenAPI document. */
export const API_COMPONENTS: Record<string, TSchema> = {
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
  ShopifySync: shopify.ShopifySync,
  SettingsPatch: settings.SettingsPatch,
  Template: templates.Template,
  TemplateList: templates.TemplateList,
  CreditPackage: billing.CreditPackage,
  CreditPackageList: billing.CreditPackageList,
  Purchase: billing.Purchase,
  PurchaseInput: billing.PurchaseInput,
  CreatedPurchase: billing.CreatedPurchase,
  PurchaseList: billing.PurchaseList,
  ConfirmInput: billing.ConfirmInput,
  CustomerDataRequest: privacy.CustomerDataRequest,
  CustomerDataRequestList: privacy.CustomerDataRequestList,
  CustomerDataExport: privacy.CustomerDataExport,
  Wallet: wallet.Wallet,
  WalletEntry: wallet.WalletEntry,
  WalletEntryList: wallet.WalletEntryList,
};

