import * as fs from 'fs';
import * as path from 'path';
import { ArnFormat, Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { BLUE_GREEN_PHASES, CUTOVER_PHASES, FINALIZE_PHASE, LOCK_TAG, Phase, POLL_STEPS, ROLLBACK_PHASES, RUN_SOURCE_TAG, SNAPSHOT_PHASES, StepName } from '../../lambda/kms-key-change/workflow';

export type KeyChangeMethod = 'snapshot' | 'blue-green';

/** Props of {@link KmsKeyChangeWorkflow}. */
export interface KmsKeyChangeWorkflowProps {
  /** The RDS DB instance to re-key. Exactly one of this and `dbClusterIdentifier`. @default - none; pass `dbClusterIdentifier` */
  readonly dbInstanceIdentifier?: string;
  /** The Aurora DB cluster to re-key. Exactly one of this and `dbInstanceIdentifier`. @default - none; pass `dbInstanceIdentifier` */
  readonly dbClusterIdentifier?: string;
  /** The KMS key the database is encrypted with today (the snapshot and its copy need it). */
  readonly sourceKey: kms.IKey;
  /** The KMS key to move the database to; in `targetRegion` when that is set. */
  readonly targetKey: kms.IKey;
  /** @default 'snapshot' - snapshot, copy with the target key, restore, verify, rename-based cutover */
  readonly method?: KeyChangeMethod;
  /** Restore the re-keyed copy in another Region. @default - the stack's Region (rename-based cutover available) */
  readonly targetRegion?: string;
  /** Share the re-keyed snapshot with this account and stop. @default - no sharing; restore in this account */
  readonly shareWithAccount?: string;
  /** Security groups for a cross-Region restore. @default - none; required when `targetRegion` is set and the source has security groups */
  readonly targetSecurityGroupIds?: string[];
  /**
   * Roles RDS must be handed on the new resource: the enhanced-monitoring role and the source's
   * associated IAM roles (iam:PassRole is granted on exactly these).
   * @default - none; a source that uses enhanced monitoring or IAM roles fails at ApplySettings with an AccessDenied error naming the role
   */
  readonly passRoles?: iam.IRole[];
  /** First pause between status checks; it doubles after every check that is not done yet, up to `maxPollInterval`. @default Duration.minutes(1) */
  readonly pollInterval?: Duration;
  /**
   * Longest pause between status checks. Bounds the execution history (25,000 events per execution,
   * 9 per poll): a 64 TiB cross-Region copy at the plan's throughput stays near 17,000 events.
   * @default Duration.hours(1)
   */
  readonly maxPollInterval?: Duration;
  /** How long each approval gate waits for `SendTaskSuccess` before failing the run. @default Duration.days(7) */
  readonly approvalTimeout?: Duration;
  /**
   * The one principal (IAM role or user ARN) that approves the gates: grant it (and only it) with
   * `grantApprove`; a gate passes only on `{"approved": true, "approver": "<this ARN>"}`, and the
   * cutover records the approver and time in the run state (`approvedBy`).
   * @default - no named approver: anyone granted with `grantApprove` may answer a gate, and the run state records none
   */
  readonly approverArn?: string;
  /**
   * Execution timeout. Must leave room for both approval gates; the default fits the plan's
   * estimate for a 64 TiB cross-Region copy (about 76 days) plus two 7-day gates.
   * @default Duration.days(120)
   */
  readonly executionTimeout?: Duration;
  /**
   * Key for the notification topics, the log groups and the notification dead-letter queue. A key
   * you pass must let events.amazonaws.com and logs.<region>.amazonaws.com use it.
   * @default - a new customer managed key with rotation
   */
  readonly notificationKey?: kms.IKey;
  /** Retention of the workflow and function logs. @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Folder holding the runtime code (`handler.ts`, ... of `lambda/kms-key-change/`), for apps that keep
   * Lambda code elsewhere; `lambda/shared/` must sit next to it (`<dir>/../shared`). This file also imports
   * `../../lambda/kms-key-change/workflow`: change that import if you move the folder.
   * @default - `lambda/kms-key-change` two folders up from this file (the kit's layout)
   */
  readonly runtimeCodeDir?: string;
}

const ID_RE = /^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,62}$/;
const REGION_RE = /^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/;

/**
 * A Step Functions workflow that moves one RDS DB instance or Aurora DB cluster to a new KMS key:
 * preflight, snapshot, copy with the target key, restore, re-apply settings, verify (parity
 * report), then, only when the execution input says `{"cutover": true}` and an operator approves
 * through the task token published to `approvalTopic`, a rename-based cutover (or a blue/green
 * switchover). Nothing is deleted; failures are published to `failureTopic`.
 */
export class KmsKeyChangeWorkflow extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  /** The Lambda function that runs every step that writes (start steps, and the two checks that write). */
  public readonly stepFunction: NodejsFunction;
  /**
   * The Lambda function that runs the read-only checks (workflow.ts POLL_STEPS), on a role with only
   * read permissions: a role that only polls cannot write.
   */
  public readonly pollFunction: NodejsFunction;
  /** Receives the approval request with the task token before cutover. */
  public readonly approvalTopic: sns.Topic;
  /** Receives a message (EventBridge rule) when an execution fails, times out or is aborted, and when parity is not clean. */
  public readonly failureTopic: sns.Topic;
  /** The EventBridge rule that publishes failed executions to `failureTopic`. */
  public readonly failureRule: events.Rule;
  public readonly notificationKey: kms.IKey;
  public readonly logGroup: logs.LogGroup;
  public readonly sourceId: string;
  public readonly kind: 'instance' | 'cluster';
  public readonly method: KeyChangeMethod;

  constructor(scope: Construct, id: string, props: KmsKeyChangeWorkflowProps) {
    super(scope, id);
    const problems: string[] = [];
    const has = (v?: string) => v !== undefined && v !== '';
    if (has(props.dbInstanceIdentifier) === has(props.dbClusterIdentifier)) problems.push('pass exactly one of dbInstanceIdentifier and dbClusterIdentifier');
    // RDS stores identifiers in lower case ("stored as a lowercase string",
    // https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html), so the ARN of
    // "Orders" is ...:db:orders; IAM matches Resource ARNs case-sensitively
    // (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html). The
    // IAM scope, the run tag value and the function's environment all use the identifier as RDS reports it.
    const rawId = (props.dbInstanceIdentifier || props.dbClusterIdentifier) ?? '';
    const sourceId = Token.isUnresolved(rawId) ? rawId : rawId.toLowerCase();
    if (sourceId && !Token.isUnresolved(sourceId) && (!ID_RE.test(sourceId) || sourceId.endsWith('-') || sourceId.length > 38)) {
      problems.push(`"${sourceId}" is not an RDS identifier of at most 38 characters (cutover renames it to <id>-pre-rekey-<14-digit time>, and RDS identifiers end at 63)`);
    }
    const method = props.method ?? 'snapshot';
    if (method !== 'snapshot' && method !== 'blue-green') problems.push(`method must be 'snapshot' or 'blue-green', got '${method}'`);
    if (props.targetRegion !== undefined && !Token.isUnresolved(props.targetRegion) && !REGION_RE.test(props.targetRegion)) problems.push(`targetRegion "${props.targetRegion}" is not a Region name`);
    if (props.shareWithAccount !== undefined && !Token.isUnresolved(props.shareWithAccount) && !/^\d{12}$/.test(props.shareWithAccount)) problems.push('shareWithAccount must be a 12-digit account id');
    if (method === 'blue-green' && (props.targetRegion || props.shareWithAccount)) problems.push('blue-green works within one Region and account; remove targetRegion/shareWithAccount or use method snapshot');
    if (props.targetSecurityGroupIds?.length && !props.targetRegion) problems.push('targetSecurityGroupIds applies only with targetRegion');
    if (props.pollInterval && !props.pollInterval.isUnresolved() && (props.pollInterval.toSeconds() < 5 || props.pollInterval.toSeconds() > 3600)) problems.push('pollInterval must be between 5 seconds and 1 hour');
    const pollS = props.pollInterval?.toSeconds() ?? 60;
    const maxPollS = props.maxPollInterval?.toSeconds() ?? 3600;
    if (maxPollS < pollS || maxPollS > 24 * 3600) problems.push('maxPollInterval must be at least pollInterval and at most 1 day');
    const gateS = (props.approvalTimeout ?? Duration.days(7)).toSeconds();
    const execS = (props.executionTimeout ?? Duration.days(120)).toSeconds();
    // Standard workflows run at most one year (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html).
    if (execS > 365 * 24 * 3600) problems.push('executionTimeout must be at most 365 days (Step Functions Standard workflows run at most one year)');
    if (2 * gateS >= execS) problems.push(`the two approval gates (2 x approvalTimeout = ${(2 * gateS) / 86400} days) must fit inside executionTimeout (${execS / 86400} days) with room for the copy`);
    const targetKeyRegion = Token.isUnresolved(props.targetKey.keyArn) ? undefined : props.targetKey.keyArn.split(':')[3];
    const stack = Stack.of(this);
    const region = stack.region;
    const targetRegion = props.targetRegion ?? region;
    if (targetKeyRegion && !Token.isUnresolved(targetRegion) && targetKeyRegion !== targetRegion) problems.push(`targetKey is in ${targetKeyRegion} but the copy is restored in ${targetRegion}`);
    const runtimeCodeDir = path.resolve(props.runtimeCodeDir ?? path.join(__dirname, '../../lambda/kms-key-change'));
    if (props.runtimeCodeDir !== undefined && !fs.existsSync(path.join(runtimeCodeDir, 'handler.ts'))) problems.push(`runtimeCodeDir "${props.runtimeCodeDir}" has no handler.ts: point it at your copy of lambda/kms-key-change/`);
    if (problems.length > 0) throw new Error(`${this.node.path}: invalid KmsKeyChangeWorkflow props:\n  - ${problems.join('\n  - ')}`);

    this.sourceId = sourceId;
    this.kind = props.dbInstanceIdentifier ? 'instance' : 'cluster';
    this.method = method;
    const crossRegion = !!props.targetRegion && props.targetRegion !== region;
    const retention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;

    this.notificationKey =
      props.notificationKey ??
      new kms.Key(this, 'NotificationKey', {
        description: `db-ops-kit KMS key change for ${sourceId}: topics and logs`,
        enableKeyRotation: true,
        removalPolicy: RemovalPolicy.RETAIN,
      });
    if (!props.notificationKey) {
      (this.notificationKey as kms.Key).grantEncryptDecrypt(new iam.ServicePrincipal(`logs.${region}.amazonaws.com`));
      // Control Tower CT.KMS.PR.3: grants on the key only for AWS resources. SNS, SQS, CloudWatch Logs and
      // EventBridge use the key policy, not grants; nothing in the workflow calls kms:CreateGrant itself.
      // https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-grant-is-for-aws-resource
      // https://docs.aws.amazon.com/controltower/latest/controlreference/kms-rules.html
      (this.notificationKey as kms.Key).addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'DenyGrantsExceptForAwsResources',
          effect: iam.Effect.DENY,
          principals: [new iam.AnyPrincipal()],
          actions: ['kms:CreateGrant'],
          resources: ['*'],
          conditions: { BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' } },
        }),
      );
    }
    this.approvalTopic = new sns.Topic(this, 'ApprovalTopic', { masterKey: this.notificationKey, enforceSSL: true, displayName: `Approve KMS key change cutover of ${sourceId}` });
    this.failureTopic = new sns.Topic(this, 'FailureTopic', { masterKey: this.notificationKey, enforceSSL: true, displayName: `KMS key change of ${sourceId} failed` });

    const fnLogs = new logs.LogGroup(this, 'StepFunctionLogs', { retention, encryptionKey: this.notificationKey, removalPolicy: RemovalPolicy.RETAIN });
    // Own role instead of AWSLambdaBasicExecutionRole: logs only to this function's log group.
    const fnRole = new iam.Role(this, 'StepsRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `db-ops-kit KMS key change steps for ${sourceId}`,
    });
    fnRole.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'WriteOwnLogs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [fnLogs.logGroupArn, `${fnLogs.logGroupArn}:log-stream:*`] }));
    const stepEnvironment: Record<string, string> = {
      REKEY_KIND: this.kind,
      REKEY_SOURCE_ID: sourceId,
      REKEY_TARGET_KEY_ARN: props.targetKey.keyArn,
      REKEY_METHOD: method,
      REKEY_TARGET_REGION: crossRegion ? props.targetRegion! : '',
      REKEY_SHARE_WITH_ACCOUNT: props.shareWithAccount ?? '',
      REKEY_TARGET_SECURITY_GROUP_IDS: (props.targetSecurityGroupIds ?? []).join(','),
      REKEY_POLL_SECONDS: String(pollS),
      REKEY_MAX_POLL_SECONDS: String(maxPollS),
      POWERTOOLS_SERVICE_NAME: 'kms-key-change',
    };
    this.stepFunction = new NodejsFunction(this, 'Steps', {
      entry: path.join(runtimeCodeDir, 'handler.ts'),
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 512,
      timeout: Duration.minutes(2),
      tracing: lambda.Tracing.ACTIVE,
      logGroup: fnLogs,
      role: fnRole,
      loggingFormat: lambda.LoggingFormat.JSON,
      description: `db-ops-kit: steps of the KMS key change of ${sourceId}`,
      environment: stepEnvironment,
      // The RDS/KMS clients are bundled at the versions the tests ran against. The runtime's own SDK copy lags
      // behind npm, and an SDK v3 client silently drops request members it does not know (a blue/green
      // TargetResourceConfigurations[].TargetKmsKeyId sent by an older client would be lost).
      bundling: { minify: true, sourceMap: true, externalModules: [], format: OutputFormat.CJS },
    });
    this.grantStepPermissions(props, targetRegion, crossRegion);

    // The read-only checks run on their own function and role (DESIGN.md, Lifecycle: a role that only
    // polls cannot write). Its bundle is poll-handler.ts, whose module graph imports no AWS write.
    const pollLogs = new logs.LogGroup(this, 'PollFunctionLogs', { retention, encryptionKey: this.notificationKey, removalPolicy: RemovalPolicy.RETAIN });
    const pollRole = new iam.Role(this, 'PollRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `db-ops-kit KMS key change status checks for ${sourceId} (read-only)`,
    });
    pollRole.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'WriteOwnLogs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [pollLogs.logGroupArn, `${pollLogs.logGroupArn}:log-stream:*`] }));
    const pollReads = [
      'rds:DescribeDBInstances', 'rds:DescribeDBClusters', 'rds:DescribeDBSnapshots', 'rds:DescribeDBClusterSnapshots', 'rds:DescribeBlueGreenDeployments', 'rds:DescribeDBSubnetGroups',
      ...(method === 'snapshot' && !crossRegion && !props.shareWithAccount ? ['ec2:DescribeSecurityGroups', 'cloudwatch:GetMetricStatistics'] : []),
    ];
    pollRole.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'ReadOnlyStatus', actions: pollReads, resources: ['*'] }));
    this.pollFunction = new NodejsFunction(this, 'Poll', {
      entry: path.join(runtimeCodeDir, 'poll-handler.ts'),
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.minutes(1),
      tracing: lambda.Tracing.ACTIVE,
      logGroup: pollLogs,
      role: pollRole,
      loggingFormat: lambda.LoggingFormat.JSON,
      description: `db-ops-kit: read-only status checks of the KMS key change of ${sourceId}`,
      environment: { ...stepEnvironment },
      bundling: { minify: true, sourceMap: true, externalModules: [], format: OutputFormat.CJS },
    });

    // ---- the state machine
    // Failures are not caught: a failed step fails the execution *at that step*, so
    // `aws stepfunctions redrive-execution` resumes exactly there (every step is idempotent).
    // An EventBridge rule publishes FAILED / TIMED_OUT / ABORTED executions to the failure topic.

    const task = (step: StepName, label: string, withApproval = false): tasks.LambdaInvoke => {
      const t = new tasks.LambdaInvoke(this, label, {
        lambdaFunction: POLL_STEPS.includes(step) ? this.pollFunction : this.stepFunction,
        payload:
          step === 'preflight'
            ? sfn.TaskInput.fromObject({ step, input: sfn.JsonPath.entirePayload })
            : step === 'rollbackRenameNew'
              ? // The rollback's first step sees the execution input: {"rollbackWritesSinceCutoverStayInCopy": true} confirms a rollback that strands writes.
                sfn.TaskInput.fromObject({ step, state: sfn.JsonPath.objectAt('$.state'), input: sfn.JsonPath.entirePayload })
            : sfn.TaskInput.fromObject({ step, state: sfn.JsonPath.objectAt('$.state'), ...(withApproval ? { approval: sfn.JsonPath.objectAt('$.approval') } : {}) }),
        payloadResponseOnly: true,
        retryOnServiceExceptions: false,
        // No ResultPath: the default ("$") replaces the input with the function's { state, done, message }.
        comment: `step ${step}`,
      });
      t.addRetry({
        errors: ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException', 'ThrottlingException', 'Throttling', 'TooManyRequestsException'],
        interval: Duration.seconds(5),
        backoffRate: 2,
        maxAttempts: 6,
        jitterStrategy: sfn.JitterType.FULL,
      });
      return t;
    };

    /** start task, then Wait → check → Choice(done) polling; returns [first, last-as-chainable]. */
    const phase = (p: Phase): { first: sfn.IChainable; connect: (next: sfn.IChainable) => void } => {
      // The first cutover step carries the gate's answer, so the run state records who approved.
      const start = task(p.start, p.name, !!props.approverArn && (p.start === 'renameSource' || p.start === 'switchover'));
      if (!p.check) return { first: start, connect: (next) => start.next(next) };
      // The pause comes from the step's output: pollInterval doubled per unfinished check, capped.
      const wait = new sfn.Wait(this, `${p.name}Wait`, { time: sfn.WaitTime.secondsPath('$.waitSeconds') });
      const check = task(p.check, `${p.name}Check`);
      const done = new sfn.Choice(this, `${p.name}Done?`);
      start.next(wait);
      wait.next(check);
      check.next(done);
      return { first: start, connect: (next) => done.when(sfn.Condition.booleanEquals('$.done', true), next).otherwise(wait) };
    };
    const chain = (phases: readonly Phase[], end: sfn.IChainable): sfn.IChainable => {
      let next = end;
      for (let i = phases.length - 1; i >= 0; i--) {
        const ph = phase(phases[i]);
        ph.connect(next);
        next = ph.first;
      }
      return next;
    };

    const finalizeTask = task(FINALIZE_PHASE.start, FINALIZE_PHASE.name);
    finalizeTask.next(new sfn.Succeed(this, 'Done'));
    let definition: sfn.IChainable;
    const preflight = task('preflight', 'Preflight');
    if (props.shareWithAccount) {
      const phases = SNAPSHOT_PHASES.slice(0, SNAPSHOT_PHASES.findIndex((p) => p.start === 'shareSnapshot') + 1).filter((p) => p.start !== 'freezeSource');
      preflight.next(chain(phases, finalizeTask));
      definition = preflight;
    } else {
      const methodPhases = (method === 'snapshot' ? SNAPSHOT_PHASES.filter((p) => p.start !== 'shareSnapshot' && (p.start !== 'freezeSource' || !crossRegion)) : BLUE_GREEN_PHASES).filter((p) => p.start !== 'verify');
      const verify = task('verify', 'Verify');
      const parityClean = new sfn.Choice(this, 'ParityClean?');
      const notifyParity = new tasks.SnsPublish(this, 'NotifyParityNotClean', {
        topic: this.failureTopic,
        subject: `KMS key change of ${sourceId}: parity report not clean`,
        message: sfn.TaskInput.fromObject({ database: `${this.kind} ${sourceId}`, execution: sfn.JsonPath.executionId, parity: sfn.JsonPath.objectAt('$.state.parity'), note: 'No cutover was done. Fix the differences on the new resource and resume with the CLI.' }),
        resultPath: sfn.JsonPath.DISCARD,
      });
      notifyParity.next(new sfn.Fail(this, 'ParityNotClean', { error: 'ParityNotClean', cause: 'The new resource differs from the source; see the notification' }));
      let afterVerify: sfn.IChainable = finalizeTask;
      const approvalTimeout = sfn.Timeout.duration(props.approvalTimeout ?? Duration.days(7));
      const reject = 'aws stepfunctions send-task-failure --task-token <taskToken> --error NotApproved';
      /** Proceeds only on SendTaskSuccess with {"approved": true}; any other output fails the execution. */
      const approverOk = (resultPath: string) =>
        props.approverArn ? [sfn.Condition.isPresent(`${resultPath}.approver`), sfn.Condition.stringEquals(`${resultPath}.approver`, props.approverArn)] : [];
      const approved = (id: string, resultPath: string, next: sfn.IChainable, error: string) =>
        new sfn.Choice(this, id)
          .when(sfn.Condition.and(sfn.Condition.isPresent(`${resultPath}.approved`), sfn.Condition.booleanEquals(`${resultPath}.approved`, true), ...approverOk(resultPath)), next)
          .otherwise(new sfn.Fail(this, error, { error, cause: `${error}: the operator's task output did not contain {"approved": true}; the execution stopped at this gate` }));
      if (!crossRegion) {
        const snapshotMethod = method === 'snapshot';
        // The gates tell the truth about the freeze: a run started with the opt-out
        // (noFreezeWritesAfterSnapshotAreLost) gets its own message, with what was given up.
        const optedOut = sfn.Condition.isPresent('$.state.freezeOptOut');
        const approvalGate = (noFreeze: boolean) =>
          new tasks.SnsPublish(this, noFreeze ? 'ApproveCutoverNoFreeze' : 'ApproveCutover', {
            topic: this.approvalTopic,
            subject: `Approve cutover of ${sourceId} to the new KMS key`,
            integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            message: sfn.TaskInput.fromObject({
              database: `${this.kind} ${sourceId}`,
              runId: sfn.JsonPath.stringAt('$.state.runId'),
              targetKey: sfn.JsonPath.stringAt('$.state.targetKeyArn'),
              ...(snapshotMethod ? { dataAsOf: sfn.JsonPath.stringAt('$.state.snapshotStartedAt') } : {}),
              ...(noFreeze ? { freezeOptOut: sfn.JsonPath.stringAt('$.state.freezeOptOut') } : {}),
              taskToken: sfn.JsonPath.taskToken,
              ...(props.approverArn ? { approver: props.approverArn, requiredAnswer: `{"approved":true,"approver":"${props.approverArn}"}` } : {}),
              approve: !snapshotMethod
                ? 'The green environment is verified. Approve the switchover: aws stepfunctions send-task-success --task-token <taskToken> --task-output \'{"approved":true}\''
                : noFreeze
                  ? 'The re-keyed copy is verified and holds the data as of dataAsOf. NO KIT FREEZE: this run was started with noFreezeWritesAfterSnapshotAreLost (see freezeOptOut), so the kit neither blocked clients nor checked connections, and any write that reached the source after dataAsOf is NOT in the copy and stays only in the original. Cutover renames the source to <id>-pre-rekey-<run> and the copy to <id> (about 10 minutes per rename). Approve only if no writer has been running since dataAsOf: aws stepfunctions send-task-success --task-token <taskToken> --task-output \'{"approved":true}\''
                  : 'The re-keyed copy is verified and holds the data as of dataAsOf. The kit froze the source before that snapshot (only its no-ingress security group, DatabaseConnections 0) and proves the freeze still holds before each rename. Cutover renames the source to <id>-pre-rekey-<run> and the copy to <id> (about 10 minutes per rename). Approve: aws stepfunctions send-task-success --task-token <taskToken> --task-output \'{"approved":true}\'',
              reject,
            }),
            taskTimeout: approvalTimeout,
            resultPath: '$.approval',
          });
        const approvalFrozen = approvalGate(false);
        const cutoverApproved = approved('CutoverApproved?', '$.approval', chain(CUTOVER_PHASES[method], finalizeTask), 'CutoverNotApproved');
        let approval: sfn.IChainable = approvalFrozen;
        if (snapshotMethod) {
          const approvalNoFreeze = approvalGate(true);
          approvalNoFreeze.next(cutoverApproved);
          approval = new sfn.Choice(this, 'CutoverFreezeOptedOut?').when(optedOut, approvalNoFreeze).otherwise(approvalFrozen);
        }
        approvalFrozen.next(cutoverApproved);
        afterVerify = new sfn.Choice(this, 'CutoverRequested?').when(sfn.Condition.booleanEquals('$.state.cutoverRequested', true), approval).otherwise(finalizeTask);
      }
      verify.next(parityClean.when(sfn.Condition.booleanEquals('$.state.parityClean', true), afterVerify).otherwise(notifyParity));
      const build = chain(methodPhases, verify);
      if (method === 'snapshot' && !crossRegion) {
        // A cutover run's snapshot is the data the new database gets: writes must be stopped
        // before it is taken, not at the cutover approval (by then the copy is hours old).
        const writesGate = (noFreeze: boolean) =>
          new tasks.SnsPublish(this, noFreeze ? 'ConfirmWritesStoppedNoFreeze' : 'ConfirmWritesStopped', {
            topic: this.approvalTopic,
            subject: `Stop writes to ${sourceId}: the final snapshot for the KMS key change is next`,
            integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            message: sfn.TaskInput.fromObject({
              database: `${this.kind} ${sourceId}`,
              runId: sfn.JsonPath.stringAt('$.state.runId'),
              targetKey: sfn.JsonPath.stringAt('$.state.targetKeyArn'),
              ...(noFreeze ? { freezeOptOut: sfn.JsonPath.stringAt('$.state.freezeOptOut') } : {}),
              taskToken: sfn.JsonPath.taskToken,
              ...(props.approverArn ? { approver: props.approverArn, requiredAnswer: `{"approved":true,"approver":"${props.approverArn}"}` } : {}),
              approve: noFreeze
                ? 'Preflight passed. NO KIT FREEZE: this run was started with noFreezeWritesAfterSnapshotAreLost (see freezeOptOut), so on approval the kit takes the final snapshot at once, without blocking clients or checking DatabaseConnections; any write that reaches the source after that snapshot is NOT in the new database. Stop every writer yourself (application in maintenance mode, writers disconnected) before you approve. Then: aws stepfunctions send-task-success --task-token <taskToken> --task-output \'{"approved":true}\''
                : 'Preflight passed. On approval the kit FREEZES the source: its security groups are replaced by a kit-made group with no inbound rules (clients are cut off until the cutover completes; the original stays blocked afterwards until released), and the final snapshot waits until DatabaseConnections is 0. Put the application in maintenance mode first. Then: aws stepfunctions send-task-success --task-token <taskToken> --task-output \'{"approved":true}\'',
              reject,
            }),
            taskTimeout: approvalTimeout,
            resultPath: '$.writesStopped',
          });
        const writesStoppedConfirmed = approved('WritesStoppedConfirmed?', '$.writesStopped', build, 'WritesNotConfirmedStopped');
        const confirmWritesStopped = writesGate(false);
        const confirmNoFreeze = writesGate(true);
        confirmWritesStopped.next(writesStoppedConfirmed);
        confirmNoFreeze.next(writesStoppedConfirmed);
        const writesGateChoice = new sfn.Choice(this, 'WritesFreezeOptedOut?').when(sfn.Condition.isPresent('$.state.freezeOptOut'), confirmNoFreeze).otherwise(confirmWritesStopped);
        preflight.next(new sfn.Choice(this, 'CutoverRun?').when(sfn.Condition.booleanEquals('$.state.cutoverRequested', true), writesGateChoice).otherwise(build));
      } else {
        preflight.next(build);
      }
      definition = preflight;
    }

    if (method === 'snapshot' && !crossRegion && !props.shareWithAccount) {
      // Rollback / abort path: an execution started with {"rollback": true, "state": <the failed run's
      // last state>} renames back (when a cutover started) and puts the original security groups back.
      // The function refuses a state document of another database (handler.ts).
      const rollbackFinalize = task(FINALIZE_PHASE.start, 'RollbackFinalize');
      rollbackFinalize.next(new sfn.Succeed(this, 'RolledBack'));
      definition = new sfn.Choice(this, 'RollbackRequested?')
        .when(sfn.Condition.and(sfn.Condition.isPresent('$.rollback'), sfn.Condition.booleanEquals('$.rollback', true)), chain(ROLLBACK_PHASES, rollbackFinalize))
        .otherwise(definition);
    }

    this.logGroup = new logs.LogGroup(this, 'WorkflowLogs', { retention, encryptionKey: this.notificationKey, removalPolicy: RemovalPolicy.RETAIN });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      comment: `Move ${this.kind} ${sourceId} to KMS key ${props.targetKey.keyArn} (${method})`,
      tracingEnabled: true,
      // Execution data stays out of the logs: the approval step carries a task token, and whoever
      // can read a token can approve the cutover. Each step's result is logged by the function.
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
      timeout: props.executionTimeout ?? Duration.days(120),
    });
    // Only the non-share variants publish (approval / parity notices) to the encrypted topics.
    if (!props.shareWithAccount) this.notificationKey.grant(this.stateMachine.role, 'kms:GenerateDataKey', 'kms:Decrypt');

    const failureDlq = new sqs.Queue(this, 'FailureNotificationDlq', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: this.notificationKey,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      // Only the EventBridge rule target below writes here (through the queue policy); no queue may name this
      // queue as its dead-letter queue. https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html
      redriveAllowPolicy: { redrivePermission: sqs.RedrivePermission.DENY_ALL },
    });
    this.failureRule = new events.Rule(this, 'ExecutionFailedRule', {
      description: `KMS key change of ${sourceId}: failed, timed-out or aborted executions`,
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { status: ['FAILED', 'TIMED_OUT', 'ABORTED'], stateMachineArn: [this.stateMachine.stateMachineArn] },
      },
    });
    // Confused-deputy protection: the topic policy lets events.amazonaws.com publish only for this rule in this
    // account. The SnsTopic target grants to a bare service principal, so it gets a view of the topic whose
    // grantPublish writes a conditioned topic-policy statement instead (the key grant for EventBridge is below;
    // the rule ARN in the key policy would be a cycle: key -> rule -> state machine -> its policy -> topic -> key).
    // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sns-permissions
    const rule = this.failureRule;
    const failureTopic = this.failureTopic;
    const scopedFailureTopic: sns.ITopic = Object.create(failureTopic, {
      grantPublish: {
        value: (grantee: iam.IGrantable) => {
          failureTopic.addToResourcePolicy(
            new iam.PolicyStatement({
              sid: 'FailureRulePublishes',
              principals: [grantee.grantPrincipal],
              actions: ['sns:Publish'],
              resources: [failureTopic.topicArn],
              conditions: { ArnEquals: { 'aws:SourceArn': rule.ruleArn }, StringEquals: { 'aws:SourceAccount': stack.account } },
            }),
          );
          return iam.Grant.drop(grantee, 'sns:Publish (topic policy statement FailureRulePublishes)');
        },
      },
    });
    this.failureRule.addTarget(
      new targets.SnsTopic(scopedFailureTopic, {
        deadLetterQueue: failureDlq,
        message: events.RuleTargetInput.fromObject({
          database: `${this.kind} ${sourceId}`,
          execution: events.EventField.fromPath('$.detail.executionArn'),
          status: events.EventField.fromPath('$.detail.status'),
          error: events.EventField.fromPath('$.detail.error'),
          cause: events.EventField.fromPath('$.detail.cause'),
          next: 'cause ends with what exists now (described from AWS by the failed step) and the way on: redrive the execution from the failed step (aws stepfunctions redrive-execution --execution-arn <execution>; finished steps are not re-run, every step checks before it creates, and each cutover rename first proves the write freeze held since the final snapshot), or roll back with a new execution {"rollback": true, "state": <last state>}. Nothing was deleted.',
        }),
      }),
    );
    Validations.of(failureDlq).acknowledge(
      { id: 'AwsSolutions-SQS3', reason: 'This queue is itself the dead-letter queue of the EventBridge rule target that publishes failure notifications (cdk-nag cannot see EventBridge DLQ usage).' },
      { id: 'Serverless-SQSRedrivePolicy', reason: 'This queue is the dead-letter queue of the failure-notification rule target; a DLQ of a DLQ would only move the same messages again.' },
    );
    if (!props.notificationKey) {
      // EventBridge publishes to the encrypted topic; it needs the key for that, for this account only (the rule's
      // ARN here would be a cycle: key -> rule -> state machine -> its policy -> approval topic -> key).
      // https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
      this.notificationKey.grant(
        new iam.PrincipalWithConditions(new iam.ServicePrincipal('events.amazonaws.com'), { StringEquals: { 'aws:SourceAccount': stack.account } }),
        'kms:GenerateDataKey',
        'kms:Decrypt',
      );
    }

    const fnLogicalId = stack.getLogicalId(this.stepFunction.node.defaultChild as lambda.CfnFunction);
    const smPolicy = this.stateMachine.role.node.tryFindChild('DefaultPolicy') ?? this.stateMachine.role;
    Validations.of(smPolicy).acknowledge(
      {
        id: `AwsSolutions-IAM5[Resource::<${fnLogicalId}.Arn>:*]`,
        reason: 'Step Functions may invoke the step function by version/alias (function ARN + ":*"); CDK\'s standard LambdaInvoke grant, for exactly one function.',
      },
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'X-Ray tracing (xray:PutTraceSegments, PutTelemetryRecords, GetSampling*) and CloudWatch Logs vended delivery (logs:CreateLogDelivery, ...) support no resource-level permissions.',
      },
    );
    Validations.of(smPolicy).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(this.pollFunction.node.defaultChild as lambda.CfnFunction)}.Arn>:*]`,
      reason: 'Step Functions may invoke the poll function by version/alias (function ARN + ":*"); CDK\'s standard LambdaInvoke grant, for exactly one function.',
    });
    const pollPolicy = pollRole.node.tryFindChild('DefaultPolicy') ?? pollRole;
    Validations.of(pollPolicy).acknowledge(
      {
        id: `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(pollLogs.node.defaultChild as logs.CfnLogGroup)}.Arn>:log-stream:*]`,
        reason: 'Log stream names are generated by Lambda per execution environment; the grant is limited to this function\'s own log group.',
      },
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'The poll role is read-only: rds:Describe*, ec2:DescribeSecurityGroups, cloudwatch:GetMetricStatistics and X-Ray support no resource scoping, and none of them writes.',
      },
    );
    Validations.of(this.pollFunction).acknowledge(
      { id: 'AwsSolutions-L1', reason: 'The kit standardizes on nodejs22.x (supported until 2027-04-30) for every function so the patterns share one tested runtime; raise it together with the rest of the kit.' },
      { id: 'Serverless-LambdaLatestVersion', reason: 'The kit standardizes on nodejs22.x (supported until 2027-04-30) for every function so the patterns share one tested runtime.' },
      { id: 'Serverless-LambdaDLQ', reason: 'Only Step Functions invokes this function, synchronously (RequestResponse); a failed invocation is retried by the state machine, then fails the execution, which an EventBridge rule publishes to the failure topic.' },
    );
    const fnPolicy = fnRole.node.tryFindChild('DefaultPolicy') ?? fnRole;
    Validations.of(fnPolicy).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(fnLogs.node.defaultChild as logs.CfnLogGroup)}.Arn>:log-stream:*]`,
      reason: 'Log stream names are generated by Lambda per execution environment; the grant is limited to this function\'s own log group.',
    });
    Validations.of(this.stepFunction).acknowledge(
      {
        id: 'AwsSolutions-L1',
        reason: 'The kit standardizes on nodejs22.x (supported until 2027-04-30) for every function so the patterns share one tested runtime; raise it together with the rest of the kit.',
      },
      {
        id: 'Serverless-LambdaLatestVersion',
        reason: 'The kit standardizes on nodejs22.x (supported until 2027-04-30) for every function so the patterns share one tested runtime.',
      },
      {
        id: 'Serverless-LambdaDLQ',
        reason: 'Only Step Functions invokes this function, synchronously (RequestResponse); a failed invocation is retried by the state machine, then fails the execution, which an EventBridge rule publishes to the failure topic; a dead-letter queue would never receive anything.',
      },
    );
  }

  private grantStepPermissions(props: KmsKeyChangeWorkflowProps, targetRegion: string, crossRegion: boolean): void {
    const stack = Stack.of(this);
    const id = this.sourceId;
    const arn = (region: string, resource: string, name: string) => stack.formatArn({ service: 'rds', region, resource, resourceName: name, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    const regions = crossRegion ? [stack.region, targetRegion] : [stack.region];
    const role = this.stepFunction.role!;
    const wildcards: string[] = [];
    const add = (sid: string, actions: string[], resources: string[], conditions?: Record<string, Record<string, unknown>>) => {
      role.addToPrincipalPolicy(new iam.PolicyStatement({ sid, actions, resources, conditions }));
      wildcards.push(...resources.filter((r) => r.includes('*')));
    };
    const describe = [
      'rds:DescribeDBInstances', 'rds:DescribeDBClusters', 'rds:DescribeDBSnapshots', 'rds:DescribeDBClusterSnapshots', 'rds:DescribeGlobalClusters',
      'rds:DescribeDBProxies', 'rds:DescribeDBProxyTargets', 'rds:DescribeBlueGreenDeployments', 'rds:DescribeDBParameterGroups',
      'rds:DescribeDBClusterParameterGroups', 'rds:DescribeOptionGroups', 'rds:DescribeDBSubnetGroups',
    ];
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'ReadOnlyDescribe', actions: describe, resources: ['*'] }));

    // RDS writes are scoped by the run tag, not by names: a database that only shares the name prefix
    // (orders-db-reporting next to orders-db) carries no `db-ops-kit:rekey-source=<id>` tag, so the
    // role cannot touch it. Existing resources: aws:ResourceTag/<key> (RDS db, cluster, snapshot,
    // cluster-snapshot and deployment resources support it); creates: aws:RequestTag/<key> (the create
    // actions support it, and a create with Tags is also authorized as rds:AddTagsToResource).
    // https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonrds.html
    // https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/security_iam_id-based-policy-examples-grant-permissions-tags-on-create.html
    // The one bootstrap write (RunTagOnSource) puts the tag on exactly the configured source ARN.
    const runTagged = { StringEquals: { [`aws:ResourceTag/${RUN_SOURCE_TAG}`]: id } };
    const taggedAtCreate = { StringEquals: { [`aws:RequestTag/${RUN_SOURCE_TAG}`]: id } };
    const snapType = this.kind === 'instance' ? 'snapshot' : 'cluster-snapshot';
    const dbType = this.kind === 'instance' ? 'db' : 'cluster';
    const rekeySnapshots = regions.map((r) => arn(r, snapType, `${id}-rekey-*`));
    const groups = (r: string) => [arn(r, 'pg', '*'), arn(r, 'og', '*'), arn(r, 'subgrp', '*'), arn(r, 'secgrp', '*'), arn(r, 'cluster-pg', '*')];
    const newNames = crossRegion ? [arn(targetRegion, dbType, id)] : [arn(stack.region, dbType, `${id}-rekey-*`)];
    // Names the run creates (tag-on-create is authorized per name): Aurora members are <member>-rekey-<run>
    // in the same Region, their own names in another Region (not known at synth time there).
    const newMemberNames = this.kind === 'cluster' ? [crossRegion ? arn(targetRegion, 'db', '*') : arn(stack.region, 'db', '*-rekey-*')] : [];
    const anyOf = (types: string[], rs: string[] = regions) => rs.flatMap((r) => types.map((t) => arn(r, t, '*')));
    const dbTypes = this.kind === 'instance' ? ['db'] : ['cluster', 'db'];

    // Also the run's renamed original (<id>-pre-rekey-<run>, same-Region snapshot cutover): if another
    // principal strips its run tag, the rollback that renames it back must be able to put the tag back
    // (lambda/kms-key-change/lock.ts reassertRunTag). Only these two keys, only this source's value.
    const preRekey = this.method === 'snapshot' && !crossRegion && !props.shareWithAccount ? [arn(stack.region, dbType, `${id}-pre-rekey-*`)] : [];
    add('RunTagOnSource', ['rds:AddTagsToResource'], [arn(stack.region, dbType, id), ...preRekey], {
      ...taggedAtCreate,
      'ForAllValues:StringEquals': { 'aws:TagKeys': [RUN_SOURCE_TAG, LOCK_TAG] },
    });
    if (this.method === 'snapshot' && this.kind === 'cluster' && !crossRegion && !props.shareWithAccount) {
      // The cutover renames the source's member instances, whose names are not known at synth time: the
      // lock gives them the run tag (that key only, the source's value only). This cannot be pinned to
      // the members (RDS has no condition key for cluster membership): it keeps a wrong identifier in
      // the code from touching an untagged instance, and a deliberate tag-then-modify is two separate
      // CloudTrail events naming db-ops-kit:rekey-source.
      add('RunTagOnSourceMembers', ['rds:AddTagsToResource'], [arn(stack.region, 'db', '*')], {
        ...taggedAtCreate,
        'ForAllValues:StringEquals': { 'aws:TagKeys': [RUN_SOURCE_TAG] },
      });
    }
    if (this.method === 'snapshot') {
      add('SnapshotOfRunSource', [this.kind === 'instance' ? 'rds:CreateDBSnapshot' : 'rds:CreateDBClusterSnapshot'], [arn(stack.region, dbType, '*')], runTagged);
      add('SnapshotTaggedAtCreate', [this.kind === 'instance' ? 'rds:CreateDBSnapshot' : 'rds:CreateDBClusterSnapshot'], [arn(stack.region, snapType, `${id}-rekey-*`)], taggedAtCreate);
      // Source and target of the copy are both snapshots of this run (<id>-rekey-*); the request carries the tag.
      add('CopyWithTargetKey', [this.kind === 'instance' ? 'rds:CopyDBSnapshot' : 'rds:CopyDBClusterSnapshot'], rekeySnapshots, taggedAtCreate);
      if (this.kind === 'instance' && crossRegion) add('CopyAttachesOptionGroup', ['rds:CopyDBSnapshot'], groups(targetRegion).filter((g) => g.includes(':og:')));
      const tagOnCreate = [...rekeySnapshots];
      if (props.shareWithAccount) {
        add('ShareCopy', [this.kind === 'instance' ? 'rds:ModifyDBSnapshotAttribute' : 'rds:ModifyDBClusterSnapshotAttribute'], rekeySnapshots, runTagged);
      } else {
        const restore = this.kind === 'instance' ? ['rds:RestoreDBInstanceFromDBSnapshot'] : ['rds:RestoreDBClusterFromSnapshot', 'rds:CreateDBInstance'];
        add('RestoreCreatesTagged', restore, anyOf(dbTypes, [targetRegion]), taggedAtCreate);
        // The restore reads the run's snapshot; an Aurora member joins the run's new cluster.
        add('RestoreFromRunResources', restore, anyOf(this.kind === 'instance' ? ['snapshot'] : ['cluster-snapshot', 'cluster'], [targetRegion]), runTagged);
        add('RestoreAttachesGroups', restore, groups(targetRegion));
        const modify = this.kind === 'instance' ? ['rds:ModifyDBInstance', 'rds:AddRoleToDBInstance'] : ['rds:ModifyDBCluster', 'rds:AddRoleToDBCluster', 'rds:ModifyDBInstance'];
        // Settings of the new resource, the freeze's security-group swap on the source, the cutover and rollback renames.
        add('ApplySettingsAndRename', modify, anyOf(dbTypes), runTagged);
        add('ModifyAttachesGroups', modify, groups(targetRegion));
        tagOnCreate.push(...newNames, ...newMemberNames);
      }
      add('TagOnCreate', ['rds:AddTagsToResource'], tagOnCreate, taggedAtCreate);
    } else {
      // Blue/green: the deployment is created from the run-tagged source and tagged at creation; the
      // switchover acts on that deployment only.
      add('BlueGreenFromRunSource', ['rds:CreateBlueGreenDeployment'], anyOf([dbType]), runTagged);
      add('BlueGreenTaggedAtCreate', ['rds:CreateBlueGreenDeployment', 'rds:AddTagsToResource'], [arn(stack.region, 'deployment', '*')], taggedAtCreate);
      add('SwitchoverRunDeployment', ['rds:SwitchoverBlueGreenDeployment'], [arn(stack.region, 'deployment', '*')], runTagged);
      // The actions RDS performs with the caller's permissions to build and promote the green
      // environment. The RDS/Aurora user guides ("Authorizing access to blue/green deployment
      // operations"): RDS names the green resources itself, so policies "can't contain partial
      // resource name patterns such as my-db-prefix-*. Only wildcards (*) are supported." The green
      // resources do not exist (and carry no tag of this run) when they are authorized, so no tag
      // condition can apply; the function itself never calls these.
      add(
        'BlueGreenDependentActions',
        [
          'rds:AddTagsToResource',
          ...(this.kind === 'instance'
            ? ['rds:CreateDBInstanceReadReplica', 'rds:PromoteReadReplica', 'rds:ModifyDBInstance']
            : ['rds:CreateDBCluster', 'rds:CreateDBInstance', 'rds:CreateDBClusterEndpoint', 'rds:ModifyDBCluster', 'rds:PromoteReadReplicaDBCluster', 'rds:ModifyDBInstance']),
        ],
        [arn(stack.region, 'db', '*'), ...(this.kind === 'cluster' ? [arn(stack.region, 'cluster', '*'), arn(stack.region, 'cluster-endpoint', '*')] : []), ...groups(stack.region)],
      );
    }
    // Finalize tags what the run kept (all of it carries the run tag) with the kit's tags only.
    add('TagRunResources', ['rds:AddTagsToResource'], anyOf([...dbTypes, snapType]), {
      StringEquals: { ...runTagged.StringEquals, ...taggedAtCreate.StringEquals },
      'ForAllValues:StringEquals': { 'aws:TagKeys': ['db-ops-kit:rekey-run', RUN_SOURCE_TAG, 'db-ops-kit:rekey-role', 'db-ops-kit:rekey-kept'] },
    });
    if (this.method === 'snapshot' && !crossRegion && !props.shareWithAccount) {
      // The write freeze (lambda/kms-key-change/freeze.ts): a new security group, created with the
      // run's tags, then set as the source's only group (ModifyDB* above); read-back of the group and
      // of DatabaseConnections. EC2 tag-on-create needs ec2:CreateTags for the CreateSecurityGroup action
      // (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/supported-iam-actions-tagging.html).
      const sgArn = stack.formatArn({ service: 'ec2', resource: 'security-group', resourceName: '*' });
      add('FreezeGroupCreate', ['ec2:CreateSecurityGroup'], [sgArn], { StringEquals: { [`aws:RequestTag/db-ops-kit:rekey-source`]: id } });
      add('FreezeGroupInVpc', ['ec2:CreateSecurityGroup'], [stack.formatArn({ service: 'ec2', resource: 'vpc', resourceName: '*' })]);
      add('FreezeGroupTagOnCreate', ['ec2:CreateTags'], [sgArn], { StringEquals: { 'ec2:CreateAction': 'CreateSecurityGroup' } });
      role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'FreezeReadGroupsAndConnections', actions: ['ec2:DescribeSecurityGroups', 'cloudwatch:GetMetricStatistics'], resources: ['*'] }));
    }
    // The run lock (lambda/kms-key-change/lock.ts): one tag on the source, on the name it gets at
    // cutover and on the re-keyed copy (all run-tagged; the source's first lock comes with the run tag,
    // RunTagOnSource above). Add/Remove are limited to that one tag key.
    add('RunLockRead', ['rds:ListTagsForResource'], [arn(stack.region, dbType, id), arn(stack.region, dbType, `${id}-*`)]);
    add('RunLockTag', ['rds:AddTagsToResource', 'rds:RemoveTagsFromResource'], anyOf([dbType], [stack.region]), { ...runTagged, 'ForAllValues:StringEquals': { 'aws:TagKeys': [LOCK_TAG] } });
    if (props.passRoles?.length) {
      role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'PassMonitoringAndFeatureRoles', actions: ['iam:PassRole'], resources: props.passRoles.map((r) => r.roleArn), conditions: { StringEquals: { 'iam:PassedToService': ['rds.amazonaws.com', 'monitoring.rds.amazonaws.com'] } } }));
    }
    // Keys: RDS creates grants on both keys for the copy/restore; the function reads the target key's policy.
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'TargetKeyRead', actions: ['kms:DescribeKey', 'kms:GetKeyPolicy'], resources: [props.targetKey.keyArn] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'SourceKeyRead', actions: ['kms:DescribeKey'], resources: [props.sourceKey.keyArn] }));
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'KeysUseThroughRds',
        actions: ['kms:CreateGrant', 'kms:Decrypt', 'kms:Encrypt', 'kms:ReEncryptFrom', 'kms:ReEncryptTo', 'kms:GenerateDataKey', 'kms:GenerateDataKeyWithoutPlaintext'],
        resources: [props.sourceKey.keyArn, props.targetKey.keyArn],
        conditions: { StringLike: { 'kms:ViaService': regions.map((r) => `rds.${r}.amazonaws.com`) } },
      }),
    );
    const policy = role.node.tryFindChild('DefaultPolicy') ?? role;
    for (const w of [...new Set(['*', ...wildcards])]) {
      Validations.of(policy).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${nagResource(w)}]`,
        reason: nagReason(w),
      });
    }
  }

  /** Lets a principal start runs of this workflow (e.g. the operator role). */
  public grantStartExecution(grantee: iam.IGrantable): iam.Grant {
    return this.stateMachine.grantStartExecution(grantee);
  }

  /** Lets a principal resume a failed run at its failed step (states:RedriveExecution on this workflow's executions). */
  public grantRedrive(grantee: iam.IGrantable): iam.Grant {
    return this.stateMachine.grantExecution(grantee, 'states:RedriveExecution');
  }

  /** Lets a principal approve or reject the cutover gate (SendTaskSuccess/SendTaskFailure). */
  public grantApprove(grantee: iam.IGrantable): iam.Grant {
    return this.stateMachine.grantTaskResponse(grantee);
  }

  /** Lets a principal receive approval requests and failure messages (subscribe + decrypt). */
  public grantNotifications(grantee: iam.IGrantable): void {
    this.approvalTopic.grantSubscribe(grantee);
    this.failureTopic.grantSubscribe(grantee);
    this.notificationKey.grantDecrypt(grantee);
  }
}

/** How cdk-nag prints a resource string: pseudo-parameter tokens become `<AWS::Name>`. */
function nagResource(resource: string): string {
  return resource.replace(/\$\{Token\[AWS\.(\w+)\.\d+\]\}/g, '<AWS::$1>');
}

function nagReason(resource: string): string {
  if (resource === '*') return 'rds:Describe* calls (instances, clusters, snapshots, proxies, global clusters, blue/green deployments, groups), ec2:DescribeSecurityGroups and cloudwatch:GetMetricStatistics (the write freeze\'s proof) are read-only and support no resource scoping; writes are scoped below.';
  if (/:security-group\/\*$/.test(resource)) return 'The freeze security group gets its id from EC2 at creation; creation is allowed only with the tag db-ops-kit:rekey-source=<this database>, and tagging only as part of that creation.';
  if (/:vpc\/\*$/.test(resource)) return 'The freeze group is created in the source\'s VPC, read from the source at run time.';
  if (/:(pg|og|subgrp|secgrp|cluster-pg):\*$/.test(resource)) return 'A restore/modify must reference the source\'s parameter, option, subnet and security groups, whose names are read from the source at run time; these grants only allow attaching them.';
  if (/:deployment:\*$/.test(resource)) return 'Blue/green deployment ids are generated by RDS at creation time; the deployment is created from exactly the named source.';
  if (/:(db|cluster|snapshot|cluster-snapshot|cluster-endpoint|deployment):\*$/.test(resource)) {
    return 'RDS writes on these resources are allowed only with the run tag: aws:ResourceTag/db-ops-kit:rekey-source = <this database> on resources (the source gets it with the run lock, on its exact ARN only), aws:RequestTag/db-ops-kit:rekey-source on creates. Blue/green only: RDS names and creates the green resources itself with the caller\'s permissions, and the user guide says such policies cannot use name prefixes, only * (statement BlueGreenDependentActions, the actions the function never calls itself).';
  }
  if (/-rekey-\*$/.test(resource)) return 'Tag-on-create and copies of the snapshots and resources this run creates (<id>-rekey-<run>, <member>-rekey-<run>); every such write also requires aws:RequestTag/db-ops-kit:rekey-source = <this database>.';
  return 'Names of the snapshots and the re-keyed copy are derived at run time from the named source and the run id (<id>-rekey-<time>, <id>-pre-rekey-<time>); the prefix scopes them to this database.';
}
