import type { CdkCustomResourceEvent } from 'aws-lambda';

/** A CloudFormation custom-resource event as the CDK Provider framework hands it to a handler. */
export function crEvent(
  type: 'Create' | 'Update' | 'Delete',
  resource: { logicalId: string; resourceType: string; stack: string; region: string },
  properties: Record<string, unknown>,
  extra: Partial<any> = {},
): CdkCustomResourceEvent {
  return {
    RequestType: type,
    ServiceToken: `arn:aws:lambda:${resource.region}:123456789012:function:x`,
    ResponseURL: 'https://example.invalid',
    StackId: `arn:aws:cloudformation:${resource.region}:123456789012:stack/${resource.stack}/1`,
    RequestId: 'req-1',
    LogicalResourceId: resource.logicalId,
    ResourceType: resource.resourceType,
    ResourceProperties: { ServiceToken: 'x', ...properties },
    ...extra,
  } as CdkCustomResourceEvent;
}
