// The billing errors more than one workflow raises: no payment provider configured, or the
// provider unreachable (the client retries after Retry-After).
import { AppError } from '../../lib/app-error.js';

export const billingNotConfigured = () => new AppError(503, 'BILLING_NOT_CONFIGURED', 'This server has no Stripe account configured');
export const paymentsUnavailable = () => new AppError(503, 'PAYMENTS_UNAVAILABLE', 'Stripe could not be reached; try again shortly', undefined, { 'Retry-After': '30' });
