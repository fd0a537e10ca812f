import * as fs from 'fs';
import * as tls from 'tls';
import { ConfigurationError } from './errors';

/**
 * TLS options for `pg` (its `ssl` setting). TLS is always on and always verified: the certificate
 * must chain to a trusted CA (`rejectUnauthorized: true`) and name the host we dialled (`pg` sets
 * `servername` to the host name, and Node's `checkServerIdentity` checks it; an IP address is
 * checked against the certificate's IP SANs). There is deliberately no switch to turn this off.
 *
 * Trust store:
 * - No `caFile`: we pass no `ca`, so Node uses its default store — Mozilla's public roots plus
 *   whatever `NODE_EXTRA_CA_CERTS` named at process start. RDS Proxy endpoints present Amazon
 *   (ACM) certificates that chain to public roots, so the query function needs nothing more.
 *   Aurora/RDS *instance* certificates are issued by the RDS CAs, which are not public roots; the
 *   Lambda Node.js 20+ runtimes ship them in `/var/runtime/ca-cert.pem` but, to keep cold starts
 *   fast, load them only when `NODE_EXTRA_CA_CERTS=/var/runtime/ca-cert.pem` is set (AWS Compute
 *   Blog, "Node.js 20.x runtime now available in AWS Lambda", Nov 2023). The bootstrap function,
 *   which talks to the cluster writer directly, gets that variable from the construct.
 * - With `caFile`: Node's `ca` option *replaces* the default store (and ignores
 *   NODE_EXTRA_CA_CERTS), so we pass the default store plus the file to get "extra" semantics.
 */
export function tlsOptions(caFile?: string): tls.ConnectionOptions {
  if (!caFile) return { rejectUnauthorized: true };
  let extra: string;
  try {
    extra = fs.readFileSync(caFile, 'utf8');
  } catch (e) {
    throw new ConfigurationError(`DB_TLS_CA_FILE "${caFile}" cannot be read: ${(e as Error).message}. Point it at a PEM CA bundle packaged with the function, or unset it.`);
  }
  if (!extra.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConfigurationError(`DB_TLS_CA_FILE "${caFile}" contains no PEM certificate (-----BEGIN CERTIFICATE-----).`);
  }
  return { rejectUnauthorized: true, ca: [...defaultCaCertificates(), extra] };
}

/** Node's default trust store, including NODE_EXTRA_CA_CERTS where Node can report it (22.15+/23.5+). */
function defaultCaCertificates(): readonly string[] {
  const get = (tls as unknown as { getCACertificates?: (type: 'default') => string[] }).getCACertificates;
  return typeof get === 'function' ? get('default') : tls.rootCertificates;
}
