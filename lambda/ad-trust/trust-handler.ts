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
import { checkTrustDeleted, checkTrustReady, createTrust, deleteTrust, parseTrustProps, requiresReplacement, updateTrust } from './trust';

const logger = createLogger('ad-trust-create-trust');
const ds = new DirectoryServiceClient({});
const sm = new SecretsManagerClient({});

const TRUST_ID = /^t-[0-9a-f]{10}$/;

export async function onEvent(event: CdkCustomResourceEvent): Promise<CdkCustomResourceResponse> {
  const props = parseTrustProps(event.ResourceProperties);
  switch (event.RequestType) {
    case 'Create': {
      const { trustId, adopted } = await createTrust(ds, sm, props);
      logger.info('CreateTrust', { directoryId: props.DirectoryId, remoteDomain: props.RemoteDomainName, trustId, adopted });
      return { PhysicalResourceId: trustId };
    }
    case 'Update': {
      const old = parseTrustProps(event.OldResourceProperties);
      if (requiresReplacement(old, props)) {
        const { trustId, adopted } = await createTrust(ds, sm, props);
        logger.info('CreateTrust (replacement)', { directoryId: props.DirectoryId, remoteDomain: props.RemoteDomainName, trustId, adopted, replaces: event.PhysicalResourceId });
        return { PhysicalResourceId: trustId, Data: { Changed: 'replacement' } };
      }
      if (old.TrustPasswordSecretArn !== props.TrustPasswordSecretArn) {
        throw new Error(
          `CreateTrust: the trust password secret of trust ${event.PhysicalResourceId} changed; AWS cannot change a trust's password in place. ` +
            'Deploy once without the trust (adTrust:createTrust=false), reset the on-premises side with the new password, then deploy with the trust again.',
        );
      }
      const changed = await updateTrust(ds, event.PhysicalResourceId, old, props);
      logger.info('UpdateTrust', { trustId: event.PhysicalResourceId, changed });
      return { PhysicalResourceId: event.PhysicalResourceId, Data: { Changed: changed.join(',') } };
    }
    case 'Delete': {
      if (!TRUST_ID.test(event.PhysicalResourceId)) {
        logger.info('Delete of a trust that was never created; nothing to do', { physicalResourceId: event.PhysicalResourceId });
        return { PhysicalResourceId: event.PhysicalResourceId };
      }
      const result = await deleteTrust(ds, event.PhysicalResourceId);
      logger.info('DeleteTrust', { trustId: event.PhysicalResourceId, result });
      return { PhysicalResourceId: event.PhysicalResourceId };
    }
  }
}

export async function isComplete(event: CdkCustomResourceIsCompleteEvent): Promise<CdkCustomResourceIsCompleteResponse> {
  const props = parseTrustProps(event.ResourceProperties);
  const trustId = event.PhysicalResourceId ?? '';
  if (event.RequestType === 'Delete') {
    if (!TRUST_ID.test(trustId)) return { IsComplete: true };
    const done = await checkTrustDeleted(ds, props.DirectoryId, trustId);
    logger.info('DeleteTrust poll', { trustId, done });
    return { IsComplete: done };
  }
  if (event.RequestType === 'Update' && !(event.Data as { Changed?: string } | undefined)?.Changed) {
    // Nothing changed on the AWS side; the trust keeps whatever state it is in.
    return { IsComplete: true, Data: { TrustId: trustId, TrustState: 'Unchanged', RemoteDomainName: props.RemoteDomainName } };
  }
  const data = await checkTrustReady(ds, props.DirectoryId, trustId);
  logger.info('CreateTrust poll', { trustId, ready: data !== undefined });
  return data ? { IsComplete: true, Data: { ...data } } : { IsComplete: false };
}
