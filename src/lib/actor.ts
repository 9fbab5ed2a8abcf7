// Who performs an operation, and what the audit log records about how they reached it.
// Operations take an Actor and write their own audit row, so the audit of any action has
// one place: the operation that did it.
export interface Actor {
  shopId: string;
  /** Null for the system: a job, the reconciler, an operator command. */
  userId: string | null;
  /** The client address as a keyed hash (never the address), when a request acted. */
  ipHash: string | null;
  userAgent: string | null;
  requestId: string | null;
}

export function systemActor(shopId: string): Actor {
  return { shopId, userId: null, ipHash: null, userAgent: null, requestId: null };
}
