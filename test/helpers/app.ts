import { App, AppProps } from 'aws-cdk-lib';
import { cdkJsonContext } from '../../bin/pattern';

/**
 * An App with the committed cdk.json context (the CDK feature flags and the kit's keys), so tests synthesize
 * what `npx cdk synth` deploys. Context given in `props` wins over cdk.json.
 */
export function testApp(props: AppProps = {}): App {
  return new App({ ...props, context: { ...cdkJsonContext(), ...(props.context ?? {}) } });
}
