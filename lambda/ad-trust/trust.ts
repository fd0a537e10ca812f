/**
 * The AWS side of a one-way outgoing forest trust from AWS Managed Microsoft AD to an on-premises
 * forest, as plain functions that take their clients as arguments. CloudFormation has no resource
 * for trusts; the custom resource in `lib/ad-trust` drives these functions.
 *
 * The trust password is read from Secrets Manager by ARN inside the handler. It is never logged,
 * never returned and never part of the custom resource's properties (only the secret's ARN is).
 */
import {
  CreateTrustCommand,
  DeleteTrustCommand,
  DescribeTrustsCommand,
  DirectoryServiceClient,
  Trust,
  UpdateConditionalForwarderCommand,
  UpdateTrustCommand,
} from '@aws-sdk/client-directory-service';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { withRetry } from '../shared/retry';

export interface TrustProps {
  readonly DirectoryId: string;
  /** FQDN of the on-premises forest root domain, e.g. onprem.example.com. */
  readonly RemoteDomainName: string;
  /** ARN of the secret whose value (or JSON key `password`) is the trust password. */
  readonly TrustPasswordSecretArn: string;
  /** On-premises DNS servers for the conditional forwarder (1–4). */
  readonly ConditionalForwarderIpAddrs: string[];
  readonly SelectiveAuth: 'Enabled' | 'Disabled';
}

export interface TrustReadyData {
  readonly TrustId: string;
  readonly TrustState: string;
  readonly RemoteDomainName: string;
}

const FQDN = /^(?=.{1,253}$)(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))+$/;
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|[01]?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|[01]?\d?\d)$/;
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$/;

export function parseTrustProps(raw: Record<string, unknown>): TrustProps {
  const problems: string[] = [];
  if (typeof raw.DirectoryId !== 'string' || !/^d-[0-9a-f]{10}$/.test(raw.DirectoryId)) problems.push(`DirectoryId must look like d-1234567890 (got ${JSON.stringify(raw.DirectoryId)})`);
  if (typeof raw.RemoteDomainName !== 'string' || !FQDN.test(raw.RemoteDomainName)) problems.push(`RemoteDomainName must be a fully qualified domain name (got ${JSON.stringify(raw.RemoteDomainName)})`);
  if (typeof raw.TrustPasswordSecretArn !== 'string' || !SECRET_ARN.test(raw.TrustPasswordSecretArn)) problems.push('TrustPasswordSecretArn must be a Secrets Manager secret ARN');
  const ips = raw.ConditionalForwarderIpAddrs;
  if (!Array.isArray(ips) || ips.length < 1 || ips.length > 4 || ips.some((ip) => typeof ip !== 'string' || !IPV4.test(ip))) {
    problems.push(`ConditionalForwarderIpAddrs must be 1 to 4 IPv4 addresses (got ${JSON.stringify(ips)})`);
  }
  const sel = raw.SelectiveAuth ?? 'Disabled';
  if (sel !== 'Enabled' && sel !== 'Disabled') problems.push(`SelectiveAuth must be Enabled or Disabled (got ${JSON.stringify(sel)})`);
  if ('TrustPassword' in raw) problems.push('TrustPassword must never be a custom-resource property; pass TrustPasswordSecretArn');
  if (problems.length > 0) throw new Error(`CreateTrust: invalid properties: ${problems.join('; ')}`);
  return {
    DirectoryId: raw.DirectoryId as string,
    RemoteDomainName: (raw.RemoteDomainName as string).toLowerCase(),
    TrustPasswordSecretArn: raw.TrustPasswordSecretArn as string,
    ConditionalForwarderIpAddrs: ips as string[],
    SelectiveAuth: sel as 'Enabled' | 'Disabled',
  };
}

/** Reads the trust password: the secret string itself, or its JSON key `password`. */
export async function readTrustPassword(sm: SecretsManagerClient, secretArn: string): Promise<string> {
  const out = await withRetry(() => sm.send(new GetSecretValueCommand({ SecretId: secretArn })));
  const s = out.SecretString;
  if (!s) throw new Error(`CreateTrust: secret ${secretArn} has no string value; store the trust password as a string or as JSON {"password": "..."}`);
  let password = s;
  if (s.trim().startsWith('{')) {
    try {
      const parsed = JSON.parse(s) as { password?: unknown };
      if (typeof parsed.password === 'string') password = parsed.password;
      else throw new Error('no password key');
    } catch {
      throw new Error(`CreateTrust: secret ${secretArn} holds JSON without a string "password" key`);
    }
  }
  if (password.length === 0 || password.length > 128) throw new Error(`CreateTrust: the trust password in ${secretArn} must be 1 to 128 characters`);
  return password;
}

export async function findTrust(ds: DirectoryServiceClient, directoryId: string, remoteDomainName: string): Promise<Trust | undefined> {
  let next: string | undefined;
  do {
    const out = await withRetry(() => ds.send(new DescribeTrustsCommand({ DirectoryId: directoryId, NextToken: next })));
    const hit = (out.Trusts ?? []).find((t) => (t.RemoteDomainName ?? '').toLowerCase() === remoteDomainName.toLowerCase() && t.TrustState !== 'Deleted');
    if (hit) return hit;
    next = out.NextToken;
  } while (next);
  return undefined;
}

export async function describeTrust(ds: DirectoryServiceClient, directoryId: string, trustId: string): Promise<Trust | undefined> {
  try {
    const out = await withRetry(() => ds.send(new DescribeTrustsCommand({ DirectoryId: directoryId, TrustIds: [trustId] })));
    return (out.Trusts ?? []).find((t) => t.TrustId === trustId);
  } catch (e) {
    if ((e as { name?: string }).name === 'EntityDoesNotExistException') return undefined;
    throw e;
  }
}

/**
 * Creates the one-way outgoing forest trust with its conditional forwarder, or adopts an existing
 * trust to the same remote domain (idempotent on retries). Returns the trust ID.
 */
export async function createTrust(ds: DirectoryServiceClient, sm: SecretsManagerClient, p: TrustProps): Promise<{ trustId: string; adopted: boolean }> {
  const existing = await findTrust(ds, p.DirectoryId, p.RemoteDomainName);
  if (existing?.TrustId) {
    if (existing.TrustDirection && existing.TrustDirection !== 'One-Way: Outgoing') {
      throw new Error(
        `CreateTrust: directory ${p.DirectoryId} already has a ${existing.TrustDirection} trust (${existing.TrustId}) with ${p.RemoteDomainName}; ` +
          'delete it or change RemoteDomainName, this construct manages only one-way outgoing forest trusts.',
      );
    }
    return { trustId: existing.TrustId, adopted: true };
  }
  const password = await readTrustPassword(sm, p.TrustPasswordSecretArn);
  let out;
  try {
    out = await withRetry(() =>
      ds.send(
        new CreateTrustCommand({
          DirectoryId: p.DirectoryId,
          RemoteDomainName: p.RemoteDomainName,
          TrustPassword: password,
          TrustDirection: 'One-Way: Outgoing',
          TrustType: 'Forest',
          ConditionalForwarderIpAddrs: p.ConditionalForwarderIpAddrs,
          SelectiveAuth: p.SelectiveAuth,
        }),
      ),
    );
  } catch (e) {
    // A retried call (after a timeout or 5xx on an attempt AWS did accept) or a concurrent create:
    // adopt the trust that exists now instead of failing the deployment.
    if ((e as { name?: string }).name === 'EntityAlreadyExistsException') {
      const now = await findTrust(ds, p.DirectoryId, p.RemoteDomainName);
      if (now?.TrustId) return { trustId: now.TrustId, adopted: true };
    }
    throw e;
  }
  if (!out.TrustId) throw new Error(`CreateTrust: no TrustId returned for ${p.RemoteDomainName}`);
  return { trustId: out.TrustId, adopted: false };
}

/** Applies the changes that AWS can make in place: selective authentication and the forwarder's DNS IPs. */
export async function updateTrust(ds: DirectoryServiceClient, trustId: string, oldP: TrustProps, newP: TrustProps): Promise<string[]> {
  const changed: string[] = [];
  if (oldP.SelectiveAuth !== newP.SelectiveAuth) {
    await withRetry(() => ds.send(new UpdateTrustCommand({ TrustId: trustId, SelectiveAuth: newP.SelectiveAuth })));
    changed.push('SelectiveAuth');
  }
  if (oldP.ConditionalForwarderIpAddrs.join(',') !== newP.ConditionalForwarderIpAddrs.join(',')) {
    await withRetry(() =>
      ds.send(new UpdateConditionalForwarderCommand({ DirectoryId: newP.DirectoryId, RemoteDomainName: newP.RemoteDomainName, DnsIpAddrs: newP.ConditionalForwarderIpAddrs })),
    );
    changed.push('ConditionalForwarderIpAddrs');
  }
  return changed;
}

/** True when an update changes which trust this is; CloudFormation then creates the new one and deletes the old. */
export function requiresReplacement(oldP: TrustProps, newP: TrustProps): boolean {
  return oldP.DirectoryId !== newP.DirectoryId || oldP.RemoteDomainName !== newP.RemoteDomainName;
}

/** Deletes the trust and its conditional forwarder; a trust that is already gone is fine. */
export async function deleteTrust(ds: DirectoryServiceClient, trustId: string): Promise<'deleted' | 'absent'> {
  try {
    await withRetry(() => ds.send(new DeleteTrustCommand({ TrustId: trustId, DeleteAssociatedConditionalForwarder: true })));
    return 'deleted';
  } catch (e) {
    if ((e as { name?: string }).name === 'EntityDoesNotExistException') return 'absent';
    throw e;
  }
}

const FAILED = new Set(['Failed', 'VerifyFailed', 'UpdateFailed']);
const DONE = new Set(['Verified', 'Updated']);

/** One poll after create/update: the data once Verified, undefined while in progress; throws on failure. */
export async function checkTrustReady(ds: DirectoryServiceClient, directoryId: string, trustId: string): Promise<TrustReadyData | undefined> {
  const t = await describeTrust(ds, directoryId, trustId);
  if (!t) throw new Error(`CreateTrust: trust ${trustId} of directory ${directoryId} disappeared while it was being created`);
  const state = t.TrustState ?? 'Unknown';
  if (FAILED.has(state)) {
    throw new Error(
      `CreateTrust: trust ${trustId} to ${t.RemoteDomainName} is ${state}: ${t.TrustStateReason ?? 'no reason given'}. ` +
        'Check that the on-premises incoming trust exists with the same password, that DNS forwarding works both ways, ' +
        'and that the on-premises firewall allows the ports listed in lib/ad-trust/README.md.',
    );
  }
  if (!DONE.has(state)) return undefined;
  return { TrustId: trustId, TrustState: state, RemoteDomainName: t.RemoteDomainName ?? '' };
}

/** One poll after delete: true once the trust is gone. */
export async function checkTrustDeleted(ds: DirectoryServiceClient, directoryId: string, trustId: string): Promise<boolean> {
  try {
    const t = await describeTrust(ds, directoryId, trustId);
    return !t || t.TrustState === 'Deleted';
  } catch (e) {
    // The directory itself is gone: so is the trust.
    if ((e as { name?: string }).name === 'EntityDoesNotExistException') return true;
    throw e;
  }
}
