/**
 * Custom-resource handlers (CDK Provider framework) for replicating an AWS Managed Microsoft AD to
 * another Region. `onEvent` starts AddRegion/RemoveRegion; `isComplete` is polled by the framework
 * (`queryInterval`) until the Region is Active or removed. The same handlers serve the `wait`
 * resource that continues the wait past CloudFormation's one-hour limit. Logic lives in `add-region.ts`.
 */
import { DirectoryServiceClient } from '@aws-sdk/client-directory-service';
import type {
  CdkCustomResourceEvent,
  CdkCustomResourceIsCompleteEvent,
  CdkCustomResourceIsCompleteResponse,
  CdkCustomResourceResponse,
} from 'aws-lambda';
import { createLogger } from '../shared/logger';
import {
  AddRegionProps,
  checkRegionActive,
  checkRegionRemoved,
  MISSING_GRACE_MS,
  networkChanged,
  parseAddRegionProps,
  parseWaitOptions,
  physicalIdFor,
  requiresReplacement,
  startAddRegion,
  softDeadlinePassed,
  startRemoveRegion,
} from './add-region';

const logger = createLogger('ad-trust-add-region');
const clients = new Map<string, DirectoryServiceClient>();

/** One client per Region, kept for warm invocations. */
export function dsClient(region: string): DirectoryServiceClient {
  let c = clients.get(region);
  if (!c) {
    c = new DirectoryServiceClient({ region });
    clients.set(region, c);
  }
  return c;
}

const PHYSICAL_ID = /^(d-[0-9a-f]{10})\/([a-z]{2}(?:-gov|-iso[a-z]*)?-[a-z]+-\d)$/;

function fromPhysicalId(id: string | undefined): { DirectoryId: string; RegionName: string } | undefined {
  const m = id ? PHYSICAL_ID.exec(id) : null;
  return m ? { DirectoryId: m[1], RegionName: m[2] } : undefined;
}

export async function onEvent(event: CdkCustomResourceEvent): Promise<CdkCustomResourceResponse> {
  const props = parseAddRegionProps(event.ResourceProperties);
  const opts = parseWaitOptions(event.ResourceProperties);
  const primary = dsClient(props.PrimaryRegion);
  // Start of this operation, carried to isComplete (the framework passes onEvent's Data along).
  const started = { StartedAt: String(Date.now()) };
  if (opts.stage === 'wait') {
    // Only waits for the Region that the `replicate` resource started; never adds or removes it.
    const physicalId = `${physicalIdFor(props)}/active`;
    if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId };
    return { PhysicalResourceId: physicalId, Data: started };
  }
  switch (event.RequestType) {
    case 'Create': {
      const result = await startAddRegion(primary, props);
      logger.info('AddRegion', { directoryId: props.DirectoryId, region: props.RegionName, result });
      return { PhysicalResourceId: physicalIdFor(props), Data: started };
    }
    case 'Update': {
      const old = parseAddRegionProps(event.OldResourceProperties);
      if (requiresReplacement(old, props)) {
        // A new physical ID makes CloudFormation send Delete (RemoveRegion) for the old one after this succeeds.
        const result = await startAddRegion(primary, props);
        logger.info('AddRegion (replacement)', { directoryId: props.DirectoryId, region: props.RegionName, result, replaces: event.PhysicalResourceId });
        return { PhysicalResourceId: physicalIdFor(props), Data: started };
      }
      if (networkChanged(old, props)) {
        throw new Error(
          `AddRegion: the VPC or subnets of Region ${props.RegionName} of directory ${props.DirectoryId} cannot change in place ` +
            `(${old.VpcId} ${old.SubnetIds.join(',')} -> ${props.VpcId} ${props.SubnetIds.join(',')}). ` +
            `Deploy the replica stack without the secondary cluster and the Region (or delete it), then deploy again with the new VPC.`,
        );
      }
      return { PhysicalResourceId: event.PhysicalResourceId, Data: started };
    }
    case 'Delete': {
      const target = fromPhysicalId(event.PhysicalResourceId);
      if (!target) {
        logger.info('Delete of a Region that was never created; nothing to do', { physicalResourceId: event.PhysicalResourceId });
        return { PhysicalResourceId: event.PhysicalResourceId };
      }
      const result = await startRemoveRegion(primary, dsClient(target.RegionName), target);
      logger.info('RemoveRegion', { ...target, result });
      return { PhysicalResourceId: event.PhysicalResourceId };
    }
  }
}

export async function isComplete(event: CdkCustomResourceIsCompleteEvent): Promise<CdkCustomResourceIsCompleteResponse> {
  const props: AddRegionProps = parseAddRegionProps(event.ResourceProperties);
  const opts = parseWaitOptions(event.ResourceProperties);
  const primary = dsClient(props.PrimaryRegion);
  if (event.RequestType === 'Delete') {
    // The `wait` resource owns nothing; the `replicate` resource removes the Region.
    const target = opts.stage === 'wait' ? undefined : fromPhysicalId(event.PhysicalResourceId);
    if (!target) return { IsComplete: true };
    const done = await checkRegionRemoved(primary, target);
    logger.info('RemoveRegion poll', { ...target, done });
    return { IsComplete: done };
  }
  const target = fromPhysicalId(event.PhysicalResourceId) ?? props;
  const startedAt = Number((event.Data as { StartedAt?: string } | undefined)?.StartedAt);
  const justStarted = Number.isFinite(startedAt) && Date.now() - startedAt < MISSING_GRACE_MS;
  const data = await checkRegionActive(primary, dsClient(target.RegionName), target, justStarted);
  logger.info('AddRegion poll', { directoryId: target.DirectoryId, region: target.RegionName, stage: opts.stage, active: data !== undefined });
  if (data) return { IsComplete: true, Data: { ...data } };
  if (softDeadlinePassed(opts, startedAt, Date.now())) {
    // Complete before CloudFormation's one-hour custom-resource limit; the `wait` resource keeps polling.
    logger.info('AddRegion still in progress; handing the wait over to the next resource', { directoryId: target.DirectoryId, region: target.RegionName });
    return { IsComplete: true, Data: { RegionName: target.RegionName, Status: 'Pending', DnsIpAddrs: '', SecurityGroupId: '' } };
  }
  return { IsComplete: false };
}
