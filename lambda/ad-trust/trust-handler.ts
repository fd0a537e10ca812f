/**
 * Custom-resource handlers (CDK Provider framework) for the one-way outgoing forest trust.
 * `onEvent` creates/updates/deletes; `isComplete` polls until the trust is Verified or gone.
 * The trust password is fetched from Secrets Manager inside `createTrust` and never logged.
 */
import { DirectoryServiceClient } from '@aws-sdk/client-directory-service';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type {
  CdkCustomResourceEvent,
  CdkCustomResourceIsCompleteEvent,
  CdkCustomResourceIsCompleteResponse,
  CdkCustomResourceResponse,
} from 'aws-lambda';
import { createLogger } from '../shared/logger';
import { MISSING_GRACE_MS, checkTrustDeleted, checkTrustReady, createTrust, deleteTrust, describeTrust, findTrust, parseTrustPhysicalId, parseTrustProps, requiresReplacement, TrustProps, trustPhysicalId, updateTrust } from './trust';

const logger = createLogger('ad-trust-create-trust');
const ds = new DirectoryServiceClient({});
const sm = new SecretsManagerClient({});

/**
 * A Delete needs only the physical ID (and the directory ID to poll): it must not fail on properties
 * that today's validation rejects (a create that failed on them, or a stack made by an older kit),
 * or the stack could never leave DELETE_FAILED / ROLLBACK_FAILED.
 */
function directoryIdOf(raw: Record<string, unknown>): string | undefined {
  return typeof raw.DirectoryId === 'string' && /^d-[0-9a-f]{10}$/.test(raw.DirectoryId) ? raw.DirectoryId : undefined;
}

/** The replacement path of an update: back to the trust the physical ID replaced (a rollback), or a new one. */
async function replace(event: CdkCustomResourceEvent & { PhysicalResourceId: string }, props: TrustProps): Promise<CdkCustomResourceResponse> {
  const current = parseTrustPhysicalId(event.PhysicalResourceId);
  const prev = current?.replaces;
  if (current) {
    // The trust for these properties is the one this resource already holds: the rollback of a
    // replacement that failed before returning a new physical ID. Nothing to create or refuse.
    const t = await findTrust(ds, props.DirectoryId, props.RemoteDomainName);
    if (t?.TrustId === current.trustId && t.TrustState !== 'Deleting') {
      logger.info('The trust for these properties is this resource\'s own; kept (rollback of a failed replacement)', { trustId: current.trustId });
      return { PhysicalResourceId: event.PhysicalResourceId, Data: { Changed: 'rollback', CreatedByStack: String(current.created) } };
    }
  }
  if (prev) {
    // Rollback of a replacement: the old trust still exists and is the one this resource had before.
    const t = await findTrust(ds, props.DirectoryId, props.RemoteDomainName);
    if (t?.TrustId === prev.trustId && t.TrustState !== 'Deleting') {
      logger.info('Back to the trust this resource had before the replacement (rollback)', { trustId: prev.trustId, created: prev.created, from: event.PhysicalResourceId });
      return { PhysicalResourceId: prev.physicalId, Data: { Changed: 'rollback', CreatedByStack: String(prev.created) } };
    }
  }
  // The new physical ID makes CloudFormation send Delete for the old one, which removes it only if this stack created it.
  const { trustId, created } = await createTrust(ds, sm, props);
  logger.info('CreateTrust (replacement)', { directoryId: props.DirectoryId, remoteDomain: props.RemoteDomainName, trustId, created, replaces: event.PhysicalResourceId });
  return { PhysicalResourceId: trustPhysicalId(trustId, created, event.PhysicalResourceId), Data: { Changed: 'replacement', CreatedByStack: String(created), StartedAt: String(Date.now()) } };
}

export async function onEvent(event: CdkCustomResourceEvent): Promise<CdkCustomResourceResponse> {
  if (event.RequestType === 'Delete') {
    const current = parseTrustPhysicalId(event.PhysicalResourceId);
    if (!current) {
      logger.info('Delete of a trust that was never created; nothing to do', { physicalResourceId: event.PhysicalResourceId });
      return { PhysicalResourceId: event.PhysicalResourceId };
    }
    if (!current.created) {
      logger.info('Trust was adopted, not created by this stack: left in place with its conditional forwarder', { trustId: current.trustId });
      return { PhysicalResourceId: event.PhysicalResourceId };
    }
    const result = await deleteTrust(ds, current.trustId);
    logger.info('DeleteTrust', { trustId: current.trustId, result });
    return { PhysicalResourceId: event.PhysicalResourceId };
  }
  const props = parseTrustProps(event.ResourceProperties);
  if (event.RequestType === 'Create') {
    const { trustId, created } = await createTrust(ds, sm, props);
    logger.info(created ? 'CreateTrust' : 'Adopted an existing trust (left in place on delete)', { directoryId: props.DirectoryId, remoteDomain: props.RemoteDomainName, trustId, created });
    // StartedAt lets the poll tolerate a trust that DescribeTrusts does not list yet.
    return { PhysicalResourceId: trustPhysicalId(trustId, created), Data: { CreatedByStack: String(created), StartedAt: String(Date.now()) } };
  }
  // Update.
  const current = parseTrustPhysicalId(event.PhysicalResourceId);
  let old: TrustProps | undefined;
  try {
    old = parseTrustProps(event.OldResourceProperties);
  } catch (e) {
    // Old properties that fail validation are the new properties of an update that failed on them
    // before any call (this is its rollback), or come from an older kit. Nothing was applied from
    // them: keep the trust the physical ID names if it is the one these properties describe.
    const t = current ? await describeTrust(ds, props.DirectoryId, current.trustId) : undefined;
    if (current && t && (t.RemoteDomainName ?? '').toLowerCase() === props.RemoteDomainName && t.TrustState !== 'Deleting') {
      logger.info('Previous properties were invalid (rollback of an update that failed validation); trust kept unchanged', { trustId: current.trustId, error: (e as Error).message });
      return { PhysicalResourceId: event.PhysicalResourceId, Data: { Changed: '', CreatedByStack: String(current.created) } };
    }
    return replace(event, props);
  }
  if (requiresReplacement(old, props)) return replace(event, props);
  if (!current) throw new Error(`CreateTrust: physical ID ${event.PhysicalResourceId} names no trust; delete the trust resource from the stack and deploy again`);
  if (old.TrustPasswordSecretArn !== props.TrustPasswordSecretArn) {
    throw new Error(
      `CreateTrust: the trust password secret of trust ${current.trustId} changed; AWS cannot change a trust's password in place. Nothing was changed. ` +
        'Keep the old secret, or delete the trust yourself (aws ds delete-trust), reset the on-premises side with the new password, and deploy again.',
    );
  }
  const changed = await updateTrust(ds, current.trustId, old, props);
  logger.info('UpdateTrust', { trustId: current.trustId, changed });
  return { PhysicalResourceId: event.PhysicalResourceId, Data: { Changed: changed.join(','), CreatedByStack: String(current.created) } };
}

/** Polls only (DescribeTrusts): this function's role has no write permission. */
export async function isComplete(event: CdkCustomResourceIsCompleteEvent): Promise<CdkCustomResourceIsCompleteResponse> {
  const current = parseTrustPhysicalId(event.PhysicalResourceId);
  if (event.RequestType === 'Delete') {
    if (!current || !current.created) return { IsComplete: true };
    const directoryId = directoryIdOf(event.ResourceProperties);
    // DeleteTrust was accepted; without a readable directory ID there is nothing to poll.
    if (!directoryId) return { IsComplete: true };
    const done = await checkTrustDeleted(ds, directoryId, current.trustId);
    logger.info('DeleteTrust poll', { trustId: current.trustId, done });
    return { IsComplete: done };
  }
  const props = parseTrustProps(event.ResourceProperties);
  if (!current) throw new Error(`CreateTrust: physical ID ${event.PhysicalResourceId} names no trust`);
  const createdByStack = String(current.created);
  if (event.RequestType === 'Update' && !(event.Data as { Changed?: string } | undefined)?.Changed) {
    // Nothing changed on the AWS side; the trust keeps whatever state it is in.
    return { IsComplete: true, Data: { TrustId: current.trustId, TrustState: 'Unchanged', RemoteDomainName: props.RemoteDomainName, CreatedByStack: createdByStack } };
  }
  const startedAt = Number((event.Data as { StartedAt?: string } | undefined)?.StartedAt);
  const justStarted = Number.isFinite(startedAt) && Date.now() - startedAt < MISSING_GRACE_MS;
  const data = await checkTrustReady(ds, props.DirectoryId, current.trustId, justStarted);
  logger.info('CreateTrust poll', { trustId: current.trustId, ready: data !== undefined });
  return data ? { IsComplete: true, Data: { ...data, CreatedByStack: createdByStack } } : { IsComplete: false };
}
