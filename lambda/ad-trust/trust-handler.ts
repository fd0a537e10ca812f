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
import { checkTrustDeleted, checkTrustReady, createTrust, deleteTrust, parseTrustPhysicalId, parseTrustProps, requiresReplacement, trustPhysicalId, updateTrust } from './trust';

const logger = createLogger('ad-trust-create-trust');
const ds = new DirectoryServiceClient({});
const sm = new SecretsManagerClient({});

export async function onEvent(event: CdkCustomResourceEvent): Promise<CdkCustomResourceResponse> {
  const props = parseTrustProps(event.ResourceProperties);
  switch (event.RequestType) {
    case 'Create': {
      const { trustId, created } = await createTrust(ds, sm, props);
      logger.info(created ? 'CreateTrust' : 'Adopted an existing trust (left in place on delete)', { directoryId: props.DirectoryId, remoteDomain: props.RemoteDomainName, trustId, created });
      return { PhysicalResourceId: trustPhysicalId(trustId, created), Data: { CreatedByStack: String(created) } };
    }
    case 'Update': {
      const old = parseTrustProps(event.OldResourceProperties);
      if (requiresReplacement(old, props)) {
        // The new physical ID makes CloudFormation send Delete for the old one, which removes it only if this stack created it.
        const { trustId, created } = await createTrust(ds, sm, props);
        logger.info('CreateTrust (replacement)', { directoryId: props.DirectoryId, remoteDomain: props.RemoteDomainName, trustId, created, replaces: event.PhysicalResourceId });
        return { PhysicalResourceId: trustPhysicalId(trustId, created), Data: { Changed: 'replacement', CreatedByStack: String(created) } };
      }
      const current = parseTrustPhysicalId(event.PhysicalResourceId);
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
    case 'Delete': {
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
  }
}

/** Polls only (DescribeTrusts): this function's role has no write permission. */
export async function isComplete(event: CdkCustomResourceIsCompleteEvent): Promise<CdkCustomResourceIsCompleteResponse> {
  const props = parseTrustProps(event.ResourceProperties);
  const current = parseTrustPhysicalId(event.PhysicalResourceId);
  if (event.RequestType === 'Delete') {
    if (!current || !current.created) return { IsComplete: true };
    const done = await checkTrustDeleted(ds, props.DirectoryId, current.trustId);
    logger.info('DeleteTrust poll', { trustId: current.trustId, done });
    return { IsComplete: done };
  }
  if (!current) throw new Error(`CreateTrust: physical ID ${event.PhysicalResourceId} names no trust`);
  const createdByStack = String(current.created);
  if (event.RequestType === 'Update' && !(event.Data as { Changed?: string } | undefined)?.Changed) {
    // Nothing changed on the AWS side; the trust keeps whatever state it is in.
    return { IsComplete: true, Data: { TrustId: current.trustId, TrustState: 'Unchanged', RemoteDomainName: props.RemoteDomainName, CreatedByStack: createdByStack } };
  }
  const data = await checkTrustReady(ds, props.DirectoryId, current.trustId);
  logger.info('CreateTrust poll', { trustId: current.trustId, ready: data !== undefined });
  return data ? { IsComplete: true, Data: { ...data, CreatedByStack: createdByStack } } : { IsComplete: false };
}
