import { CfnOutput, Stack, StackProps, aws_sns as sns, aws_sns_subscriptions as subs } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { RdsProxyLambda, RdsProxyLambdaProps } from './rds-proxy-lambda';

/** Props of {@link RdsProxyLambdaStack}. */
export interface RdsProxyLambdaStackProps extends StackProps {
  /**
   * Settings of the pattern construct.
   * @default - the construct's defaults (new VPC, new Aurora Serverless v2 cluster, IAM auth)
   */
  readonly pattern?: RdsProxyLambdaProps;
  /**
   * E-mail address subscribed to the alarm topic (the subscription must be confirmed).
   * @default - no subscription; subscribe to the `AlarmTopicArn` output yourself
   */
  readonly alarmEmail?: string;
}

/** Stack `DbOpsRdsProxyLambda`: pattern 1, Aurora PostgreSQL behind RDS Proxy with a query Lambda. */
export class RdsProxyLambdaStack extends Stack {
  public readonly pattern: RdsProxyLambda;

  constructor(scope: Construct, id: string, props: RdsProxyLambdaStackProps = {}) {
    super(scope, id, { description: 'db-ops-kit pattern 1: Aurora PostgreSQL + RDS Proxy + Lambda', ...props });
    this.pattern = new RdsProxyLambda(this, 'RdsProxyLambda', props.pattern);
    if (props.alarmEmail) {
      (this.pattern.alarmTopic as sns.Topic).addSubscription(new subs.EmailSubscription(props.alarmEmail));
    }
    new CfnOutput(this, 'ProxyEndpoint', { value: this.pattern.proxy.endpoint, description: 'RDS Proxy endpoint (TLS required)' });
    new CfnOutput(this, 'QueryFunctionName', { value: this.pattern.fn.functionName, description: 'Invoke with {"query":"health"}' });
    new CfnOutput(this, 'AppSecretArn', { value: this.pattern.appSecret.secretArn, description: 'Application role secret (registered with the proxy)' });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.pattern.alarmTopic.topicArn });
  }
}
