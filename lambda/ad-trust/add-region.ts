/**
 * AddRegion / RemoveRegion for AWS Managed Microsoft AD (Enterprise edition), as plain functions that
 * take their Directory Service clients as arguments. CloudFormation has no resource for replicating a
 * directory to another Region, so the custom resource in `lib/ad-trust` drives these functions through
 * the CDK Provider framework: `onEvent` starts the operation and `isComplete` polls until the Region
 * is Active (create/update) or gone (delete). A new Region can take longer than CloudFormation's
 * one-hour custom-resource limit, hence the two-stage wait (see `WaitOptions`).
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
const PATTERNS: Record<keyof Omit<AddRegionProps, 'SubnetIds'>, RegExp> = {
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
  if (raw.PrimaryRegion === raw.RegionName) problems.push(`RegionName must differ from PrimaryRegion (${String(raw.RegionName)})`);
  if (problems.length > 0) throw new Error(`AddRegion: invalid properties: ${problems.join('; ')}`);
  return {
    DirectoryId: raw.DirectoryId as string,
    PrimaryRegion: raw.PrimaryRegion as string,
    RegionName: raw.RegionName as string,
    VpcId: raw.VpcId as string,
    SubnetIds: subnets as string[],
  };
}

export function physicalIdFor(p: Pick<AddRegionProps, 'DirectoryId' | 'RegionName'>): string {
  return `${p.DirectoryId}/${p.RegionName}`;
}

function errName(e: unknown): string {
  return (e as { name?: string })?.name ?? '';
}

/** The Region's description, or undefined when the directory is not replicated there. */
export async function describeRegion(primary: DirectoryServiceClient, directoryId: string, regionName: string): Promise<RegionDescription | undefined> {
  try {
    const out = await withRetry(() => primary.send(new DescribeRegionsCommand({ DirectoryId: directoryId, RegionName: regionName })));
    return (out.RegionsDescription ?? []).find((r) => r.RegionName === regionName);
  } catch (e) {
    // DescribeRegions answers EntityDoesNotExist for a Region the directory is not in.
    if (errName(e) === 'EntityDoesNotExistException') return undefined;
    throw e;
  }
}

/**
 * Starts replication unless the directory is already in the Region (idempotent: a retried create or
 * a create after a half-finished attempt adopts the existing Region). Returns what it did.
 */
export async function startAddRegion(primary: DirectoryServiceClient, p: AddRegionProps): Promise<'started' | 'exists'> {
  const existing = await describeRegion(primary, p.DirectoryId, p.RegionName);
  if (existing) {
    if (existing.VpcSettings?.VpcId && existing.VpcSettings.VpcId !== p.VpcId) {
      throw new Error(
        `AddRegion: directory ${p.DirectoryId} is already replicated to ${p.RegionName} in ${existing.VpcSettings.VpcId}, not ${p.VpcId}. ` +
          `Remove that Region from the directory first (console or RemoveRegion in ${p.RegionName}) or point the stack at ${existing.VpcSettings.VpcId}.`,
      );
    }
    return 'exists';
  }
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
    if (errName(e) === 'DirectoryAlreadyInRegionException') return 'exists';
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

/**
 * Starts removing the replicated Region (RemoveRegion is sent to the replica Region's endpoint).
 * Idempotent: a Region that is already gone, or already being deleted, is fine.
 */
export async function startRemoveRegion(primary: DirectoryServiceClient, replica: DirectoryServiceClient, p: Pick<AddRegionProps, 'DirectoryId' | 'RegionName'>): Promise<'started' | 'absent'> {
  const region = await describeRegion(primary, p.DirectoryId, p.RegionName);
  if (!region || region.Status === 'Deleted') return 'absent';
  if (region.Status === 'Deleting') return 'started';
  if (region.Status === 'Requested' || region.Status === 'Creating' || region.Status === 'Created' || region.Status === 'Updating') {
    // Directory Service cannot remove a Region that is still being built; say so instead of passing on
    // its generic error (this happens when a deployment is rolled back while AddRegion is running).
    throw new Error(
      `RemoveRegion: Region ${p.RegionName} of directory ${p.DirectoryId} is ${region.Status}; it can be removed once it is Active. ` +
        'Wait, then retry the stack deletion or rollback (or delete the Region in the Directory Service console).',
    );
  }
  try {
    await withRetry(() => replica.send(new RemoveRegionCommand({ DirectoryId: p.DirectoryId })));
    return 'started';
  } catch (e) {
    if (errName(e) === 'EntityDoesNotExistException') return 'absent';
    throw e;
  }
}

/** One poll of a delete: true once the Region is gone from the directory. */
export async function checkRegionRemoved(primary: DirectoryServiceClient, p: Pick<AddRegionProps, 'DirectoryId' | 'RegionName'>): Promise<boolean> {
  const region = await describeRegion(primary, p.DirectoryId, p.RegionName);
  if (!region || region.Status === 'Deleted') return true;
  if (BROKEN.has(region.Status ?? '')) {
    throw new Error(`RemoveRegion: Region ${p.RegionName} of directory ${p.DirectoryId} is ${region.Status}; remove it in the console, then retry the stack deletion.`);
  }
  return false;
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
 * one hour (ServiceTimeout 1-3600 s), and a new Region often takes longer; so the construct splits
 * the wait over two resources:
 * - `replicate` starts AddRegion and polls; after `softDeadlineSeconds` it hands over (completes with
 *   Status `Pending`) instead of letting CloudFormation time it out and roll back (= RemoveRegion);
 * - `wait` (created after it) only polls until the Region is Active, and fails at its own deadline.
 */
export interface WaitOptions {
  readonly stage: 'replicate' | 'wait';
  /** 0 = no soft deadline (poll until the Provider framework's totalTimeout fails the operation). */
  readonly softDeadlineSeconds: number;
}

export function parseWaitOptions(raw: Record<string, unknown>): WaitOptions {
  const stage = raw.Stage ?? 'replicate';
  if (stage !== 'replicate' && stage !== 'wait') throw new Error(`AddRegion: Stage must be replicate or wait (got ${JSON.stringify(stage)})`);
  const soft = Number(raw.SoftDeadlineSeconds ?? 0);
  if (!Number.isInteger(soft) || soft < 0 || soft > 3600) throw new Error(`AddRegion: SoftDeadlineSeconds must be 0..3600 (got ${JSON.stringify(raw.SoftDeadlineSeconds)})`);
  return { stage, softDeadlineSeconds: soft };
}

/** How long after AddRegion a Region missing from DescribeRegions counts as not listed yet rather than lost. */
export const MISSING_GRACE_MS = 5 * 60 * 1000;

/** True when a `replicate` resource should hand the wait over to the next resource. */
export function softDeadlinePassed(opts: WaitOptions, startedAtMs: number | undefined, nowMs: number): boolean {
  if (opts.softDeadlineSeconds === 0 || startedAtMs === undefined || !Number.isFinite(startedAtMs)) return false;
  return nowMs - startedAtMs >= opts.softDeadlineSeconds * 1000;
}
