import * as fs from 'fs';
import * as path from 'path';
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { allowCloudWatchLogs } from './aurora';

/** Runtime code of this pattern; resolved relative to this file so `lib/ad-trust` + `lambda/ad-trust` can be copied together. */
export const LAMBDA_DIR = path.join(__dirname, '../../lambda/ad-trust');

/** Props of {@link HandlerPair}. */
export interface HandlerPairProps {
  /** File in lambda/ad-trust that exports `onEvent` and `isComplete`. */
  readonly entry: string;
  /** Description of the functions and their roles (the handler name is appended). */
  readonly description: string;
  /** Retention of the log groups of both handlers, the Provider framework and its waiter state machine. */
  readonly logRetention: logs.RetentionDays;
  /** How often the framework calls isComplete. */
  readonly queryInterval: Duration;
  /** Give up (and fail the deployment) after this long. */
  readonly totalTimeout: Duration;
  /**
   * Extra environment variables for both functions (they can override `POWERTOOLS_LOG_LEVEL`).
   * @default - only `POWERTOOLS_LOG_LEVEL=INFO`
   */
  readonly environment?: Record<string, string>;
  /**
   * Folder holding this pattern's runtime code (the handlers of `lambda/ad-trust/`), for apps that keep
   * Lambda code elsewhere; `lambda/shared/` must sit next to it (`<dir>/../shared`).
   * @default - `lambda/ad-trust` two folders up from `lib/ad-trust/` (the kit's layout)
   */
  readonly runtimeCodeDir?: string;
  /**
   * Key for the four log groups (Control Tower CT.CLOUDWATCH.PR.3); a statement letting CloudWatch Logs of this
   * account use it is added to its policy.
   * @default - the log groups use CloudWatch Logs' own encryption
   */
  readonly encryptionKey?: kms.IKey;
}

/**
 * The two handlers of one custom resource (onEvent + isComplete, from one bundled file) and the CDK
 * Provider framework around them, with log groups whose retention is set. The SDK v3 clients the
 * handlers use (Directory Service, Secrets Manager) are provided by the nodejs22.x runtime and are
 * not bundled: the APIs used (AddRegion, DescribeRegions, RemoveRegion, CreateTrust, …) are years
 * older than the runtime's SDK, and a smaller bundle starts faster.
 */
export class HandlerPair extends Construct {
  public readonly onEventFn: NodejsFunction;
  public readonly isCompleteFn: NodejsFunction;
  public readonly provider: cr.Provider;

  constructor(scope: Construct, id: string, props: HandlerPairProps) {
    super(scope, id);
    const entry = path.join(path.resolve(props.runtimeCodeDir ?? LAMBDA_DIR), props.entry);
    if (!fs.existsSync(entry)) throw new Error(`[${this.node.path}] ${entry} does not exist: point runtimeCodeDir at your copy of lambda/ad-trust/`);
    // Roles without the AWS managed AWSLambdaBasicExecutionRole: each may write only to its own log group.
    if (props.encryptionKey) allowCloudWatchLogs(this, props.encryptionKey, 'the custom resource handler log groups');
    const roleFor = (name: string, logGroup: logs.ILogGroup) => {
      const role = new iam.Role(this, `${name}Role`, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), description: `${props.description}: ${name}` });
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn, `${logGroup.logGroupArn}:log-stream:*`] }));
      return role;
    };
    const common = (handler: 'onEvent' | 'isComplete') => {
      const logGroup = new logs.LogGroup(this, `${handler}Logs`, { retention: props.logRetention, encryptionKey: props.encryptionKey, removalPolicy: RemovalPolicy.DESTROY });
      const fn = new NodejsFunction(this, handler === 'onEvent' ? 'OnEvent' : 'IsComplete', {
        entry,
        handler,
        description: `${props.description} (${handler})`,
        runtime: lambda.Runtime.NODEJS_22_X,
        architecture: lambda.Architecture.ARM_64,
        memorySize: 256,
        timeout: Duration.minutes(2),
        role: roleFor(handler, logGroup),
        logGroup,
        loggingFormat: lambda.LoggingFormat.JSON,
        tracing: lambda.Tracing.ACTIVE,
        environment: { POWERTOOLS_LOG_LEVEL: 'INFO', ...(props.environment ?? {}) },
        bundling: { minify: true, sourceMap: true, externalModules: ['@aws-sdk/*'] },
      });
      return fn;
    };
    this.onEventFn = common('onEvent');
    this.isCompleteFn = common('isComplete');
    const frameworkLogs = new logs.LogGroup(this, 'ProviderLogs', { retention: props.logRetention, encryptionKey: props.encryptionKey, removalPolicy: RemovalPolicy.DESTROY });
    const waiterLogs = new logs.LogGroup(this, 'WaiterLogs', { retention: props.logRetention, encryptionKey: props.encryptionKey, removalPolicy: RemovalPolicy.DESTROY });
    this.provider = new cr.Provider(this, 'Provider', {
      onEventHandler: this.onEventFn,
      isCompleteHandler: this.isCompleteFn,
      queryInterval: props.queryInterval,
      totalTimeout: props.totalTimeout,
      logGroup: frameworkLogs,
      frameworkOnEventRole: roleFor('FrameworkOnEvent', frameworkLogs),
      frameworkCompleteAndTimeoutRole: roleFor('FrameworkCompleteAndTimeout', frameworkLogs),
      disableWaiterStateMachineLogging: false,
      waiterStateMachineLogOptions: { destination: waiterLogs, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });
    for (const fn of [this.onEventFn, this.isCompleteFn]) {
      Validations.of(fn).acknowledge({
        id: 'Serverless-LambdaDLQ',
        reason: 'Invoked synchronously by the CDK Provider framework, which reports failures to CloudFormation; a DLQ would never receive an event.',
      });
      Validations.of(fn).acknowledge({
        id: 'Serverless-LambdaAsyncFailureDestination',
        reason: 'Invoked synchronously by the CDK Provider framework; failures surface as a failed stack operation, not as lost async events.',
      });
      for (const id of ['AwsSolutions-L1', 'Serverless-LambdaLatestVersion']) {
        Validations.of(fn).acknowledge({
          id,
          reason: 'The kit pins nodejs22.x (an LTS runtime supported by Lambda until 2027) for every function so all patterns are tested on one runtime; moving to a newer runtime is a kit-wide change.',
        });
      }
    }
    // The Provider framework's own functions and waiter state machine are CDK internals (no props for
    // tracing, memory or DLQ); their behaviour is covered by the framework's tests.
    const frameworkReasons: Array<[string, string]> = [
      ['Serverless-LambdaDLQ', 'Provider framework functions are invoked synchronously by CloudFormation and the waiter state machine; failures are reported to CloudFormation.'],
      ['Serverless-LambdaDefaultMemorySize', 'Provider framework functions only relay requests between CloudFormation and the handlers; CDK sizes them and offers no memory setting.'],
      ['Serverless-LambdaTracing', 'Provider framework functions are CDK internals without a tracing option; the handlers they call have X-Ray active tracing.'],
      ['Serverless-LambdaLatestVersion', 'CDK chooses the Provider framework runtime; it is upgraded with aws-cdk-lib.'],
      ['AwsSolutions-L1', 'CDK chooses the Provider framework runtime; it is upgraded with aws-cdk-lib.'],
      ['AwsSolutions-SF2', 'The waiter state machine is a CDK-internal polling loop (wait, invoke isComplete); X-Ray adds no insight and CDK offers no tracing option.'],
      ['Serverless-StepFunctionStateMachineXray', 'The waiter state machine is a CDK-internal polling loop (wait, invoke isComplete); X-Ray adds no insight and CDK offers no tracing option.'],
    ];
    for (const [id, reason] of frameworkReasons) Validations.of(this.provider).acknowledge({ id, reason });
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'X-Ray active tracing (xray:PutTraceSegments/PutTelemetryRecords) and Step Functions log delivery (logs:CreateLogDelivery and related) do not support resource-level permissions.',
    });
    const functions = this.node.findAll().filter((c): c is lambda.CfnFunction => c instanceof lambda.CfnFunction);
    for (const cfn of functions) {
      Validations.of(this).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(cfn)}.Arn>:*]`,
        reason: 'lambda:InvokeFunction on this function\'s versions and aliases (ARN:*), granted by the Provider framework so it can call exactly this handler.',
      });
    }
    for (const lg of this.node.findAll().filter((c): c is logs.CfnLogGroup => c instanceof logs.CfnLogGroup)) {
      Validations.of(this).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(lg)}.Arn>:log-stream:*]`,
        reason: 'Each function may create streams and put events only in its own log group; stream names are chosen by Lambda at run time.',
      });
    }
  }

  /** Adds a statement to both handlers' roles: use it for read-only actions that both need. */
  addToRolePolicy(statement: iam.PolicyStatement): void {
    this.onEventFn.addToRolePolicy(statement);
    this.isCompleteFn.addToRolePolicy(statement);
  }

  /** Adds a statement to the onEvent (create/update/delete) role only: write actions go here. */
  addToOnEventPolicy(statement: iam.PolicyStatement): void {
    this.onEventFn.addToRolePolicy(statement);
  }

  /** Adds a statement to the isComplete (polling) role only. */
  addToIsCompletePolicy(statement: iam.PolicyStatement): void {
    this.isCompleteFn.addToRolePolicy(statement);
  }

  get serviceToken(): string {
    return this.provider.serviceToken;
  }
}
