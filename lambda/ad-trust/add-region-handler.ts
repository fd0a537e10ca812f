/**
 * Custom-resource handlers (CDK Provider framework) for replicating an AWS Managed Microsoft AD to
 * another Region. `onEvent` starts AddRegion/RemoveRegion; `isComplete` is polled by the framework
 * (`queryInterval`) until the Region is Active or removed. Logic lives in `add-region.ts`.
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
  networkChanged,
  parseAddRegionProps,
  physicalIdFor,
  requiresReplacement,
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

const PHYSICAL_ID = /^(d-[0-9a-f]{10})\/([a-z]{2}(?:-gov|-iso[a-z]*)?-[a-z]+-\d)$/;

function fromPhysicalId(id: string | undefined): { DirectoryId: string; RegionName: string } | undefined {
  const m = id ? PHYSICAL_ID.exec(id) : null;
  return m ? { DirectoryId: m[1], RegionName: m[2] } : undefined;
}

export async function onEvent(event: CdkCustomResourceEvent): Promise<CdkCustomResourceResponse> {
  const props = parseAddRegionProps(event.ResourceProperties);
  const primary = dsClient(props.PrimaryRegion);
  switch (event.RequestType) {
    case 'Create': {
      const result = await startAddRegion(primary, props);
      logger.info('AddRegion', { directoryId: props.DirectoryId, region: props.RegionName, result });
      return { PhysicalResourceId: physicalIdFor(props) };
    }
    case 'Update': {
      const old = parseAddRegionProps(event.OldResourceProperties);
      if (requiresReplacement(old, props)) {
        // A new physical ID makes CloudFormation send Delete (RemoveRegion) for the old one after this succeeds.
        const result = await startAddRegion(primary, props);
        logger.info('AddRegion (replacement)', { directoryId: props.DirectoryId, region: props.RegionName, result, replaces: event.PhysicalResourceId });
        return { PhysicalResourceId: physicalIdFor(props) };
      }
      if (networkChanged(old, props)) {
        throw new Error(
          `AddRegion: the VPC or subnets of Region ${props.RegionName} of directory ${props.DirectoryId} cannot change in place ` +
            `(${old.VpcId} ${old.SubnetIds.join(',')} -> ${props.VpcId} ${props.SubnetIds.join(',')}). ` +
            `Deploy the replica stack without the secondary cluster and the Region (or delete it), then deploy again with the new VPC.`,
        );
      }
      return { PhysicalResourceId: event.PhysicalResourceId };
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
  const primary = dsClient(props.PrimaryRegion);
  if (event.RequestType === 'Delete') {
    const target = fromPhysicalId(event.PhysicalResourceId);
    if (!target) return { IsComplete: true };
    const done = await checkRegionRemoved(primary, target);
    logger.info('RemoveRegion poll', { ...target, done });
    return { IsComplete: done };
  }
  const target = fromPhysicalId(event.PhysicalResourceId) ?? props;
  const data = await checkRegionActive(primary, dsClient(target.RegionName), target);
  logger.info('AddRegion poll', { directoryId: target.DirectoryId, region: target.RegionName, active: data !== undefined });
  return data ? { IsComplete: true, Data: { ...data } } : { IsComplete: false };
}
