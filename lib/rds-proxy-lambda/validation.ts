/**
 * Prop validation of {@link RdsProxyLambda}: pure functions over the props (no construct is created), so the
 * rules are unit-tested without synthesizing a stack (test/rds-proxy-lambda/validation.test.ts) and mutation
 * testing can cover them cheaply. The construct calls {@link validateProps} first thing in its constructor.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import { timeoutBudget } from './budget';
import type { RdsProxyLambdaClusterProps, RdsProxyLambdaProps } from './rds-proxy-lambda';

/** A PostgreSQL role name the bootstrap creates: lower-case identifier, at most 63 bytes. */
export const APP_USER_RE = /^[a-z_][a-z0-9_]{0,62}$/;
/** A database name: identifier, at most 63 bytes. */
export const DB_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
/**
 * An Aurora DB cluster identifier: 1–63 letters, digits or hyphens, starting with a letter, no two consecutive
 * hyphens, not ending with a hyphen (lower case: RDS stores it that way).
 * https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html (DBClusterIdentifier)
 */
export function isClusterIdentifier(id: string): boolean {
  return /^[a-z][a-z0-9-]{0,62}$/.test(id) && !id.includes('--') && !id.endsWith('-');
}

/** The timeout budget's input from the props (unresolved durations fall back to their defaults). */
export function budgetInput(props: RdsProxyLambdaProps) {
  const ms = (d: Duration | undefined) => (d && !d.isUnresolved() ? d.toMilliseconds() : undefined);
  return {
    functionTimeoutMs: ms(props.functionTimeout) ?? 15_000,
    borrowTimeoutMs: ms(props.borrowTimeout),
    statementTimeoutMs: ms(props.statementTimeout),
    idleInTransactionTimeoutMs: ms(props.idleInTransactionSessionTimeout),
  };
}

/**
 * Every problem with the props, in a fixed order (empty when they are fine). Values that are unresolved
 * tokens are skipped: they are known only at deploy time.
 */
export function propProblems(props: RdsProxyLambdaProps): string[] {
  const problems: string[] = [];
  const known = (v: unknown) => v !== undefined && !Token.isUnresolved(v);
  if (props.existingCluster && props.clusterProps) {
    problems.push('pass either existingCluster or clusterProps, not both');
  }
  if (props.existingCluster && !props.existingMasterSecret) {
    problems.push('existingCluster needs existingMasterSecret (used once at deploy time to create the application role)');
  }
  if (!props.existingCluster && (props.existingMasterSecret || props.existingDatabaseName)) {
    problems.push('existingMasterSecret and existingDatabaseName apply only with existingCluster');
  }
  if (props.secretsManagerEndpoint && !props.existingVpc) {
    problems.push('secretsManagerEndpoint applies only with existingVpc (the kit VPC has its own endpoint)');
  }
  if (
    props.existingVpc &&
    !props.vpcSubnets &&
    props.existingVpc.isolatedSubnets.length === 0 &&
    props.existingVpc.privateSubnets.length === 0
  ) {
    problems.push(
      'existingVpc has no private subnets (isolated or with egress), only public ones: Aurora, RDS Proxy and the functions belong in private subnets ' +
        '(a Lambda in a public subnet gets no public IP and no route to Secrets Manager). Add private subnets in two AZs, or pass vpcSubnets explicitly.',
    );
  }
  if (props.existingVpc && (props.vpcCidr || props.availabilityZones)) {
    problems.push('vpcCidr and availabilityZones configure the new VPC; do not pass them with existingVpc');
  }
  if (known(props.vpcCidr) && !/^(\d{1,3}\.){3}\d{1,3}\/(1[6-9]|2[0-4])$/.test(props.vpcCidr!)) {
    problems.push(`vpcCidr "${props.vpcCidr}" must be an IPv4 CIDR with a prefix from /16 to /24`);
  }
  if (props.availabilityZones && props.availabilityZones.length < 2) {
    problems.push('availabilityZones needs at least two zones (Aurora and RDS Proxy need subnets in two AZs)');
  }
  const cp = props.clusterProps;
  if (cp?.instances && cp.instances.readers && cp.instances.readers.length > 0 && !cp.instances.writer) {
    problems.push('clusterProps.instances has readers but no writer: give instances.writer (or omit instances for the default writer)');
  }
  if (known(cp?.serverlessV2MinCapacity) && (cp!.serverlessV2MinCapacity! < 0 || cp!.serverlessV2MinCapacity! > 256 || (cp!.serverlessV2MinCapacity! * 2) % 1 !== 0)) {
    problems.push(`clusterProps.serverlessV2MinCapacity ${cp!.serverlessV2MinCapacity} must be 0–256 in steps of 0.5`);
  }
  if (known(cp?.serverlessV2MaxCapacity) && (cp!.serverlessV2MaxCapacity! < 1 || cp!.serverlessV2MaxCapacity! > 256 || (cp!.serverlessV2MaxCapacity! * 2) % 1 !== 0)) {
    problems.push(`clusterProps.serverlessV2MaxCapacity ${cp!.serverlessV2MaxCapacity} must be 1–256 in steps of 0.5`);
  }
  if (known(cp?.serverlessV2MinCapacity) && known(cp?.serverlessV2MaxCapacity) && cp!.serverlessV2MinCapacity! > cp!.serverlessV2MaxCapacity!) {
    problems.push('clusterProps.serverlessV2MinCapacity is above serverlessV2MaxCapacity');
  }
  const dbName = props.existingDatabaseName ?? cp?.databaseName;
  if (known(dbName) && !DB_NAME_RE.test(dbName!)) {
    problems.push(`database name "${dbName}" must start with a letter or _ and contain only letters, digits and _ (max 63)`);
  }
  const backupDays = cp?.backupRetention && !cp.backupRetention.isUnresolved() ? cp.backupRetention.toDays({ integral: false }) : undefined;
  if (backupDays !== undefined && (!Number.isInteger(backupDays) || backupDays < 1 || backupDays > 35)) {
    problems.push(`clusterProps.backupRetention must be 1–35 whole days (BackupRetentionPeriod), got ${cp!.backupRetention!.toHumanString()}`);
  }
  // Enhanced Monitoring intervals RDS accepts: https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html (MonitoringInterval)
  const monitoring = cp?.monitoringInterval && !cp.monitoringInterval.isUnresolved() ? cp.monitoringInterval.toSeconds({ integral: false }) : undefined;
  if (monitoring !== undefined && ![0, 1, 5, 10, 15, 30, 60].includes(monitoring)) {
    problems.push(`clusterProps.monitoringInterval must be 0, 1, 5, 10, 15, 30 or 60 seconds, got ${monitoring}`);
  }
  if (known(cp?.masterUsername) && known(props.appUsername ?? 'app_user') && cp!.masterUsername === (props.appUsername ?? 'app_user')) {
    problems.push(`clusterProps.masterUsername and appUsername must differ (both "${cp!.masterUsername}")`);
  }
  if (known(props.appUsername) && (!APP_USER_RE.test(props.appUsername!) || ['postgres', 'rdsadmin', 'admin'].includes(props.appUsername!))) {
    problems.push(`appUsername "${props.appUsername}" must be a lower-case PostgreSQL identifier (max 63) and not a master/admin name`);
  }
  if (props.credentialMode !== undefined && !['iam', 'secret'].includes(props.credentialMode)) {
    problems.push(`credentialMode must be "iam" or "secret", got "${props.credentialMode}"`);
  }
  // Not whole seconds: statementTimeout and idleInTransactionSessionTimeout may be given in milliseconds.
  const seconds = (d: Duration | undefined) => (d && !d.isUnresolved() ? d.toSeconds({ integral: false }) : undefined);
  // Whole seconds in CloudFormation (Lambda Timeout, RDS Proxy ConnectionBorrowTimeout and IdleClientTimeout);
  // aws-cdk-lib's toSeconds() would throw on a fraction without naming the prop.
  // https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-lambda-function.html#cfn-lambda-function-timeout
  // https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-rds-dbproxy.html#cfn-rds-dbproxy-idleclienttimeout
  for (const [name, d] of [['functionTimeout', props.functionTimeout], ['borrowTimeout', props.borrowTimeout], ['idleClientTimeout', props.idleClientTimeout]] as const) {
    const v = seconds(d);
    if (v !== undefined && !Number.isInteger(v)) problems.push(`${name} must be whole seconds, got ${v}`);
  }
  const borrow = seconds(props.borrowTimeout);
  if (borrow !== undefined && (borrow < 1 || borrow > 3600)) {
    problems.push(`borrowTimeout must be 1–3600 seconds (RDS Proxy ConnectionBorrowTimeout), got ${borrow}`);
  }
  const fnTimeout = seconds(props.functionTimeout);
  if (fnTimeout !== undefined && (fnTimeout < 1 || fnTimeout > 900)) {
    problems.push(`functionTimeout must be 1–900 seconds, got ${fnTimeout}`);
  }
  const stmt = seconds(props.statementTimeout);
  if (stmt !== undefined && (stmt < 0.1 || stmt > 3600)) {
    problems.push(`statementTimeout must be 100 ms to 1 hour, got ${stmt} s`);
  }
  const idleTx = seconds(props.idleInTransactionSessionTimeout);
  if (idleTx !== undefined && (idleTx < 0.1 || idleTx > 3600)) {
    problems.push(`idleInTransactionSessionTimeout must be 100 ms to 1 hour, got ${idleTx} s`);
  }
  if ((borrow === undefined || (borrow >= 1 && borrow <= 3600)) && (fnTimeout === undefined || (fnTimeout >= 1 && fnTimeout <= 900))) {
    problems.push(...timeoutBudget(budgetInput(props)).problems);
  }
  const cid = cp?.clusterIdentifier;
  if (known(cid) && !isClusterIdentifier(cid!)) {
    problems.push(`clusterProps.clusterIdentifier "${cid}" must be 1–63 lower-case letters, digits and single hyphens, starting with a letter`);
  }
  const idle = seconds(props.idleClientTimeout);
  if (idle !== undefined && (idle < 1 || idle > 28800)) {
    problems.push(`idleClientTimeout must be 1 second to 8 hours, got ${idle} s`);
  }
  const maxPct = props.maxConnectionsPercent;
  if (known(maxPct) && (!Number.isInteger(maxPct) || maxPct! < 1 || maxPct! > 100)) {
    problems.push(`maxConnectionsPercent must be an integer 1–100, got ${maxPct}`);
  }
  const idlePct = props.maxIdleConnectionsPercent;
  if (known(idlePct) && (!Number.isInteger(idlePct) || idlePct! < 0 || idlePct! > (maxPct ?? 90))) {
    problems.push(`maxIdleConnectionsPercent must be an integer 0–maxConnectionsPercent (${maxPct ?? 90}), got ${idlePct}`);
  }
  const rot = props.rotationInterval;
  if (rot && !rot.isUnresolved() && (rot.toDays({ integral: false }) < 1 || rot.toDays({ integral: false }) > 1000)) {
    problems.push(`rotationInterval must be 1–1000 days, got ${rot.toHumanString()}`);
  }
  const rc = props.reservedConcurrency;
  if (rc !== undefined && rc !== false && known(rc) && (!Number.isInteger(rc) || rc < 1)) {
    problems.push(`reservedConcurrency must be a positive integer or false, got ${rc}`);
  }
  const mdc = props.maxDatabaseConnections;
  if (known(mdc) && (!Number.isInteger(mdc) || mdc! < 1 || mdc! > 262_143)) {
    problems.push(`maxDatabaseConnections must be an integer 1–262143, got ${mdc}`);
  }
  if (known(props.functionMemoryMb) && (props.functionMemoryMb! < 128 || props.functionMemoryMb! > 10240)) {
    problems.push(`functionMemoryMb must be 128–10240, got ${props.functionMemoryMb}`);
  }
  if (props.runtimeCodeDir !== undefined && !fs.existsSync(path.join(props.runtimeCodeDir, 'index.ts'))) {
    problems.push(`runtimeCodeDir "${props.runtimeCodeDir}" has no index.ts: point it at your copy of lambda/rds-proxy-query/`);
  }
  problems.push(...lifecycleProblems(cp));
  return problems;
}

/**
 * Deletion protection and the removal policy of the new cluster (DESIGN.md "Lifecycle"). CloudFormation cannot
 * delete a cluster with deletion protection on: with any policy that deletes (SNAPSHOT or DESTROY), a first
 * deploy that fails rolls back into ROLLBACK_FAILED and a destroy ends DELETE_FAILED. Only RETAIN never asks
 * RDS to delete it.
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-deletionpolicy.html
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-rds-dbcluster.html#cfn-rds-dbcluster-deletionprotection
 */
export function lifecycleProblems(cp: RdsProxyLambdaClusterProps | undefined): string[] {
  const policy = cp?.removalPolicy ?? RemovalPolicy.RETAIN;
  if (policy === RemovalPolicy.RETAIN || cp?.deletionProtection === false) return [];
  return [
    `clusterProps.removalPolicy ${policy} with deletion protection ${cp?.deletionProtection === true ? 'on' : 'on (the default)'}: CloudFormation cannot delete a protected cluster, ` +
      'so a failed first deploy ends ROLLBACK_FAILED and a destroy DELETE_FAILED. Either keep removalPolicy RETAIN (the default: the cluster and what it needs stay after a destroy), ' +
      'or set clusterProps.deletionProtection: false explicitly to let CloudFormation snapshot/delete it',
  ];
}

/** Throws once with every problem, naming the construct path. */
export function validateProps(constructPath: string, props: RdsProxyLambdaProps): void {
  const problems = propProblems(props);
  if (problems.length > 0) {
    throw new Error(`[${constructPath}] invalid RdsProxyLambda props:\n  - ${problems.join('\n  - ')}`);
  }
}

