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
  /**
   * Take over a trust to RemoteDomainName that already exists (made by hand, or left by an earlier
   * stack) instead of refusing. An adopted trust must be a verified one-way outgoing forest trust, and
   * it is LEFT IN PLACE when the custom resource is deleted (the physical ID records this).
   */
  readonly AdoptExisting: boolean;
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
  const adopt = raw.AdoptExisting ?? 'false';
  if (adopt !== 'true' && adopt !== 'false' && adopt !== true && adopt !== false) problems.push(`AdoptExisting must be true or false (got ${JSON.stringify(adopt)})`);
  if ('TrustPassword' in raw) problems.push('TrustPassword must never be a custom-resource property; pass TrustPasswordSecretArn');
  if (problems.length > 0) throw new Error(`CreateTrust: invalid properties: ${problems.join('; ')}`);
  return {
    DirectoryId: raw.DirectoryId as string,
    RemoteDomainName: (raw.RemoteDomainName as string).toLowerCase(),
    TrustPasswordSecretArn: raw.TrustPasswordSecretArn as string,
    ConditionalForwarderIpAddrs: ips as string[],
    SelectiveAuth: sel as 'Enabled' | 'Disabled',
    AdoptExisting: adopt === true || adopt === 'true',
  };
}

/**
 * The custom resource's physical ID records who created the trust: `t-…` for a trust this resource
 * created (deleted with the resource), `t-…/adopted` for one that existed before (left in place).
 */
export function trustPhysicalId(trustId: string, created: boolean, replaces?: string): string {
  const own = created ? trustId : `${trustId}/adopted`;
  // A replacement remembers the physical ID it replaces (one level): if the update rolls back,
  // CloudFormation sends Update with the old properties and THIS physical ID, while the old trust still
  // exists (it is deleted only in the cleanup of a successful update). Without the record the old
  // trust would look foreign and the rollback would fail (UPDATE_ROLLBACK_FAILED).
  const prev = replaces ? parseTrustPhysicalId(replaces) : undefined;
  return prev ? `${own}/replaces/${trustPhysicalId(prev.trustId, prev.created)}` : own;
}

const PHYSICAL_ID = /^(t-[0-9a-f]{10})(\/adopted)?(?:\/replaces\/(t-[0-9a-f]{10})(\/adopted)?)?$/;

export interface TrustRef {
  readonly trustId: string;
  readonly created: boolean;
  /** The physical ID this one replaced in an update (what a rollback returns to). */
  readonly replaces?: { readonly trustId: string; readonly created: boolean; readonly physicalId: string };
}

/** The trust ID and whether this resource created it; undefined for an ID that names no trust (a create that failed before CreateTrust). */
export function parseTrustPhysicalId(id: string | undefined): TrustRef | undefined {
  const m = id ? PHYSICAL_ID.exec(id) : null;
  if (!m) return undefined;
  const replaces = m[3] ? { trustId: m[3], created: m[4] === undefined, physicalId: m[4] ? `${m[3]}/adopted` : m[3] } : undefined;
  return { trustId: m[1], created: m[2] === undefined, replaces };
}

/** A trust the construct may adopt: what it would have created itself, in a healthy state. */
const ADOPTABLE_STATES = new Set(['Verified', 'Updated']);

function describeForMessage(t: Trust): string {
  const created = t.CreatedDateTime ? `, created ${new Date(t.CreatedDateTime).toISOString()}` : '';
  return `${t.TrustId} (${t.TrustType ?? 'unknown type'}, ${t.TrustDirection ?? 'unknown direction'}, state ${t.TrustState ?? 'unknown'}${t.TrustStateReason ? `: ${t.TrustStateReason}` : ''}${created})`;
}

/** Throws unless `t` is a verified one-way outgoing forest trust (the only kind this construct manages). */
export function checkAdoptable(p: TrustProps, t: Trust): void {
  const problems: string[] = [];
  if (t.TrustType !== 'Forest') problems.push(`its type is ${t.TrustType ?? 'unknown'}, not Forest`);
  if (t.TrustDirection !== 'One-Way: Outgoing') problems.push(`its direction is ${t.TrustDirection ?? 'unknown'}, not One-Way: Outgoing (AWS trusts on-premises)`);
  if (!ADOPTABLE_STATES.has(t.TrustState ?? '')) problems.push(`its state is ${t.TrustState ?? 'unknown'}, not Verified`);
  if (problems.length > 0) {
    throw new Error(
      `CreateTrust: cannot adopt the existing trust ${describeForMessage(t)} of directory ${p.DirectoryId} with ${p.RemoteDomainName}: ${problems.join('; ')}. ` +
        'Nothing was changed. Fix or verify that trust in the Directory Service console (or delete it yourself: ' +
        `aws ds delete-trust --trust-id ${t.TrustId} --delete-associated-conditional-forwarder), then deploy again.`,
    );
  }
}

function refuseExisting(p: TrustProps, t: Trust): Error {
  if (t.TrustState === 'Deleting') {
    return new Error(
      `CreateTrust: directory ${p.DirectoryId} still has a trust with ${p.RemoteDomainName}: ${describeForMessage(t)}; it is being deleted: wait until ` +
        `aws ds describe-trusts --directory-id ${p.DirectoryId} --trust-ids ${t.TrustId} no longer lists it (or lists it as Deleted), then deploy again. Nothing was changed.`,
    );
  }
  return new Error(
    `CreateTrust: directory ${p.DirectoryId} already has a trust with ${p.RemoteDomainName} that this stack did not create: ${describeForMessage(t)}. ` +
      'Nothing was changed; the kit never takes over or deletes a trust it did not create. ' +
      'To manage it with this stack (it must be a verified one-way outgoing forest trust, and it is left in place when the stack or the trust resource is deleted), ' +
      'deploy again with -c adTrust:adoptExistingTrust=true (construct prop adoptExisting: true). ' +
      `To replace it instead, delete it yourself first: aws ds delete-trust --trust-id ${t.TrustId} --delete-associated-conditional-forwarder . ` +
      '(A trust that an earlier deployment of this stack created is kept when the stack is deleted or createTrust is turned off, so it shows up here too; adopt it the same way.)',
  );
}

/** Reads the trust password: the secret string itself, or its JSON key `password`. */
export async function readTrustPassword(sm: SecretsManagerClient, secretArn: string): Promise<string> {
  let out;
  try {
    out = await withRetry(() => sm.send(new GetSecretValueCommand({ SecretId: secretArn })));
  } catch (e) {
    const name = (e as { name?: string }).name ?? 'Error';
    const hint =
      name === 'AccessDeniedException'
        ? 'The handler role needs secretsmanager:GetSecretValue on the secret and, for a secret encrypted with a customer managed key, kms:Decrypt on that key (an imported secret gets no key grant: pass encryptionKey or grant it). '
        : name === 'ResourceNotFoundException'
          ? `The secret does not exist (or is scheduled for deletion: aws secretsmanager restore-secret --secret-id ${secretArn}). `
          : '';
    throw new Error(
      `CreateTrust: cannot read the trust password from secret ${secretArn} (${name}: ${(e as Error).message.replace(/\.$/, '')}). No trust was created. ${hint}` +
        `Check it with: aws secretsmanager describe-secret --secret-id ${secretArn} ; then deploy again.`,
    );
  }
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
  let deleting: Trust | undefined;
  do {
    const out = await withRetry(() => ds.send(new DescribeTrustsCommand({ DirectoryId: directoryId, NextToken: next })));
    // Domain names compare case-insensitively (DNS); a Deleted trust is gone, and a live trust wins over one being deleted.
    const same = (out.Trusts ?? []).filter((t) => (t.RemoteDomainName ?? '').toLowerCase() === remoteDomainName.toLowerCase() && t.TrustState !== 'Deleted');
    const live = same.find((t) => t.TrustState !== 'Deleting');
    if (live) return live;
    deleting = deleting ?? same[0];
    next = out.NextToken;
  } while (next);
  return deleting;
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

/** How far a trust's CreatedDateTime may precede our own CreateTrust call and still be ours (clock skew). */
export const CLOCK_SKEW_MS = 60_000;

/**
 * Creates the one-way outgoing forest trust with its conditional forwarder. A trust to the same
 * remote domain that exists already is refused, or adopted when `AdoptExisting` is set (after
 * {@link checkAdoptable}). `created` tells the caller whether the trust is this call's own.
 */
export async function createTrust(ds: DirectoryServiceClient, sm: SecretsManagerClient, p: TrustProps, now: () => number = Date.now): Promise<{ trustId: string; created: boolean }> {
  const existing = await findTrust(ds, p.DirectoryId, p.RemoteDomainName);
  if (existing?.TrustId) {
    // A trust being deleted cannot become Verified again: "wait, then deploy" is the answer, adopt or not.
    if (!p.AdoptExisting || existing.TrustState === 'Deleting') throw refuseExisting(p, existing);
    checkAdoptable(p, existing);
    return { trustId: existing.TrustId, created: false };
  }
  const password = await readTrustPassword(sm, p.TrustPasswordSecretArn);
  const startedAt = now();
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
    if ((e as { name?: string }).name === 'EntityAlreadyExistsException') {
      // An SDK retry of an attempt AWS had accepted (timeout, 5xx) finds our own trust: it was created
      // after this call started. Anything older was made by someone else in the meantime: refuse it.
      const t = await findTrust(ds, p.DirectoryId, p.RemoteDomainName);
      if (t?.TrustId) {
        const createdAt = t.CreatedDateTime ? new Date(t.CreatedDateTime).getTime() : undefined;
        if (createdAt !== undefined && createdAt >= startedAt - CLOCK_SKEW_MS) return { trustId: t.TrustId, created: true };
        if (!p.AdoptExisting || t.TrustState === 'Deleting') throw refuseExisting(p, t);
        checkAdoptable(p, t);
        return { trustId: t.TrustId, created: false };
      }
    }
    throw e;
  }
  if (!out.TrustId) throw new Error(`CreateTrust: no TrustId returned for ${p.RemoteDomainName}`);
  return { trustId: out.TrustId, created: true };
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
/** How long after CreateTrust a trust missing from DescribeTrusts counts as not listed yet rather than gone. */
export const MISSING_GRACE_MS = 5 * 60 * 1000;

export async function checkTrustReady(
  ds: DirectoryServiceClient,
  directoryId: string,
  trustId: string,
  /** True shortly after CreateTrust: DescribeTrusts may not list the new trust yet (eventual consistency). */
  tolerateMissing = false,
): Promise<TrustReadyData | undefined> {
  const t = await describeTrust(ds, directoryId, trustId);
  if (!t && tolerateMissing) return undefined;
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

/**
 * One poll after delete: true once the trust is gone. A directory that is itself gone is answered with
 * EntityDoesNotExistException too, which describeTrust already turns into "no trust".
 */
export async function checkTrustDeleted(ds: DirectoryServiceClient, directoryId: string, trustId: string): Promise<boolean> {
  const t = await describeTrust(ds, directoryId, trustId);
  return !t || t.TrustState === 'Deleted';
}
