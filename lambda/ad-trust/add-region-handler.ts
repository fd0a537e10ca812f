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
  deleteHandOverPassed,
  MISSING_GRACE_MS,
  networkChanged,
  parseAddRegionProps,
  parseRegionPhysicalId,
  parseWaitOptions,
  physicalIdFor,
  pollRegionRemoval,
  regionSettled,
  requiresReplacement,
  softDeadlinePassed,
  startAddRegion,
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

export async function onEvent(event: CdkCustomResourceEvent): Promise<CdkCustomResourceResponse> {
  const props = parseAddRegionProps(event.ResourceProperties);
  const opts = parseWaitOptions(event.ResourceProperties);
  const primary = dsClient(props.PrimaryRegion);
  // Start of this operation, carried to isComplete (the framework passes onEvent's Data along).
  const started = { StartedAt: String(Date.now()) };
  if (opts.stage === 'wait') {
    // Only waits for the Region that the `replicate` resource started; never adds or removes it.
    const name = typeof event.ResourceProperties.WaitName === 'string' ? event.ResourceProperties.WaitName : 'active';
    if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId, Data: started };
    return { PhysicalResourceId: `${physicalIdFor(props)}/${name}`, Data: started };
  }
  switch (event.RequestType) {
    case 'Create': {
      const result = await startAddRegion(primary, props);
      logger.info(result === 'adopted' ? 'Adopted a Region the directory was already in (left in place on delete)' : 'AddRegion', { directoryId: props.DirectoryId, region: props.RegionName, result });
      return { PhysicalResourceId: physicalIdFor(props, result === 'started'), Data: { ...started, CreatedByStack: String(result === 'started') } };
    }
    case 'Update': {
      const old = parseAddRegionProps(event.OldResourceProperties);
      if (requiresReplacement(old, props)) {
        // A new physical ID makes CloudFormation send Delete for the old one, which removes it only if this stack added it.
        const result = await startAddRegion(primary, props);
        logger.info('AddRegion (replacement)', { directoryId: props.DirectoryId, region: props.RegionName, result, replaces: event.PhysicalResourceId });
        return { PhysicalResourceId: physicalIdFor(props, result === 'started'), Data: { ...started, CreatedByStack: String(result === 'started') } };
      }
      if (networkChanged(old, props)) {
        throw new Error(
          `AddRegion: the VPC or subnets of Region ${props.RegionName} of directory ${props.DirectoryId} cannot change in place ` +
            `(${old.VpcId} ${old.SubnetIds.join(',')} -> ${props.VpcId} ${props.SubnetIds.join(',')}). Nothing was changed. ` +
            `Remove the Region yourself (aws ds remove-region --directory-id ${props.DirectoryId} --region ${props.RegionName}) once nothing in it is needed, then deploy again with the new VPC.`,
        );
      }
      const current = parseRegionPhysicalId(event.PhysicalResourceId);
      return { PhysicalResourceId: event.PhysicalResourceId, Data: { ...started, CreatedByStack: String(current?.created ?? true) } };
    }
    case 'Delete': {
      const target = parseRegionPhysicalId(event.PhysicalResourceId);
      if (!target) {
        logger.info('Delete of a Region that was never created; nothing to do', { physicalResourceId: event.PhysicalResourceId });
        return { PhysicalResourceId: event.PhysicalResourceId };
      }
      if (!target.created) {
        logger.info('Region was adopted, not added by this stack: left in place', { directoryId: target.DirectoryId, region: target.RegionName });
        return { PhysicalResourceId: event.PhysicalResourceId };
      }
      const result = await startRemoveRegion(primary, dsClient(target.RegionName), target);
      logger.info(result === 'waiting' ? 'RemoveRegion deferred: the Region is still being built; waiting for it to become Active' : 'RemoveRegion', { ...target, result });
      return { PhysicalResourceId: event.PhysicalResourceId, Data: started };
    }
  }
}

/**
 * Polls. Reads only (DescribeRegions, DescribeDirectories), except one case: a Region this stack
 * added that was still being built when its delete began (rollback during AddRegion) is removed here
 * once it is Active, because only the poll is still running then (its role has ds:RemoveRegion and the
 * EC2 deletes RemoveRegion needs, nothing that creates).
 */
export async function isComplete(event: CdkCustomResourceIsCompleteEvent): Promise<CdkCustomResourceIsCompleteResponse> {
  const props: AddRegionProps = parseAddRegionProps(event.ResourceProperties);
  const opts = parseWaitOptions(event.ResourceProperties);
  const primary = dsClient(props.PrimaryRegion);
  const startedAt = Number((event.Data as { StartedAt?: string } | undefined)?.StartedAt);
  if (event.RequestType === 'Delete') {
    if (opts.stage === 'wait') {
      // A `wait` resource owns nothing: it only lets a Region that is still being built finish before
      // the `replicate` resource (deleted after it) removes it.
      const own = parseRegionPhysicalId(opts.replicateId);
      if (!own || !own.created) return { IsComplete: true };
      if (await regionSettled(primary, own)) return { IsComplete: true };
      if (deleteHandOverPassed(opts, startedAt, Date.now())) {
        logger.info('Region still being built; handing the delete-side wait over', { ...own });
        return { IsComplete: true };
      }
      return { IsComplete: false };
    }
    const target = parseRegionPhysicalId(event.PhysicalResourceId);
    if (!target || !target.created) return { IsComplete: true };
    const done = await pollRegionRemoval(primary, dsClient(target.RegionName), target);
    logger.info('RemoveRegion poll', { ...target, done });
    return { IsComplete: done };
  }
  const target = parseRegionPhysicalId(event.PhysicalResourceId) ?? parseRegionPhysicalId(opts.replicateId) ?? { ...props, created: true };
  const createdByStack = String(target.created);
  const justStarted = Number.isFinite(startedAt) && Date.now() - startedAt < MISSING_GRACE_MS;
  const data = await checkRegionActive(primary, dsClient(target.RegionName), target, justStarted);
  logger.info('AddRegion poll', { directoryId: target.DirectoryId, region: target.RegionName, stage: opts.stage, active: data !== undefined });
  if (data) return { IsComplete: true, Data: { ...data, CreatedByStack: createdByStack } };
  if (softDeadlinePassed(opts, startedAt, Date.now())) {
    // Complete before CloudFormation's one-hour custom-resource limit; the next `wait` resource keeps polling.
    logger.info('AddRegion still in progress; handing the wait over to the next resource', { directoryId: target.DirectoryId, region: target.RegionName });
    return { IsComplete: true, Data: { RegionName: target.RegionName, Status: 'Pending', DnsIpAddrs: '', SecurityGroupId: '', CreatedByStack: createdByStack } };
  }
  return { IsComplete: false };
}
