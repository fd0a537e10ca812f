/**
 * AddRegion / RemoveRegion for AWS Managed Microsoft AD (Enterprise edition), as plain functions that
 * take their Directory Service clients as arguments. CloudFormation has no resource for replicating a
 * directory to another Region, so the custom resource in `lib/ad-trust` drives these functions through
 * the CDK Provider framework: `onEvent` starts the operation and `isComplete` polls until the Region
 * is Active (create/update) or gone (delete). A new Region can take longer than CloudFormation's
 * one-hour custom-resource limit, hence the chain of waiting resources (see `WaitOptions`).
 *
 * Two clients are needed because the API is Region-sensitive:
 * - `primary`: a client in the directory's primary Region (AddRegion, DescribeRegions, DescribeDirectories).
 * - `replica`: a client in the replicated Region (RemoveRegion acts on the Region of the endpoint it is
 *   sent to; DescribeDirectories there returns that Region's DNS addresses and security group).
 */
import {
  AddRegionCommand,
  DescribeDirectoriesCommand,
  DescribeRegionsCommand,
  DirectoryServiceClient,
  RegionDescription,
  RemoveRegionCommand,
} from '@aws-sdk/client-directory-service';
import { withRetry } from '../shared/retry';

export interface AddRegionProps {
  /** Directory ID, e.g. d-1234567890. */
  readonly DirectoryId: string;
  /** The Region where the directory was created. */
  readonly PrimaryRegion: string;
  /** The Region to replicate to. */
  readonly RegionName: string;
  readonly VpcId: string;
  /** Two subnets in different Availability Zones of `VpcId`. */
  readonly SubnetIds: string[];
  /**
   * Take over a Region the directory is already replicated to (by hand, or by an earlier stack) instead
   * of refusing; it must be Active in `VpcId`, and it is LEFT IN PLACE on delete (the physical ID says so).
   */
  readonly AdoptExisting: boolean;
}

/** What the custom resource returns once the Region is Active (`Fn::GetAtt` on the resource). */
export interface RegionReadyData {
  readonly RegionName: string;
  readonly Status: string;
  /** The directory's DNS servers (domain controllers) in the replicated Region, comma-separated. */
  readonly DnsIpAddrs: string;
  /** The security group that AWS created for the domain controllers in the replicated Region. */
  readonly SecurityGroupId: string;
}

/** States in which waiting longer cannot help: the operator must look at the directory. */
const BROKEN = new Set(['Failed', 'Impaired', 'Inoperable', 'RestoreFailed']);
const PATTERNS: Record<keyof Omit<AddRegionProps, 'SubnetIds' | 'AdoptExisting'>, RegExp> = {
  DirectoryId: /^d-[0-9a-f]{10}$/,
  PrimaryRegion: /^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/,
  RegionName: /^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/,
  VpcId: /^vpc-[0-9a-f]+$/,
};

/** Validates the custom-resource properties; throws one error naming every bad property. */
export function parseAddRegionProps(raw: Record<string, unknown>): AddRegionProps {
  const problems: string[] = [];
  for (const [k, re] of Object.entries(PATTERNS)) {
    const v = raw[k];
    if (typeof v !== 'string' || !re.test(v)) problems.push(`${k} must match ${re} (got ${JSON.stringify(v)})`);
  }
  const subnets = raw.SubnetIds;
  if (!Array.isArray(subnets) || subnets.length !== 2 || subnets.some((s) => typeof s !== 'string' || !/^subnet-[0-9a-f]+$/.test(s))) {
    problems.push(`SubnetIds must be exactly two subnet IDs in different Availability Zones (got ${JSON.stringify(subnets)})`);
  }
  const adopt = raw.AdoptExisting ?? 'false';
  if (adopt !== 'true' && adopt !== 'false' && adopt !== true && adopt !== false) problems.push(`AdoptExisting must be true or false (got ${JSON.stringify(adopt)})`);
  if (raw.PrimaryRegion === raw.RegionName) problems.push(`RegionName must differ from PrimaryRegion (${String(raw.RegionName)})`);
  if (problems.length > 0) throw new Error(`AddRegion: invalid properties: ${problems.join('; ')}`);
  return {
    DirectoryId: raw.DirectoryId as string,
    PrimaryRegion: raw.PrimaryRegion as string,
    RegionName: raw.RegionName as string,
    VpcId: raw.VpcId as string,
    SubnetIds: subnets as string[],
    AdoptExisting: adopt === true || adopt === 'true',
  };
}

/**
 * The physical ID records who added the Region: `d-…/<region>` when this resource called AddRegion
 * (RemoveRegion on delete), `d-…/<region>/adopted` when the Region existed before (left in place).
 */
export function physicalIdFor(p: Pick<AddRegionProps, 'DirectoryId' | 'RegionName'>, created = true, replaces?: string): string {
  const own = created ? `${p.DirectoryId}/${p.RegionName}` : `${p.DirectoryId}/${p.RegionName}/adopted`;
  // A replacement remembers the physical ID it replaces (one level): a rollback of the update sends
  // Update with the old properties and THIS physical ID while the old Region still exists (CloudFormation
  // removes it only in the cleanup of a successful update); without the record the rollback would refuse
  // the stack's own Region as foreign and end in UPDATE_ROLLBACK_FAILED.
  const prev = replaces ? parseRegionPhysicalId(replaces) : undefined;
  return prev ? `${own}/replaces/${physicalIdFor(prev, prev.created)}` : own;
}

const REGION = '[a-z]{2}(?:-gov|-iso[a-z]*)?-[a-z]+-\\d';
const PHYSICAL_ID = new RegExp(`^(d-[0-9a-f]{10})\\/(${REGION})(\\/adopted)?(?:\\/replaces\\/(d-[0-9a-f]{10})\\/(${REGION})(\\/adopted)?)?$`);

export interface RegionRef {
  readonly DirectoryId: string;
  readonly RegionName: string;
  /** True when this stack called AddRegion (and so may remove the Region). */
  readonly created: boolean;
  /** The Region this physical ID replaced in an update (what a rollback returns to). */
  readonly replaces?: { readonly DirectoryId: string; readonly RegionName: string; readonly created: boolean };
}

/** Parses a `replicate` resource's physical ID; undefined when it names no Region (a create that failed first). */
export function parseRegionPhysicalId(id: string | undefined): RegionRef | undefined {
  const m = id ? PHYSICAL_ID.exec(id) : null;
  if (!m) return undefined;
  const replaces = m[4] ? { DirectoryId: m[4], RegionName: m[5], created: m[6] === undefined } : undefined;
  return { DirectoryId: m[1], RegionName: m[2], created: m[3] === undefined, replaces };
}

/** How far a Region's LaunchTime may precede our AddRegion call and still be ours (clock skew). */
export const CLOCK_SKEW_MS = 60_000;

function describeRegionForMessage(r: RegionDescription): string {
  const launched = r.LaunchTime ? `, launched ${new Date(r.LaunchTime).toISOString()}` : '';
  return `${r.RegionName} (status ${r.Status ?? 'unknown'}, VPC ${r.VpcSettings?.VpcId ?? 'unknown'}${launched})`;
}

function refuseExistingRegion(p: AddRegionProps, r: RegionDescription): Error {
  if (r.Status === 'Deleting') {
    return new Error(
      `AddRegion: directory ${p.DirectoryId} is still in ${describeRegionForMessage(r)}; it is being removed: wait until ` +
        `aws ds describe-regions --directory-id ${p.DirectoryId} --region-name ${p.RegionName} no longer lists it (or lists it as Deleted), then deploy again. Nothing was changed.`,
    );
  }
  return new Error(
    `AddRegion: directory ${p.DirectoryId} is already replicated to ${describeRegionForMessage(r)}, and this stack did not add it. ` +
      'Nothing was changed; the kit never takes over or removes a Region it did not add. ' +
      `To use that Region with this stack (it must be Active in ${p.VpcId}; it is left in place when the stack is deleted), deploy again with ` +
      '-c adTrust:adoptExistingRegion=true (construct prop adoptExisting: true). ' +
      `To let the stack add it instead, remove it yourself first: aws ds remove-region --directory-id ${p.DirectoryId} --region ${p.RegionName}`,
  );
}

/** Throws unless the existing Region is what AddRegion would have made: Active, in this stack's VPC. */
export function checkRegionAdoptable(p: AddRegionProps, r: RegionDescription): void {
  const problems: string[] = [];
  if (r.VpcSettings?.VpcId && r.VpcSettings.VpcId !== p.VpcId) problems.push(`it is in ${r.VpcSettings.VpcId}, not ${p.VpcId} (point the stack at that VPC or remove the Region)`);
  if (r.Status !== 'Active') problems.push(`its status is ${r.Status ?? 'unknown'}, not Active (wait until it is Active, or fix it in the console)`);
  if (problems.length > 0) {
    throw new Error(`AddRegion: cannot adopt Region ${describeRegionForMessage(r)} of directory ${p.DirectoryId}: ${problems.join('; ')}. Nothing was changed.`);
  }
}

function errName(e: unknown): string {
  return (e as { name?: string })?.name ?? '';
}

/** The Region's description, or undefined when the directory is not replicated there. */
export async function describeRegion(
  primary: DirectoryServiceClient,
  directoryId: string,
  regionName: string,
  /** For removal: a directory that no longer exists has no Region left to remove. */
  directoryGoneIsAbsent = false,
): Promise<RegionDescription | undefined> {
  try {
    const out = await withRetry(() => primary.send(new DescribeRegionsCommand({ DirectoryId: directoryId, RegionName: regionName })));
    return (out.RegionsDescription ?? []).find((r) => r.RegionName === regionName);
  } catch (e) {
    // A Region the directory is not in may be reported as EntityDoesNotExist.
    if (errName(e) === 'EntityDoesNotExistException') return undefined;
    // DescribeRegions' documented error for a directory that does not exist (in the Region asked):
    // https://docs.aws.amazon.com/directoryservice/latest/devguide/API_DescribeRegions.html#API_DescribeRegions_Errors
    if (errName(e) === 'DirectoryDoesNotExistException') {
      if (directoryGoneIsAbsent) return undefined;
      const region = await primary.config.region();
      throw new Error(
        `AddRegion: directory ${directoryId} does not exist in ${region} (DirectoryDoesNotExistException: ${(e as Error).message}). Nothing was changed. ` +
          `Check the directory ID and the primary Region (aws ds describe-directories --directory-ids ${directoryId} --region ${region}), then deploy again.`,
      );
    }
    throw e;
  }
}

/**
 * Starts replication. A Region the directory is already in is refused, or adopted when
 * `AdoptExisting` is set (after {@link checkRegionAdoptable}). Returns what it did.
 */
export async function startAddRegion(primary: DirectoryServiceClient, p: AddRegionProps, now: () => number = Date.now): Promise<'started' | 'adopted'> {
  const found = await describeRegion(primary, p.DirectoryId, p.RegionName);
  // A Region that was removed can stay listed as Deleted for a while (a redeploy after destroy): it is gone.
  // Status values: https://docs.aws.amazon.com/directoryservice/latest/devguide/API_RegionDescription.html
  const existing = found && found.Status !== 'Deleted' ? found : undefined;
  if (existing) {
    // A Region being removed cannot become Active again: "wait, then deploy" is the answer, adopt or not.
    if (!p.AdoptExisting || existing.Status === 'Deleting') throw refuseExistingRegion(p, existing);
    checkRegionAdoptable(p, existing);
    return 'adopted';
  }
  const startedAt = now();
  try {
    await withRetry(() =>
      primary.send(
        new AddRegionCommand({
          DirectoryId: p.DirectoryId,
          RegionName: p.RegionName,
          VPCSettings: { VpcId: p.VpcId, SubnetIds: p.SubnetIds },
        }),
      ),
    );
    return 'started';
  } catch (e) {
    if (errName(e) === 'DirectoryAlreadyInRegionException') {
      // An SDK retry of an attempt AWS had accepted finds our own Region (launched after this call
      // started); an older one was added by someone else meanwhile and is refused like any other.
      const r = await describeRegion(primary, p.DirectoryId, p.RegionName);
      if (r) {
        const launched = r.LaunchTime ? new Date(r.LaunchTime).getTime() : undefined;
        if (launched !== undefined && launched >= startedAt - CLOCK_SKEW_MS) return 'started';
        if (!p.AdoptExisting || r.Status === 'Deleting') throw refuseExistingRegion(p, r);
        checkRegionAdoptable(p, r);
        return 'adopted';
      }
    }
    throw e;
  }
}

/**
 * One poll of a create/update: undefined while the Region is still being built, the Region's data
 * once it is Active; throws when the Region is in a state that waiting cannot fix.
 */
export async function checkRegionActive(
  primary: DirectoryServiceClient,
  replica: DirectoryServiceClient,
  p: Pick<AddRegionProps, 'DirectoryId' | 'RegionName'>,
  /** True shortly after AddRegion: DescribeRegions may not list the new Region yet (eventual consistency). */
  tolerateMissing = false,
): Promise<RegionReadyData | undefined> {
  const region = await describeRegion(primary, p.DirectoryId, p.RegionName);
  if (!region) {
    if (tolerateMissing) return undefined;
    throw new Error(`AddRegion: directory ${p.DirectoryId} has no Region ${p.RegionName} although AddRegion was accepted; check the directory's Regions in the console.`);
  }
  const status = region.Status ?? 'Unknown';
  if (BROKEN.has(status)) {
    throw new Error(`AddRegion: Region ${p.RegionName} of directory ${p.DirectoryId} is ${status}; open a support case or remove the Region and deploy again.`);
  }
  if (status === 'Deleting' || status === 'Deleted') {
    // Someone removes the Region while the stack waits for it: waiting would only run into the timeout.
    throw new Error(
      `AddRegion: Region ${p.RegionName} of directory ${p.DirectoryId} is ${status} while the stack waits for it to become Active (removed outside this stack). ` +
        `Let the removal finish (aws ds describe-regions --directory-id ${p.DirectoryId} --region-name ${p.RegionName}), then deploy again.`,
    );
  }
  if (status !== 'Active') return undefined;
  const dir = await withRetry(() => replica.send(new DescribeDirectoriesCommand({ DirectoryIds: [p.DirectoryId] })));
  const d = dir.DirectoryDescriptions?.[0];
  return {
    RegionName: p.RegionName,
    Status: status,
    DnsIpAddrs: (d?.DnsIpAddrs ?? []).join(','),
    SecurityGroupId: d?.VpcSettings?.SecurityGroupId ?? '',
  };
}

/** Region states in which Directory Service is still building (or changing) the Region and RemoveRegion is not accepted yet. */
// Status values: https://docs.aws.amazon.com/directoryservice/latest/devguide/API_RegionDescription.html (Restoring: a snapshot restore is running).
export const IN_PROGRESS = new Set(['Requested', 'Creating', 'Created', 'Updating', 'Restoring']);

/**
 * Starts removing the replicated Region (RemoveRegion is sent to the replica Region's endpoint).
 * Idempotent: a Region that is already gone, or already being deleted, is fine. A Region that is still
 * being built (a rollback while AddRegion runs) cannot be removed yet: `waiting` is returned and the
 * poll ({@link pollRegionRemoval}) sends RemoveRegion once it is Active.
 */
export async function startRemoveRegion(
  primary: DirectoryServiceClient,
  replica: DirectoryServiceClient,
  p: Pick<AddRegionProps, 'DirectoryId' | 'RegionName'>,
): Promise<'started' | 'absent' | 'waiting'> {
  const region = await describeRegion(primary, p.DirectoryId, p.RegionName, true);
  if (!region || region.Status === 'Deleted') return 'absent';
  if (region.Status === 'Deleting') return 'started';
  if (IN_PROGRESS.has(region.Status ?? '')) return 'waiting';
  try {
    await withRetry(() => replica.send(new RemoveRegionCommand({ DirectoryId: p.DirectoryId })));
    return 'started';
  } catch (e) {
    // RemoveRegion's documented error when the directory is not (any more) in the Region it is sent to.
    // https://docs.aws.amazon.com/directoryservice/latest/devguide/API_RemoveRegion.html#API_RemoveRegion_Errors
    if (errName(e) === 'EntityDoesNotExistException' || errName(e) === 'DirectoryDoesNotExistException') return 'absent';
    throw e;
  }
}

/**
 * One poll of a delete of a Region this stack added: true once it is gone; while it is still being
 * built, keep waiting; once it is Active (after a deferred removal), send RemoveRegion.
 */
export async function pollRegionRemoval(primary: DirectoryServiceClient, replica: DirectoryServiceClient, p: Pick<AddRegionProps, 'DirectoryId' | 'RegionName'>): Promise<boolean> {
  const region = await describeRegion(primary, p.DirectoryId, p.RegionName, true);
  if (!region || region.Status === 'Deleted') return true;
  if (BROKEN.has(region.Status ?? '')) {
    throw new Error(`RemoveRegion: Region ${p.RegionName} of directory ${p.DirectoryId} is ${region.Status}; remove it in the console (or aws ds remove-region --directory-id ${p.DirectoryId} --region ${p.RegionName}), then retry the stack deletion.`);
  }
  if (region.Status === 'Active') await startRemoveRegion(primary, replica, p);
  return false;
}

/** One read-only poll of a `wait` resource being deleted: true once the Region is no longer being built (the `replicate` resource removes it). */
export async function regionSettled(primary: DirectoryServiceClient, p: Pick<AddRegionProps, 'DirectoryId' | 'RegionName'>): Promise<boolean> {
  const region = await describeRegion(primary, p.DirectoryId, p.RegionName, true);
  return !region || !IN_PROGRESS.has(region.Status ?? '');
}

/** True when an update changes what the Region is (directory or Region name): CloudFormation then replaces it. */
export function requiresReplacement(oldP: AddRegionProps, newP: AddRegionProps): boolean {
  return oldP.DirectoryId !== newP.DirectoryId || oldP.RegionName !== newP.RegionName;
}

/** True when only the VPC or subnets changed, which AWS cannot apply to a replicated Region in place. */
export function networkChanged(oldP: AddRegionProps, newP: AddRegionProps): boolean {
  return oldP.VpcId !== newP.VpcId || [...oldP.SubnetIds].sort().join(',') !== [...newP.SubnetIds].sort().join(',');
}

/**
 * How one custom resource of the replication waits. CloudFormation gives a custom resource at most
 * one hour (ServiceTimeout 1-3600 s), and a new Region can take much longer; so the construct splits
 * the wait over a chain of resources (>= 180 minutes in total by default, as Terraform's
 * aws_directory_service_region allows):
 * - `replicate` starts AddRegion and polls; after `softDeadlineSeconds` it hands over (completes with
 *   Status `Pending`) instead of letting CloudFormation time it out and roll back (= RemoveRegion);
 * - each `wait` resource (created after the previous one) only polls until the Region is Active and
 *   hands over at its own soft deadline; the last one (`softDeadlineSeconds` 0) fails at its deadline.
 * On delete the chain runs backwards: each `wait` resource waits (read-only) while the Region is still
 * being built and hands over after `roundSeconds` - 5 minutes; the `replicate` resource removes it.
 */
export interface WaitOptions {
  readonly stage: 'replicate' | 'wait';
  /** 0 = no soft deadline (poll until the Provider framework's totalTimeout fails the operation). */
  readonly softDeadlineSeconds: number;
  /** The framework's totalTimeout of one resource; delete-side waits hand over 5 minutes before it. */
  readonly roundSeconds: number;
  /** For `wait` resources: the physical ID of the `replicate` resource (says whether the Region is the stack's own). */
  readonly replicateId?: string;
}

export function parseWaitOptions(raw: Record<string, unknown>): WaitOptions {
  const stage = raw.Stage ?? 'replicate';
  if (stage !== 'replicate' && stage !== 'wait') throw new Error(`AddRegion: Stage must be replicate or wait (got ${JSON.stringify(stage)})`);
  const soft = Number(raw.SoftDeadlineSeconds ?? 0);
  if (!Number.isInteger(soft) || soft < 0 || soft > 3600) throw new Error(`AddRegion: SoftDeadlineSeconds must be 0..3600 (got ${JSON.stringify(raw.SoftDeadlineSeconds)})`);
  const round = Number(raw.RoundSeconds ?? 3300);
  if (!Number.isInteger(round) || round < 600 || round > 3600) throw new Error(`AddRegion: RoundSeconds must be 600..3600 (got ${JSON.stringify(raw.RoundSeconds)})`);
  const replicateId = typeof raw.ReplicateId === 'string' ? raw.ReplicateId : undefined;
  return { stage, softDeadlineSeconds: soft, roundSeconds: round, replicateId };
}

/** How long after AddRegion a Region missing from DescribeRegions counts as not listed yet rather than lost. */
export const MISSING_GRACE_MS = 5 * 60 * 1000;

/** True when a resource should hand the (create-side) wait over to the next resource. */
export function softDeadlinePassed(opts: Pick<WaitOptions, 'softDeadlineSeconds'>, startedAtMs: number | undefined, nowMs: number): boolean {
  if (opts.softDeadlineSeconds === 0 || startedAtMs === undefined || !Number.isFinite(startedAtMs)) return false;
  return nowMs - startedAtMs >= opts.softDeadlineSeconds * 1000;
}

/** True when a `wait` resource being deleted should stop waiting and let the next delete continue. */
export function deleteHandOverPassed(opts: WaitOptions, startedAtMs: number | undefined, nowMs: number): boolean {
  return softDeadlinePassed({ softDeadlineSeconds: Math.max(60, opts.roundSeconds - 300) }, startedAtMs, nowMs);
}
