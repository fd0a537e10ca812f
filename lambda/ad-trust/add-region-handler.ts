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
  describeRegion,
  IN_PROGRESS,
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
  WaitOptions,
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

const REGION_RE = /^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/;

/**
 * A Delete needs only the physical ID and the primary Region: it must not fail on properties that
 * today's validation rejects (a create that failed on them, or a stack made by an older kit), or the
 * stack could never leave DELETE_FAILED / ROLLBACK_FAILED.
 */
function primaryRegionOf(raw: Record<string, unknown>): string {
  if (typeof raw.PrimaryRegion === 'string' && REGION_RE.test(raw.PrimaryRegion)) return raw.PrimaryRegion;
  throw new Error(`RemoveRegion: the resource's PrimaryRegion ${JSON.stringify(raw.PrimaryRegion)} is not a Region name; nothing was removed. Remove the Region yourself if it is no longer needed (aws ds remove-region), then delete the stack again.`);
}

/** The replacement path of an update: back to the Region the physical ID replaced (a rollback), or a new one. */
async function replace(event: CdkCustomResourceEvent & { PhysicalResourceId: string }, props: AddRegionProps, started: { StartedAt: string }): Promise<CdkCustomResourceResponse> {
  const primary = dsClient(props.PrimaryRegion);
  const current = parseRegionPhysicalId(event.PhysicalResourceId);
  if (current && current.DirectoryId === props.DirectoryId && current.RegionName === props.RegionName) {
    // The Region for these properties is the one this resource already holds: the rollback of a
    // replacement that failed before returning a new physical ID. Nothing to add or refuse.
    logger.info('The Region for these properties is this resource\'s own; kept (rollback of a failed replacement)', { ...current });
    return { PhysicalResourceId: event.PhysicalResourceId, Data: { ...started, CreatedByStack: String(current.created) } };
  }
  const prev = current?.replaces;
  if (prev && prev.DirectoryId === props.DirectoryId && prev.RegionName === props.RegionName) {
    // Rollback of a replacement: the old Region still exists and is the one this resource had before.
    const r = await describeRegion(primary, props.DirectoryId, props.RegionName);
    if (r && r.Status !== 'Deleting' && r.Status !== 'Deleted') {
      logger.info('Back to the Region this resource had before the replacement (rollback)', { ...prev, from: event.PhysicalResourceId });
      return { PhysicalResourceId: physicalIdFor(prev, prev.created), Data: { ...started, CreatedByStack: String(prev.created) } };
    }
  }
  // A new physical ID makes CloudFormation send Delete for the old one, which removes it only if this stack added it.
  const result = await startAddRegion(primary, props);
  logger.info('AddRegion (replacement)', { directoryId: props.DirectoryId, region: props.RegionName, result, replaces: event.PhysicalResourceId });
  return { PhysicalResourceId: physicalIdFor(props, result === 'started', event.PhysicalResourceId), Data: { ...started, CreatedByStack: String(result === 'started') } };
}

export async function onEvent(event: CdkCustomResourceEvent): Promise<CdkCustomResourceResponse> {
  // Start of this operation, carried to isComplete (the framework passes onEvent's Data along).
  const started = { StartedAt: String(Date.now()) };
  if (event.RequestType === 'Delete') {
    // Only waits for the Region that the `replicate` resource started; never adds or removes it.
    if (event.ResourceProperties.Stage === 'wait') return { PhysicalResourceId: event.PhysicalResourceId, Data: started };
    const target = parseRegionPhysicalId(event.PhysicalResourceId);
    if (!target) {
      logger.info('Delete of a Region that was never created; nothing to do', { physicalResourceId: event.PhysicalResourceId });
      return { PhysicalResourceId: event.PhysicalResourceId };
    }
    if (!target.created) {
      logger.info('Region was adopted, not added by this stack: left in place', { directoryId: target.DirectoryId, region: target.RegionName });
      return { PhysicalResourceId: event.PhysicalResourceId };
    }
    const result = await startRemoveRegion(dsClient(primaryRegionOf(event.ResourceProperties)), dsClient(target.RegionName), target);
    logger.info(result === 'waiting' ? 'RemoveRegion deferred: the Region is still being built; waiting for it to become Active' : 'RemoveRegion', { ...target, result });
    return { PhysicalResourceId: event.PhysicalResourceId, Data: started };
  }
  const props = parseAddRegionProps(event.ResourceProperties);
  const opts = parseWaitOptions(event.ResourceProperties);
  const primary = dsClient(props.PrimaryRegion);
  if (opts.stage === 'wait') {
    const name = typeof event.ResourceProperties.WaitName === 'string' ? event.ResourceProperties.WaitName : 'active';
    return { PhysicalResourceId: `${physicalIdFor(props)}/${name}`, Data: started };
  }
  if (event.RequestType === 'Create') {
    const result = await startAddRegion(primary, props);
    logger.info(result === 'adopted' ? 'Adopted a Region the directory was already in (left in place on delete)' : 'AddRegion', { directoryId: props.DirectoryId, region: props.RegionName, result });
    return { PhysicalResourceId: physicalIdFor(props, result === 'started'), Data: { ...started, CreatedByStack: String(result === 'started') } };
  }
  // Update.
  const current = parseRegionPhysicalId(event.PhysicalResourceId);
  let old: AddRegionProps;
  try {
    old = parseAddRegionProps(event.OldResourceProperties);
  } catch (e) {
    // Old properties that fail validation are the new properties of an update that failed on them
    // before any call (this is its rollback), or come from an older kit: nothing was applied from them.
    if (current && current.DirectoryId === props.DirectoryId && current.RegionName === props.RegionName) {
      logger.info('Previous properties were invalid (rollback of an update that failed validation); Region kept unchanged', { ...current, error: (e as Error).message });
      return { PhysicalResourceId: event.PhysicalResourceId, Data: { ...started, CreatedByStack: String(current.created) } };
    }
    return replace(event, props, started);
  }
  if (requiresReplacement(old, props)) return replace(event, props, started);
  if (networkChanged(old, props)) {
    throw new Error(
      `AddRegion: the VPC or subnets of Region ${props.RegionName} of directory ${props.DirectoryId} cannot change in place ` +
        `(${old.VpcId} ${old.SubnetIds.join(',')} -> ${props.VpcId} ${props.SubnetIds.join(',')}). Nothing was changed. ` +
        `Remove the Region yourself (aws ds remove-region --directory-id ${props.DirectoryId} --region ${props.RegionName}) once nothing in it is needed, then deploy again with the new VPC.`,
    );
  }
  return { PhysicalResourceId: event.PhysicalResourceId, Data: { ...started, CreatedByStack: String(current?.created ?? true) } };
}

/**
 * Polls. Reads only (DescribeRegions, DescribeDirectories), except one case: a Region this stack
 * added that was still being built when its delete began (rollback during AddRegion) is removed here
 * once it is Active, because only the poll is still running then (its role has ds:RemoveRegion and the
 * EC2 deletes RemoveRegion needs, nothing that creates).
 */
export async function isComplete(event: CdkCustomResourceIsCompleteEvent): Promise<CdkCustomResourceIsCompleteResponse> {
  const startedAt = Number((event.Data as { StartedAt?: string } | undefined)?.StartedAt);
  if (event.RequestType === 'Delete') {
    const raw = event.ResourceProperties;
    if (raw.Stage === 'wait') {
      // A `wait` resource owns nothing: it only lets a Region that is still being built finish before
      // the `replicate` resource (deleted after it) removes it. Unreadable options: nothing to wait for.
      let opts: WaitOptions;
      try {
        opts = parseWaitOptions(raw);
      } catch {
        return { IsComplete: true };
      }
      const own = parseRegionPhysicalId(opts.replicateId);
      if (!own || !own.created) return { IsComplete: true };
      if (await regionSettled(dsClient(primaryRegionOf(raw)), own)) return { IsComplete: true };
      if (deleteHandOverPassed(opts, startedAt, Date.now())) {
        logger.info('Region still being built; handing the delete-side wait over', { ...own });
        return { IsComplete: true };
      }
      return { IsComplete: false };
    }
    const target = parseRegionPhysicalId(event.PhysicalResourceId);
    if (!target || !target.created) return { IsComplete: true };
    const primaryDs = dsClient(primaryRegionOf(raw));
    const done = await pollRegionRemoval(primaryDs, dsClient(target.RegionName), target);
    logger.info('RemoveRegion poll', { ...target, done });
    if (!done) {
      let round = 3300;
      try {
        round = parseWaitOptions(raw).roundSeconds;
      } catch {
        // keep the default round
      }
      if (deleteHandOverPassed({ stage: 'replicate', softDeadlineSeconds: 0, roundSeconds: round }, startedAt, Date.now())) {
        const r = await describeRegion(primaryDs, target.DirectoryId, target.RegionName, true);
        if (r && IN_PROGRESS.has(r.Status ?? '')) {
          // Fail with what exists now before the framework's bare timeout does.
          const stack = event.StackId.split('/')[1] ?? event.StackId;
          throw new Error(
            `RemoveRegion: Region ${target.RegionName} of directory ${target.DirectoryId} is still ${r.Status} (AddRegion has not finished), so nothing was removed yet; ` +
              `Directory Service accepts RemoveRegion only once the Region is Active. Wait until aws ds describe-regions --directory-id ${target.DirectoryId} --region-name ${target.RegionName} ` +
              `shows Active (or Failed), then retry: aws cloudformation delete-stack --stack-name ${stack} (after a failed first deploy or a stack deletion) ` +
              `or aws cloudformation continue-update-rollback --stack-name ${stack} (after a failed update).`,
          );
        }
      }
    }
    return { IsComplete: done };
  }
  const props: AddRegionProps = parseAddRegionProps(event.ResourceProperties);
  const opts = parseWaitOptions(event.ResourceProperties);
  const primary = dsClient(props.PrimaryRegion);
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
  if (opts.softDeadlineSeconds === 0 && deleteHandOverPassed(opts, startedAt, Date.now())) {
    // The last resource of the chain: fail with what exists now before the framework's bare timeout does.
    const r = await describeRegion(primary, target.DirectoryId, target.RegionName);
    const stack = event.StackId.split('/')[1] ?? event.StackId;
    throw new Error(
      `AddRegion: Region ${target.RegionName} of directory ${target.DirectoryId} is still ${r?.Status ?? 'not listed'} at the end of the stack's wait for Active. ` +
        `The stack rolls back now; ${target.created ? 'the Region this stack added is removed once it is Active (RemoveRegion is refused while it is being built)' : 'the adopted Region is left in place'}. ` +
        `Check it with aws ds describe-regions --directory-id ${target.DirectoryId} --region-name ${target.RegionName}; to wait longer, raise the construct's totalTimeout (up to 300 minutes) and deploy ${stack} again.`,
    );
  }
  return { IsComplete: false };
}
