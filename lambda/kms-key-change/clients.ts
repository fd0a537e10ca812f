import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { KMSClient } from '@aws-sdk/client-kms';
import { RDSClient } from '@aws-sdk/client-rds';
import { withRetry } from '../shared/retry';

/**
 * The SDK clients every step takes as arguments. `rds`/`kms` talk to the source Region; `targetRds`
 * / `targetKms` to the Region of the new resource (the same clients when it is the same Region).
 */
export interface Clients {
  readonly rds: RDSClient;
  readonly kms: KMSClient;
  readonly targetRds: RDSClient;
  readonly targetKms: KMSClient;
  /** Source Region: the freeze security group (lambda/kms-key-change/freeze.ts). */
  readonly ec2: EC2Client;
  /** Source Region: the DatabaseConnections metric that proves the source is quiet. */
  readonly cw: CloudWatchClient;
}

const cache = new Map<string, Clients>();

/** Clients for a source and target Region, created once per process (warm Lambdas reuse them). */
export function clientsFor(region: string, targetRegion?: string): Clients {
  const key = `${region}|${targetRegion ?? region}`;
  let c = cache.get(key);
  if (!c) {
    const rds = new RDSClient({ region });
    const kms = new KMSClient({ region });
    const same = !targetRegion || targetRegion === region;
    c = {
      rds,
      kms,
      targetRds: same ? rds : new RDSClient({ region: targetRegion }),
      targetKms: same ? kms : new KMSClient({ region: targetRegion }),
      ec2: new EC2Client({ region }),
      cw: new CloudWatchClient({ region }),
    };
    cache.set(key, c);
  }
  return c;
}

/** One AWS call with backoff on throttling/5xx (on top of the SDK's own retries). */
export function call<T>(fn: () => Promise<T>): Promise<T> {
  return withRetry(fn, { attempts: 4, baseDelayMs: 200, maxDelayMs: 5000 });
}

/** True when an SDK error means "no such resource". */
export function isNotFound(err: unknown): boolean {
  const name = (err as { name?: string })?.name ?? '';
  return /NotFound/.test(name);
}

/** Runs a describe call and returns undefined when the resource does not exist. */
export async function describeOrUndefined<T>(fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call(fn);
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}
