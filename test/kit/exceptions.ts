/**
 * The ONE exceptions file of the kit-wide checks (test/kit/*.test.ts): every finding of the lifecycle,
 * IAM coverage, alarm delivery and Control Tower checks that is not fixed is listed here, per check,
 * rule and resource (`StackName/LogicalId`, the same in every prop variant).
 *
 * Two kinds of entry:
 * - `reason`: accepted for good, with a reason a reviewer accepts (what the control protects against
 *   and why this resource does not need it, or what compensates).
 * - `pending: '<pattern>'` with `finding`: a real problem a pattern still has to fix in lib/ or lambda/.
 *   The lead fixes it after merging the pattern branches and deletes the line; the test then keeps
 *   passing (an entry whose finding is gone fails the test as stale, so the line MUST be deleted).
 *
 * A finding with no entry fails its test, and so does an entry with no finding.
 */
export type KitException =
  | { check: string; rule: string; resource: string; reason: string }
  | { check: string; rule: string; resource: string; pending: 'rds-proxy-lambda' | 'kms-key-change' | 'dsql-bridge' | 'ad-trust' | 'bin'; finding: string };

export const EXCEPTIONS: KitException[] = [
];
