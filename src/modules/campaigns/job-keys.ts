// The job keys of a campaign's jobs, built in one place: the enqueue, the dispatch, the
// send batches and the reconciler all use these (app_private.add_job prefixes the shop).
export const dispatchJobKey = (campaignId: string) => `campaign:${campaignId}:dispatch`;
export const batchJobKey = (campaignId: string, batchId: string | number) => `campaign:${campaignId}:batch:${batchId}`;
/** Every key of a campaign's jobs starts with this (after the shop prefix). */
export const campaignJobKeyPrefix = (campaignId: string) => `campaign:${campaignId}:`;
