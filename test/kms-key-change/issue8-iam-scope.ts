/**
 * The rule of issue 8 for the Steps role of pattern 2: every RDS write on an RDS resource (a database,
 * cluster, snapshot, cluster snapshot, cluster endpoint or blue/green deployment) is allowed only on
 * resources that carry this run's tag (`aws:ResourceTag/db-ops-kit:rekey-source` = the source id) or,
 * for creates, only when the request carries it (`aws:RequestTag/...`). Parameter, option, subnet and
 * DB security groups are exempt: restores and modifies only attach them.
 *
 * One statement is exempt by name, with its reason: blue/green's dependent actions (RDS creates and
 * promotes the green resources with the caller's permissions; they carry no tag of the run when they
 * are authorized, and the user guide allows only `*` for them).
 */
import { render, Statement } from '../kit/iam';
import { RUN_SOURCE_TAG } from '../../lambda/kms-key-change/workflow';

export const TAG_SCOPE_EXEMPT: Record<string, string> = {
  BlueGreenDependentActions: 'RDS authorizes the green environment\'s creation/promotion with the caller\'s permissions; the green resources are named by RDS and carry no run tag when authorized',
};

const READ = /^rds:(Describe|List|Download)/;
const DATA_RESOURCE = /:rds:[^:]*:[^:]*:(db|cluster|snapshot|cluster-snapshot|cluster-endpoint|deployment):/;

export interface ScopeFinding {
  readonly sid?: string;
  readonly actions: string[];
  readonly resources: string[];
}

/** Allow statements with an RDS write on an RDS data resource and no run-tag condition for `sourceId`. */
export function untaggedRdsWrites(statements: Statement[], sourceId: string): ScopeFinding[] {
  const out: ScopeFinding[] = [];
  for (const st of statements) {
    if (st.Effect !== 'Allow' || (st.Sid && TAG_SCOPE_EXEMPT[st.Sid])) continue;
    const writes = st.Action.filter((a) => a.startsWith('rds:') && !READ.test(a));
    if (writes.length === 0) continue;
    const data = st.Resource.filter((r) => r === '*' || DATA_RESOURCE.test(r));
    if (data.length === 0) continue;
    const eq = (st.Condition?.StringEquals ?? {}) as Record<string, unknown>;
    const scoped = [`aws:ResourceTag/${RUN_SOURCE_TAG}`, `aws:RequestTag/${RUN_SOURCE_TAG}`].some((k) => eq[k] !== undefined && render(eq[k]) === sourceId);
    if (!scoped) out.push({ sid: st.Sid, actions: writes, resources: data });
  }
  return out;
}
