/**
 * The key-policy statement every key the kit creates carries for Control Tower's CT.KMS.PR.3: nobody may
 * create a grant on the key unless it is for an AWS resource or made by an AWS service.
 * https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-grant-is-for-aws-resource
 */
export const DENY_GRANTS_STATEMENT = {
  Sid: 'DenyGrantsExceptForAwsResources',
  Effect: 'Deny',
  Principal: { AWS: '*' },
  Action: 'kms:CreateGrant',
  Resource: '*',
  Condition: { BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' } },
};
