import { CfnOutput, Stack, StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { KeyChangeMethod, KmsKeyChangeWorkflow } from './kms-key-change-workflow';

/** Props of {@link KmsKeyChangeStack}: plain identifiers and ARNs, as cdk.json context holds them. */
export interface KmsKeyChangeStackProps extends StackProps {
  /** The DB instance to re-key. Exactly one of this and `dbClusterIdentifier`. @default - none; pass `dbClusterIdentifier` */
  readonly dbInstanceIdentifier?: string;
  /** The Aurora DB cluster to re-key. @default - none; pass `dbInstanceIdentifier` */
  readonly dbClusterIdentifier?: string;
  /** ARN of the key the database uses today. */
  readonly sourceKeyArn: string;
  /** ARN of the key to move to (in `targetRegion` when set). */
  readonly targetKeyArn: string;
  /** @default 'snapshot' */
  readonly method?: KeyChangeMethod;
  /** @default - the stack's Region */
  readonly targetRegion?: string;
  /** @default - no sharing */
  readonly shareWithAccount?: string;
  /** @default - none (required for cross-Region when the source has security groups) */
  readonly targetSecurityGroupIds?: string[];
  /** ARNs of the enhanced-monitoring role and the source's associated IAM roles. @default - none */
  readonly passRoleArns?: string[];
  /** The IAM role/user ARN that approves the gates (see KmsKeyChangeWorkflowProps.approverArn). @default - no named approver */
  readonly approverArn?: string;
}

/** `DbOpsKmsKeyChange`: the KMS key change workflow for one database, configured from context. */
export class KmsKeyChangeStack extends Stack {
  public readonly workflow: KmsKeyChangeWorkflow;

  constructor(scope: Construct, id: string, props: KmsKeyChangeStackProps) {
    super(scope, id, { description: 'db-ops-kit: change the KMS key of an RDS instance or Aurora cluster (Step Functions)', ...props });
    this.workflow = new KmsKeyChangeWorkflow(this, 'KmsKeyChange', {
      dbInstanceIdentifier: props.dbInstanceIdentifier,
      dbClusterIdentifier: props.dbClusterIdentifier,
      sourceKey: kms.Key.fromKeyArn(this, 'SourceKey', props.sourceKeyArn),
      targetKey: kms.Key.fromKeyArn(this, 'TargetKey', props.targetKeyArn),
      method: props.method,
      targetRegion: props.targetRegion,
      shareWithAccount: props.shareWithAccount,
      targetSecurityGroupIds: props.targetSecurityGroupIds,
      approverArn: props.approverArn,
      passRoles: (props.passRoleArns ?? []).map((arn, i) => iam.Role.fromRoleArn(this, `PassRole${i}`, arn, { mutable: false })),
    });
    new CfnOutput(this, 'StateMachineArn', { value: this.workflow.stateMachine.stateMachineArn, description: 'Start with: aws stepfunctions start-execution --input \'{"cutover":false}\'' });
    new CfnOutput(this, 'ApprovalTopicArn', { value: this.workflow.approvalTopic.topicArn, description: 'Subscribe an operator: the cutover approval request (with task token) is published here' });
    new CfnOutput(this, 'FailureTopicArn', { value: this.workflow.failureTopic.topicArn });
  }
}
