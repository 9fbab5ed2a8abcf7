// Absolute URLs for links and redirects. The forwarded host is believed only when it is
// on the allowlist: a forged X-Forwarded-Host (or Host) can never redirect a user.
export interface PublicUrlRequest {
  /** Fastify's request.host: X-Forwarded-Host only when the peer is a trusted proxy, else Host. */
  host: string;
  /** Fastify's request.protocol: X-Forwarded-Proto only from a trusted proxy. */
  protocol: string;
}

export function publicBaseUrl(request: PublicUrlRequest, config: { publicBaseUrl: string; allowedForwardedHosts: string[] }): string {
  const host = (request.host ?? '').toLowerCase();
  if (host && config.allowedForwardedHosts.includes(host)) {
    const protocol = request.protocol === 'http' ? 'http' : 'https';
    return `${protocol}://${host}`;
  }
  return config.publicBaseUrl;
}
